#include "app/gc_cli.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "app/wiring.h"
#include "gc/collector.h"

namespace berth::app {
namespace {

// 1536 -> "1.5 KiB": for people; the JSON output carries exact byte counts.
std::string human_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0) {
    std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  }
  return text;
}

Result<std::unique_ptr<Registry>> open_data_dir(const std::string& data_dir) {
  RegistryOptions options;
  options.data_dir = data_dir;
  return Registry::open(options);
}

nlohmann::json report_json(const gc::Report& r, size_t sessions_deleted, bool dry_run) {
  return {{"dryRun", dry_run},
          {"uploadsExpired", r.uploads_expired},
          {"stagedUploadsWithoutSession", r.upload_dirs_removed},
          {"linksDropped", r.links_dropped},
          {"blobsDeleted", r.blobs_deleted},
          {"blobBytesFreed", r.blob_bytes_freed},
          {"unrecordedBlobsDeleted", r.orphans_deleted},
          {"unrecordedBytesFreed", r.orphan_bytes_freed},
          {"uploadBytesFreed", r.upload_bytes_freed},
          {"resumedDeletions", r.resumed_deletions},
          {"expiredSessionKeysDeleted", sessions_deleted},
          {"bytesFreed", r.bytes_freed()}};
}

}  // namespace

int gc_command(const GcCliOptions& options) {
  auto grace = gc::parse_duration_ms(options.grace);
  auto ttl = gc::parse_duration_ms(options.upload_ttl);
  if (!grace || !ttl) {
    std::fprintf(stderr, "berth gc: %s %s\n", !grace ? "--grace:" : "--upload-ttl:",
                 (!grace ? grace : ttl).error().message.c_str());
    return 2;
  }
  auto reg = open_data_dir(options.data_dir);
  if (!reg) {
    std::fprintf(stderr, "berth gc: %s\n", reg.error().message.c_str());
    return 1;
  }
  Registry& r = **reg;
  gc::Collector collector(*r.meta, *r.blobs, *r.uploads, r.clock, r.audit.get());
  gc::Options run{.grace_ms = *grace, .upload_ttl_ms = *ttl, .dry_run = options.dry_run, .batch = 512};
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  gc::Progress progress;
  if (tty) {
    progress = [](std::string_view phase, uint64_t handled) {
      std::fprintf(stderr, "\r\033[Kgc: %.*s: %llu", static_cast<int>(phase.size()), phase.data(),
                   static_cast<unsigned long long>(handled));
      std::fflush(stderr);
    };
  }
  auto report = collector.run(run, progress);
  if (tty) std::fprintf(stderr, "\r\033[K");
  if (!report) {
    std::fprintf(stderr, "berth gc: %s\n", report.error().message.c_str());
    return 1;
  }
  auto sessions = r.identity->delete_expired_sessions(options.dry_run);
  if (!sessions) {
    std::fprintf(stderr, "berth gc: expired session keys: %s\n", sessions.error().message.c_str());
    return 1;
  }
  if (options.json) {
    std::printf("%s\n", report_json(*report, *sessions, options.dry_run).dump(2).c_str());
    return 0;
  }
  const char* verb = options.dry_run ? "would delete" : "deleted";
  std::printf("%s%s %llu blobs (%s) no manifest references\n", options.dry_run ? "dry run: " : "", verb,
              static_cast<unsigned long long>(report->blobs_deleted), human_bytes(report->blob_bytes_freed).c_str());
  std::printf("%s %llu stored blobs the metadata never recorded (%s)\n", verb,
              static_cast<unsigned long long>(report->orphans_deleted),
              human_bytes(report->orphan_bytes_freed).c_str());
  std::printf("%s %llu repository links no manifest uses\n", verb,
              static_cast<unsigned long long>(report->links_dropped));
  std::printf("%s %llu uploads idle for more than %s, and %llu staged uploads without a session (%s)\n", verb,
              static_cast<unsigned long long>(report->uploads_expired), options.upload_ttl.c_str(),
              static_cast<unsigned long long>(report->upload_dirs_removed),
              human_bytes(report->upload_bytes_freed).c_str());
  std::printf("%s %llu access keys of role sessions that have expired\n", verb,
              static_cast<unsigned long long>(*sessions));
  std::printf("%s %s in total\n", options.dry_run ? "would free" : "freed", human_bytes(report->bytes_freed()).c_str());
  return 0;
}

int storage_command(const StorageCliOptions& options) {
  auto reg = open_data_dir(options.data_dir);
  if (!reg) {
    std::fprintf(stderr, "berth storage: %s\n", reg.error().message.c_str());
    return 1;
  }
  auto usage = (*reg)->meta->storage_usage();
  if (!usage) {
    std::fprintf(stderr, "berth storage: %s\n", usage.error().message.c_str());
    return 1;
  }
  if (options.json) {
    nlohmann::json repos = nlohmann::json::array();
    for (const auto& u : usage->repositories) {
      repos.push_back({{"repositoryName", u.repository},
                       {"imageCount", u.manifests},
                       {"manifestBytes", u.manifest_bytes},
                       {"blobCount", u.blobs},
                       {"blobBytes", u.blob_bytes},
                       {"sizeInBytes", u.blob_bytes + u.manifest_bytes}});
    }
    nlohmann::json out = {{"blobCount", usage->blobs},
                          {"blobBytes", usage->blob_bytes},
                          {"manifestCount", usage->manifests},
                          {"manifestBytes", usage->manifest_bytes},
                          {"sizeInBytes", usage->blob_bytes + usage->manifest_bytes},
                          {"repositories", repos}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-40s %8s %8s %12s\n", "REPOSITORY", "IMAGES", "BLOBS", "SIZE");
  for (const auto& u : usage->repositories) {
    std::printf("%-40s %8llu %8llu %12s\n", u.repository.c_str(), static_cast<unsigned long long>(u.manifests),
                static_cast<unsigned long long>(u.blobs), human_bytes(u.blob_bytes + u.manifest_bytes).c_str());
  }
  std::printf("%-40s %8llu %8llu %12s\n", "(registry: each blob once)", static_cast<unsigned long long>(usage->manifests),
              static_cast<unsigned long long>(usage->blobs),
              human_bytes(usage->blob_bytes + usage->manifest_bytes).c_str());
  return 0;
}

}  // namespace berth::app
