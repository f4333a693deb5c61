#include "gc/collector.h"

#include <charconv>
#include <limits>
#include <string>
#include <unordered_map>

#include "core/log.h"

namespace berth::gc {
namespace {

// A page of rows or listings (both have digest and size), as the digests to act on and
// the sizes to report them with.
struct Page {
  std::vector<Digest> digests;
  std::unordered_map<Digest, uint64_t> sizes;

  template <class Row>
  explicit Page(const std::vector<Row>& rows) {
    for (const Row& row : rows) {
      digests.push_back(row.digest);
      sizes.emplace(row.digest, row.size);
    }
  }
  void count(const std::vector<Digest>& done, uint64_t& items, uint64_t& bytes) const {
    for (const Digest& d : done) {
      ++items;
      bytes += sizes.at(d);
    }
  }
};

}  // namespace

Result<Report> Collector::run(const Options& options, const Progress& progress) {
  if (options.grace_ms < 0 || options.upload_ttl_ms < 0 || options.batch == 0) {
    return fail(ErrorCode::kInvalidParameter, "grace, upload TTL and batch size must not be negative or zero");
  }
  auto log = log::get("gc");
  Report report;
  const int64_t cutoff_ms = clock_.now_ms() - options.grace_ms;
  if (!options.dry_run) {
    // A collector that stopped between marking and unmarking left these; their bytes
    // may be half deleted, and no link can be made to them until they are finished.
    BERTH_TRY(auto pending, meta_.pending_blob_deletions());
    if (!pending.empty()) {
      BERTH_TRY(auto done, delete_blobs(pending));
      report.resumed_deletions = done.size();
    }
  }
  BERTH_TRY_VOID(collect_uploads(options, report, progress));
  BERTH_TRY_VOID(collect_links(options, cutoff_ms, report, progress));
  BERTH_TRY_VOID(collect_blobs(options, cutoff_ms, report, progress));
  BERTH_TRY_VOID(collect_orphans(options, report, progress));
  log->info("gc{}: {} uploads expired, {} staged uploads without a session, {} links dropped, {} blobs ({} bytes) "
            "and {} unrecorded blobs ({} bytes) {}",
            options.dry_run ? " (dry run)" : "", report.uploads_expired, report.upload_dirs_removed,
            report.links_dropped, report.blobs_deleted, report.blob_bytes_freed, report.orphans_deleted,
            report.orphan_bytes_freed, options.dry_run ? "would be deleted" : "deleted");
  return report;
}

Result<void> Collector::collect_uploads(const Options& options, Report& report, const Progress& progress) {
  const int64_t idle_before = clock_.now_ms() - options.upload_ttl_ms;
  if (options.dry_run) {
    BERTH_TRY(auto idle, meta_.uploads_idle_since(idle_before));
    report.uploads_expired = idle.size();
  } else {
    BERTH_TRY(report.uploads_expired, uploads_.expire(idle_before));
    if (report.uploads_expired > 0) {
      audit("gc:ExpireUploads", {{"uploads", report.uploads_expired}, {"idleBeforeMs", idle_before}});
    }
  }
  // A staged upload whose session row is gone can never be used again: the row is
  // written before the staged upload and deleted before it (UploadService), so no
  // request is between the two.
  BERTH_TRY(auto staged, blobs_.list_uploads());
  for (const std::string& id : staged) {
    auto session = meta_.get_upload(id);
    if (session) continue;
    if (session.error().code != ErrorCode::kBlobUploadUnknown) return tl::unexpected(session.error());
    uint64_t size = 0;
    if (auto reader = blobs_.open_upload(id)) size = (*reader)->size();
    if (!options.dry_run) {
      BERTH_TRY_VOID(blobs_.delete_upload(id));
      audit("gc:DeleteStagedUpload", {{"uploadId", id}, {"bytes", size}});
    }
    ++report.upload_dirs_removed;
    report.upload_bytes_freed += size;
  }
  if (progress) progress("uploads", report.uploads_expired + report.upload_dirs_removed);
  return {};
}

Result<void> Collector::collect_links(const Options& options, int64_t cutoff_ms, Report& report,
                                      const Progress& progress) {
  if (options.dry_run) {
    BERTH_TRY(auto stale, meta_.stale_blob_links(cutoff_ms, std::numeric_limits<size_t>::max()));
    report.links_dropped = stale.size();
    return {};
  }
  while (true) {
    BERTH_TRY(auto dropped, meta_.drop_stale_blob_links(cutoff_ms, options.batch));
    report.links_dropped += dropped.size();
    if (!dropped.empty()) {
      nlohmann::json links = nlohmann::json::array();
      for (const auto& l : dropped) links.push_back({{"repository", l.repository}, {"digest", l.digest.str()}});
      audit("gc:DropRepositoryLinks", {{"links", std::move(links)}, {"linkedBeforeMs", cutoff_ms}});
    }
    if (progress) progress("links", report.links_dropped);
    if (dropped.size() < options.batch) return {};
  }
}

Result<void> Collector::collect_blobs(const Options& options, int64_t cutoff_ms, Report& report,
                                      const Progress& progress) {
  // The dry run still sees the links a real run would have dropped: ignore them.
  const int64_t links_before = options.dry_run ? cutoff_ms : 0;
  std::string after;
  while (true) {
    BERTH_TRY(auto page, meta_.unreferenced_blobs(links_before, after, options.batch));
    if (page.empty()) return {};
    after = page.back().digest.str();
    const Page rows(page);
    std::vector<Digest> deleted = rows.digests;
    if (!options.dry_run) {
      BERTH_TRY(deleted, delete_blobs(rows.digests));
    }
    rows.count(deleted, report.blobs_deleted, report.blob_bytes_freed);
    if (progress) progress("blobs", report.blobs_deleted);
    if (page.size() < options.batch) return {};
  }
}

Result<void> Collector::collect_orphans(const Options& options, Report& report, const Progress& progress) {
  std::string after;
  while (true) {
    BERTH_TRY(auto page, blobs_.list_blobs(after, options.batch));
    if (page.empty()) return {};
    after = page.back().digest.str();
    const Page listed(page);
    BERTH_TRY(auto unrecorded, meta_.unrecorded_blobs(listed.digests));
    if (!options.dry_run && !unrecorded.empty()) {
      BERTH_TRY(unrecorded, delete_blobs(unrecorded));
    }
    listed.count(unrecorded, report.orphans_deleted, report.orphan_bytes_freed);
    if (progress) progress("orphans", report.orphans_deleted);
    if (page.size() < options.batch) return {};
  }
}

// Mark in one transaction (which re-checks every digest), delete the bytes of the
// marked ones only, then unmark. A crash in between leaves marks that the next run
// finishes first; an upload of a marked digest waits for the unmark.
Result<std::vector<Digest>> Collector::delete_blobs(const std::vector<Digest>& digests) {
  BERTH_TRY(auto marked, meta_.begin_blob_deletions(digests, clock_.now_ms()));
  for (const Digest& d : marked) {
    BERTH_TRY_VOID(blobs_.remove(d));
  }
  if (!marked.empty()) {
    BERTH_TRY_VOID(meta_.end_blob_deletions(marked));
    nlohmann::json deleted = nlohmann::json::array();
    for (const Digest& d : marked) deleted.push_back(d.str());
    audit("gc:DeleteBlobs", {{"digests", std::move(deleted)}});
  }
  return marked;
}

void Collector::audit(const char* action, nlohmann::json detail) {
  if (audit_ == nullptr) return;
  observe::AuditRecord r;
  r.source = "gc";
  r.action = action;
  r.resource = "*";
  r.detail = std::move(detail);
  audit_->record(r);
}

Result<int64_t> parse_duration_ms(std::string_view text) {
  auto invalid = [&] {
    return fail(ErrorCode::kInvalidParameter, "invalid duration '" + std::string(text) +
                                                  "': use a whole number with a unit s, m, h or d (e.g. 30m), or 0");
  };
  if (text == "0") return 0;
  if (text.size() < 2) return invalid();
  int64_t unit_ms = 0;
  switch (text.back()) {
    case 's':
      unit_ms = 1000;
      break;
    case 'm':
      unit_ms = 60'000;
      break;
    case 'h':
      unit_ms = 3'600'000;
      break;
    case 'd':
      unit_ms = 86'400'000;
      break;
    default:
      return invalid();
  }
  const std::string_view number = text.substr(0, text.size() - 1);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size() || value < 0) return invalid();
  if (value > std::numeric_limits<int64_t>::max() / unit_ms) return invalid();
  return value * unit_ms;
}

}  // namespace berth::gc
