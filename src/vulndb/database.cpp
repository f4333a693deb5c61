#include "vulndb/database.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/log.h"
#include "vuln/native.h"
#include "vulndb/codec.h"
#include "vulndb/formats.h"
#include "vulndb/inputs.h"

namespace berth::vulndb {
namespace {

namespace fs = std::filesystem;
using vuln::Advisory;

constexpr size_t kListPage = 1000;
// Imports looked at to date a data version; older ones than this many imports ago date
// a version no later than the oldest of them.
constexpr size_t kUpdatedAtHistory = 10000;
// The history keeps the first ones only; the report returned to the caller has them all.
constexpr size_t kMaxSkippedRecorded = 1000;
constexpr size_t kMaxIgnoredRecorded = 100;
constexpr Format kFormats[] = {Format::kOsv, Format::kDebianList, Format::kAlpineSecdb};

// A total order on affected entries, so a merged advisory encodes the same whatever order
// its files were read in.
std::string affected_key(const vuln::OsvAffected& af) {
  std::string key = af.ecosystem + '\0' + af.name + '\0' + (af.from_unstable ? "u" : "") + '\0';
  for (const auto& r : af.ranges) {
    key += r.type + '\1';
    for (const auto& e : r.events) key += std::to_string(static_cast<int>(e.kind)) + e.version + '\2';
  }
  for (const auto& v : af.versions) key += v + '\3';
  return key;
}

// The native formats give one advisory per (id, package, release) and the same id in
// several files (Alpine branches, DSA and DLA lists): one row per id, holding every
// affected entry once.
std::vector<Advisory> combine_by_id(std::vector<Advisory> in) {
  std::map<std::string, Advisory> by_id;
  for (auto& a : in) {
    auto [it, fresh] = by_id.try_emplace(a.id, std::move(a));
    if (fresh) continue;
    Advisory& into = it->second;
    into.affected.insert(into.affected.end(), a.affected.begin(), a.affected.end());
    into.aliases.insert(into.aliases.end(), a.aliases.begin(), a.aliases.end());
    if (into.summary.empty()) into.summary = a.summary;
    if (into.details.empty()) into.details = a.details;
    if (into.uri.empty()) into.uri = a.uri;
  }
  std::vector<Advisory> out;
  out.reserve(by_id.size());
  for (auto& [id, a] : by_id) {
    std::vector<std::pair<std::string, vuln::OsvAffected>> keyed;
    for (auto& af : a.affected) keyed.emplace_back(affected_key(af), std::move(af));
    std::sort(keyed.begin(), keyed.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    keyed.erase(std::unique(keyed.begin(), keyed.end(), [](const auto& x, const auto& y) { return x.first == y.first; }),
                keyed.end());
    a.affected.clear();
    for (auto& [key, af] : keyed) a.affected.push_back(std::move(af));
    std::sort(a.aliases.begin(), a.aliases.end());
    a.aliases.erase(std::unique(a.aliases.begin(), a.aliases.end()), a.aliases.end());
    out.push_back(std::move(a));
  }
  return out;
}

store::AdvisoryRecord to_record(const std::string& source, const Advisory& a) {
  std::string document = encode_advisory(a);
  std::string hash = content_hash(document);
  return store::AdvisoryRecord{
      .source = source, .id = a.id, .ecosystem = ecosystem_families(a), .content_hash = std::move(hash),
      .document = std::move(document)};
}

nlohmann::json problems_json(const std::vector<FileProblem>& problems, size_t limit) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < problems.size() && i < limit; ++i) {
    out.push_back({{"file", problems[i].file}, {"reason", problems[i].reason}});
  }
  return out;
}

}  // namespace

std::string version_string(uint64_t version) { return version == 0 ? std::string() : std::to_string(version); }

Database::Database(store::MetaStore& store, const Clock& clock) : Database(store, clock, Options{}) {}

Database::Database(store::MetaStore& store, const Clock& clock, Options options)
    : store_(store), clock_(clock), options_(options) {}

