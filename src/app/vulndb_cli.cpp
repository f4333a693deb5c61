#include "app/vulndb_cli.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>

#include <nlohmann/json.hpp>

#include "app/wiring.h"

namespace berth::app {
namespace {

constexpr size_t kIgnoredShown = 10;  // the rest are counted, not listed

Result<std::unique_ptr<Registry>> open_data_dir(const std::string& data_dir) {
  RegistryOptions options;
  options.data_dir = data_dir;
  return Registry::open(options);
}

std::string utc(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

nlohmann::json problems(const std::vector<vulndb::FileProblem>& list) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : list) out.push_back({{"file", p.file}, {"reason", p.reason}});
  return out;
}

}  // namespace

int vulndb_import_command(const VulndbCliOptions& options) {
  auto reg = open_data_dir(options.data_dir);
  if (!reg) {
    std::fprintf(stderr, "berth vulndb import: %s\n", reg.error().message.c_str());
    return 1;
  }
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  bool line_open = false;  // a \r progress line is on the terminal
  auto end_line = [&] {
    if (line_open) std::fprintf(stderr, "\r\033[K");
    line_open = false;
  };
  size_t ignored_shown = 0;
  auto progress = [&](const vulndb::ImportEvent& e) {
    const auto& r = e.so_far;
    using Kind = vulndb::ImportEvent::Kind;
    switch (e.kind) {
      case Kind::kFileSkipped:
        end_line();
        std::fprintf(stderr, "vulndb: skipped %s: %s\n", e.file.c_str(), e.reason.c_str());
        return;
      case Kind::kFileIgnored:
        if (ignored_shown++ >= kIgnoredShown) return;
        end_line();
        std::fprintf(stderr, "vulndb: ignored %s: %s\n", e.file.c_str(), e.reason.c_str());
        return;
      case Kind::kFileRead:
        if (tty && r.files_read % 100 == 0) {
          std::fprintf(stderr, "\r\033[Kvulndb: %llu files read", ull(r.files_read));
          line_open = true;
        } else if (!tty && r.files_read % 1000 == 0) {
          std::fprintf(stderr, "vulndb: %llu files read\n", ull(r.files_read));
        }
        break;
      case Kind::kStored:
        end_line();
        std::fprintf(stderr, "vulndb: %llu files read; advisories %llu added, %llu changed, %llu unchanged\n",
                     ull(r.files_read), ull(r.added), ull(r.changed), ull(r.unchanged));
        break;
      case Kind::kPruned: break;
    }
    if (tty) std::fflush(stderr);
  };
  auto report = (*reg)->vulndb->import(options.path, progress);
  end_line();
  {
    observe::AuditRecord a;
    a.source = "vulndb";
    a.action = "vulndb:Import";
    a.principal = "local";  // whoever can write the data dir
    a.resource = report ? report->path : options.path;
    if (report) {
      a.detail = {{"filesRead", report->files_read}, {"filesSkipped", report->skipped.size()},
                  {"added", report->added},          {"changed", report->changed},
                  {"unchanged", report->unchanged},  {"removed", report->removed},
                  {"version", vulndb::version_string(report->version)}};
    } else {
      a.outcome = observe::Outcome::kFailed;
      a.error_code = std::string(to_string(report.error().code));
      a.message = report.error().message;
    }
    (*reg)->audit->record(a);
  }
  if (!report) {
    std::fprintf(stderr, "berth vulndb import: %s\n", report.error().message.c_str());
    return 1;
  }
  if (ignored_shown > kIgnoredShown) {
    std::fprintf(stderr, "vulndb: ... and %llu more files ignored\n", ull(ignored_shown - kIgnoredShown));
  }
  const auto& r = *report;
  if (options.json) {
    nlohmann::json sources = nlohmann::json::object();
    for (const auto& s : r.sources) sources[s.source] = s.advisories;
    nlohmann::json out = {{"path", r.path},
                          {"filesRead", r.files_read},
                          {"skipped", problems(r.skipped)},
                          {"ignored", problems(r.ignored)},
                          {"added", r.added},
                          {"changed", r.changed},
                          {"unchanged", r.unchanged},
                          {"removed", r.removed},
                          {"pruned", r.pruned},
                          {"sources", sources},
                          {"version", vulndb::version_string(r.version)}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("imported %s: %llu files read, %zu skipped, %zu ignored\n", r.path.c_str(), ull(r.files_read),
                r.skipped.size(), r.ignored.size());
    std::printf("advisories: %llu added, %llu changed, %llu unchanged, %llu removed\n", ull(r.added), ull(r.changed),
                ull(r.unchanged), ull(r.removed));
    if (!r.pruned && r.files_read > 0) {
      std::printf("advisories no longer in %s were kept: %zu files could not be read\n", r.path.c_str(),
                  r.skipped.size());
    }
    for (const auto& s : r.sources) std::printf("source %s: %llu advisories\n", s.source.c_str(), ull(s.advisories));
    std::printf("data version: %s\n", r.version == 0 ? "(none)" : std::to_string(r.version).c_str());
  }
  if (r.files_read == 0) {
    std::fprintf(stderr, "berth vulndb import: no advisory file could be read from %s\n", r.path.c_str());
    return 1;
  }
  return 0;
}

int vulndb_status_command(const VulndbCliOptions& options) {
  auto reg = open_data_dir(options.data_dir);
  if (!reg) {
    std::fprintf(stderr, "berth vulndb status: %s\n", reg.error().message.c_str());
    return 1;
  }
  auto status = (*reg)->vulndb->status();
  if (!status) {
    std::fprintf(stderr, "berth vulndb status: %s\n", status.error().message.c_str());
    return 1;
  }
  uint64_t total = 0;
  for (const auto& c : status->counts) total += c.advisories;
  if (options.json) {
    nlohmann::json counts = nlohmann::json::array();
    for (const auto& c : status->counts) {
      counts.push_back({{"source", c.source}, {"ecosystem", c.ecosystem}, {"advisories", c.advisories}});
    }
    nlohmann::json out = {{"version", vulndb::version_string(status->version)},
                          {"advisories", total},
                          {"counts", counts},
                          {"lastImport", nullptr}};
    if (const auto& l = status->last_import) {
      out["lastImport"] = {{"path", l->path},
                           {"startedAt", utc(l->started_at_ms)},
                           {"finishedAt", utc(l->finished_at_ms)},
                           {"filesRead", l->files_read},
                           {"filesSkipped", l->files_skipped},
                           {"added", l->added},
                           {"changed", l->changed},
                           {"unchanged", l->unchanged},
                           {"removed", l->removed},
                           {"version", vulndb::version_string(l->version)},
                           {"details", nullptr}};
      if (auto details = nlohmann::json::parse(l->details_json, nullptr, false); !details.is_discarded()) {
        out["lastImport"]["details"] = std::move(details);
      }
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("data version: %s\n", status->version == 0 ? "(none)" : std::to_string(status->version).c_str());
  if (const auto& l = status->last_import) {
    std::printf("last import: %s from %s (%llu files read, %llu skipped; %llu added, %llu changed, %llu unchanged, "
                "%llu removed)\n",
                utc(l->finished_at_ms).c_str(), l->path.c_str(), ull(l->files_read), ull(l->files_skipped),
                ull(l->added), ull(l->changed), ull(l->unchanged), ull(l->removed));
  } else {
    std::printf("last import: never\n");
  }
  std::printf("%-60s %-16s %10s\n", "SOURCE", "ECOSYSTEM", "ADVISORIES");
  for (const auto& c : status->counts) {
    std::printf("%-60s %-16s %10llu\n", c.source.c_str(), c.ecosystem.empty() ? "-" : c.ecosystem.c_str(),
                ull(c.advisories));
  }
  std::printf("%-60s %-16s %10llu\n", "(total)", "", ull(total));
  return 0;
}

}  // namespace berth::app