Result<ImportReport> Database::import(const std::string& path, const ImportProgress& progress) {
  const int64_t started_ms = clock_.now_ms();
  std::error_code ec;
  fs::path root = fs::absolute(path, ec);
  if (ec) return fail(ErrorCode::kInvalidParameter, "cannot resolve " + path + ": " + ec.message());
  root = fs::weakly_canonical(root, ec);
  if (ec) return fail(ErrorCode::kInvalidParameter, "cannot resolve " + path + ": " + ec.message());

  ImportReport report;
  report.path = root.string();
  auto emit = [&](ImportEvent::Kind kind, const std::string& file = {}, const std::string& reason = {}) {
    if (progress) progress(ImportEvent{kind, file, reason, report});
  };
  auto source_of = [&](Format f) { return std::string(format_name(f)) + ":" + report.path; };

  std::optional<Error> store_error;
  auto store_batch = [&](std::vector<store::AdvisoryRecord> batch) {
    if (batch.empty() || store_error) return;
    auto outcome = store_.upsert_advisories(batch);
    if (!outcome) {
      store_error = outcome.error();
      return;
    }
    report.added += outcome->added;
    report.changed += outcome->changed;
    report.unchanged += outcome->unchanged;
    emit(ImportEvent::Kind::kStored);
  };

  // OSV records are stored while the walk goes on (an ecosystem dump can be large); the
  // native formats need every file before they can be merged, and are small.
  std::map<std::string, std::string> osv_stored;  // id -> `modified` of the stored record
  std::map<std::string, Advisory> osv_pending;
  auto flush_osv = [&] {
    std::vector<store::AdvisoryRecord> batch;
    for (auto& [id, a] : osv_pending) {
      osv_stored[id] = a.modified;
      batch.push_back(to_record(source_of(Format::kOsv), a));
    }
    osv_pending.clear();
    store_batch(std::move(batch));
  };
  // The same id twice (two copies of a record): the newer `modified` wins, the first on a tie.
  auto add_osv = [&](Advisory a) {
    if (auto s = osv_stored.find(a.id); s != osv_stored.end() && a.modified <= s->second) return;
    if (auto it = osv_pending.find(a.id); it != osv_pending.end()) {
      if (a.modified > it->second.modified) it->second = std::move(a);
      return;
    }
    std::string id = a.id;
    osv_pending.emplace(std::move(id), std::move(a));
    if (osv_pending.size() >= options_.batch) flush_osv();
  };
  std::vector<Advisory> debian_lists, debian_cves, alpine;

  auto walked = read_inputs(root, options_.max_file_bytes, [&](const std::string& name, Result<std::string> content) {
    if (store_error) return;
    if (!content) {
      report.skipped.push_back({name, content.error().message});
      emit(ImportEvent::Kind::kFileSkipped, name, content.error().message);
      return;
    }
    ParsedFile file = parse_file(name, *content);
    content->clear();
    switch (file.status) {
      case ParsedFile::Status::kIgnored:
        report.ignored.push_back({name, file.reason});
        emit(ImportEvent::Kind::kFileIgnored, name, file.reason);
        return;
      case ParsedFile::Status::kMalformed:
        report.skipped.push_back({name, file.reason});
        emit(ImportEvent::Kind::kFileSkipped, name, file.reason);
        return;
      case ParsedFile::Status::kOk: break;
    }
    ++report.files_read;
    for (auto& a : file.advisories) {
      if (a.id.empty()) continue;  // the parsers refuse these; never key a row on ""
      switch (file.format) {
        case Format::kOsv: add_osv(std::move(a)); break;
        case Format::kDebianList: (a.id.starts_with("CVE-") ? debian_cves : debian_lists).push_back(std::move(a)); break;
        case Format::kAlpineSecdb: alpine.push_back(std::move(a)); break;
      }
    }
    emit(ImportEvent::Kind::kFileRead, name);
  });
  if (!walked) return tl::unexpected(walked.error());
  if (report.files_read == 0 && !store_error) {  // nothing read: nothing written, nothing removed
    BERTH_TRY(report.version, store_.vulndb_version());
    return report;
  }

  flush_osv();
  std::map<Format, std::vector<std::string>> ids;
  for (const auto& [id, modified] : osv_stored) ids[Format::kOsv].push_back(id);
  auto store_native = [&](Format f, std::vector<Advisory> advisories) {
    std::vector<store::AdvisoryRecord> batch;
    for (const auto& a : advisories) {
      ids[f].push_back(a.id);
      batch.push_back(to_record(source_of(f), a));
      if (batch.size() >= options_.batch) store_batch(std::exchange(batch, {}));
    }
    store_batch(std::move(batch));
  };
  // Per release, a CVE's fix inherited from unstable yields to the DSA naming it.
  store_native(Format::kDebianList, combine_by_id(vuln::merge_debian(std::move(debian_lists), std::move(debian_cves))));
  store_native(Format::kAlpineSecdb, combine_by_id(std::move(alpine)));
  if (store_error) return tl::unexpected(*store_error);

  report.pruned = report.skipped.empty();
  if (report.pruned) {
    for (Format f : kFormats) {
      BERTH_TRY(uint64_t removed, store_.prune_advisories(source_of(f), ids[f]));
      report.removed += removed;
    }
    emit(ImportEvent::Kind::kPruned);
  }

  BERTH_TRY(auto counts, store_.advisory_counts());
  for (Format f : kFormats) {
    SourceCount sc{source_of(f), 0};
    for (const auto& c : counts)
      if (c.source == sc.source) sc.advisories += c.advisories;
    if (sc.advisories > 0) report.sources.push_back(std::move(sc));
  }
  BERTH_TRY(report.version, store_.vulndb_version());

  nlohmann::json sources = nlohmann::json::object();
  for (const auto& s : report.sources) sources[s.source] = s.advisories;
  const nlohmann::json details = {{"skipped", problems_json(report.skipped, kMaxSkippedRecorded)},
                                  {"ignored", problems_json(report.ignored, kMaxIgnoredRecorded)},
                                  {"ignoredCount", report.ignored.size()},
                                  {"pruned", report.pruned},
                                  {"sources", std::move(sources)}};
  BERTH_TRY_VOID(store_.record_vulndb_import(store::VulnImportRecord{.started_at_ms = started_ms,
                                                                     .finished_at_ms = clock_.now_ms(),
                                                                     .path = report.path,
                                                                     .files_read = report.files_read,
                                                                     .files_skipped = report.skipped.size(),
                                                                     .added = report.added,
                                                                     .changed = report.changed,
                                                                     .unchanged = report.unchanged,
                                                                     .removed = report.removed,
                                                                     .version = report.version,
                                                                     .details_json = details.dump()}));
  return report;
}

Result<Status> Database::status() {
  Status s;
  BERTH_TRY(s.version, store_.vulndb_version());
  BERTH_TRY(s.counts, store_.advisory_counts());
  BERTH_TRY(auto last, store_.vulndb_imports(1));
  if (!last.empty()) s.last_import = std::move(last.front());
  return s;
}

Result<vuln::Snapshot> Database::current() {
  // Read before listing: the advisories listed are then at least this new, and if an
  // import commits in between, the next call sees a newer version and rebuilds.
  BERTH_TRY(uint64_t version, store_.vulndb_version());
  std::lock_guard lock(snapshot_mu_);
  if (!matcher_ || snapshot_version_ != version) {
    BERTH_TRY(auto matcher, build_matcher());
    matcher_ = std::move(matcher);
    snapshot_version_ = version;
  }
  return vuln::Snapshot{version_string(*snapshot_version_), matcher_};
}

Result<std::optional<int64_t>> Database::updated_at_ms(const std::string& version) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(version.data(), version.data() + version.size(), v);
  if (version.empty() || ec != std::errc() || end != version.data() + version.size() || v == 0) {
    return std::optional<int64_t>();
  }
  {
    std::lock_guard lock(snapshot_mu_);
    if (auto it = updated_at_.find(v); it != updated_at_.end()) return std::optional<int64_t>(it->second);
  }
  BERTH_TRY(auto imports, store_.vulndb_imports(kUpdatedAtHistory));
  std::optional<int64_t> found;
  for (const auto& record : imports) {  // newest first: the last one reaching v produced it
    if (record.version < v) break;
    found = record.finished_at_ms;
  }
  if (found) {
    std::lock_guard lock(snapshot_mu_);
    updated_at_.emplace(v, *found);
  }
  return found;
}

Result<std::shared_ptr<const vuln::Matcher>> Database::build_matcher() {
  auto matcher = std::make_shared<vuln::Matcher>();
  std::set<std::string> seen_hashes;  // one advisory imported from two paths is matched once
  std::string after_source, after_id;
  for (;;) {
    BERTH_TRY(auto page, store_.list_advisories(after_source, after_id, kListPage));
    if (page.empty()) break;
    for (const auto& row : page) {
      if (!seen_hashes.insert(row.content_hash).second) continue;
      auto advisory = decode_advisory(row.document);
      if (!advisory) {
        // One bad row must not stop every scan; it is visible in the log.
        log::get("vulndb")->warn("advisory {} of {} is unreadable: {}", row.id, row.source, advisory.error().message);
        continue;
      }
      matcher->add(*advisory);
    }
    after_source = page.back().source;
    after_id = page.back().id;
  }
  return std::shared_ptr<const vuln::Matcher>(std::move(matcher));
}

}  // namespace berth::vulndb
