#include "scanning/service.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "registry/manifest.h"
#include "scan/scan_inventory.h"
#include "scanning/findings.h"

namespace berth::scanning {
namespace {

using nlohmann::json;

constexpr char kCompleteDescription[] = "The scan was completed successfully.";
constexpr size_t kPage = 500;

bool is_image_config(std::string_view media_type) {
  return media_type == "application/vnd.oci.image.config.v1+json" ||
         media_type == "application/vnd.docker.container.image.v1+json";
}

// The layers to scan, lower to upper; kUnsupportedImageType (with the reason ECR's
// UNSUPPORTED_IMAGE status shows) for what is not a container image.
Result<std::vector<Digest>> layers_of(const store::ManifestRecord& manifest) {
  if (registry::is_index_media_type(manifest.media_type)) {
    return fail(ErrorCode::kUnsupportedImageType,
                "The operation is not supported for this image: it is a manifest list (image index); each image it "
                "lists is scanned on its own.");
  }
  const json doc = json::parse(manifest.content, nullptr, false);
  if (!doc.is_object()) return fail(ErrorCode::kUnsupportedImageType, "The image manifest is not a JSON object.");
  std::string config_type;
  if (auto c = doc.find("config"); c != doc.end() && c->is_object()) config_type = c->value("mediaType", "");
  if (!is_image_config(config_type)) {
    return fail(ErrorCode::kUnsupportedImageType, "The operation is not supported for this image: it is an artifact "
                                                  "(config media type \"" + config_type + "\"), not a container image.");
  }
  std::vector<Digest> layers;
  if (auto ls = doc.find("layers"); ls != doc.end() && ls->is_array()) {
    for (const auto& l : *ls) {
      if (!l.is_object() || !l.contains("digest") || !l["digest"].is_string()) continue;
      // Foreign layers (with urls) are not in the registry: nothing to read.
      if (l.contains("urls")) continue;
      auto d = Digest::parse(l["digest"].get<std::string>());
      if (d) layers.push_back(std::move(*d));
    }
  }
  return layers;
}

struct Matched {
  store::ImageScan scan;
  std::vector<vuln::Finding> findings;
};

}  // namespace

ScanService::ScanService(store::MetaStore& meta, store::BlobStore& blobs, vuln::AdvisorySource& advisories,
                         const Clock& clock, observe::EventSink* events, Options options)
    : meta_(meta), blobs_(blobs), advisories_(advisories), clock_(clock), events_(events), options_(options) {}

ScanService::~ScanService() { stop(); }

void ScanService::start() {
  std::lock_guard lk(mu_);
  if (!workers_.empty()) return;
  stopping_ = false;
  for (size_t i = 0; i < std::max<size_t>(1, options_.workers); ++i) workers_.emplace_back([this] { work(); });
}

void ScanService::stop() {
  std::vector<std::thread> workers;
  std::deque<Key> not_run;
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    for (const auto& k : queue_) pending_.erase(k);
    not_run.swap(queue_);
    workers.swap(workers_);
  }
  wake_.notify_all();
  for (auto& t : workers) t.join();
  for (const auto& [repository, digest] : not_run) {
    if (auto d = Digest::parse(digest)) record_not_run(repository, *d, "the server stopped before it ran");
  }
  idle_.notify_all();
}

void ScanService::work() {
  auto log = log::get("scanning");
  std::unique_lock lk(mu_);
  while (true) {
    wake_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Key key = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lk.unlock();
    if (auto digest = Digest::parse(key.second)) {
      auto done = scan_now(key.first, *digest);
      // An image or repository deleted meanwhile needs no scan.
      if (!done && done.error().code != ErrorCode::kManifestUnknown && done.error().code != ErrorCode::kNameUnknown) {
        log->warn("scan of {}@{} could not be recorded: {}", key.first, key.second, done.error().message);
      }
    }
    lk.lock();
    --running_;
    pending_.erase(key);
    if (queue_.empty() && running_ == 0) idle_.notify_all();
  }
}

void ScanService::wait_idle() {
  std::unique_lock lk(mu_);
  idle_.wait(lk, [&] { return (queue_.empty() && running_ == 0) || workers_.empty(); });
}

void ScanService::manifest_pushed(const std::string& repository, const Digest& digest,
                                  std::string_view /*media_type*/) noexcept {
  try {
    auto config = repository_config(repository);
    if (!config) {
      log::get("scanning")->warn("scan on push of {}: {}", repository, config.error().message);
      return;
    }
    if (config->scan_on_push) enqueue(repository, digest);
  } catch (const std::exception& e) {  // noexcept: a push never fails for its scan
    log::get("scanning")->error("scan on push of {}: {}", repository, e.what());
  }
}

bool ScanService::enqueue(const std::string& repository, const Digest& digest) {
  Key key{repository, digest.str()};
  size_t waiting = 0;
  {
    std::lock_guard lk(mu_);
    if (pending_.contains(key)) return true;
    waiting = queue_.size();
    if (waiting < options_.queue_limit) {
      queue_.push_back(key);
      pending_.insert(std::move(key));
      wake_.notify_one();
      return true;
    }
  }
  record_not_run(repository, digest,
                 std::to_string(waiting) + (waiting == 1 ? " scan was" : " scans were") +
                     " already waiting (the scan queue is full)");
  return false;
}

// Stored FAILED with the reason, so the image does not look in progress, and a manual
// scan's daily quota is given back (claim_manual_scan ignores scans that ended FAILED
// after the claim). An image whose last scan completed keeps that result instead: its
// findings still hold, and a pull gate that needs a completed scan must not start
// refusing it because a rescan never ran (the quota then stays spent, as for a scan that
// ran).
void ScanService::record_not_run(const std::string& repository, const Digest& digest, const std::string& why) noexcept {
  try {
    auto previous = meta_.get_image_scan(repository, digest);
    if (previous && *previous && (*previous)->status == kComplete) return;
    const int64_t now = clock_.now_ms();
    store::ImageScan dropped{
        .digest = digest,
        .status = kFailed,
        .description = "The scan was not run: " + why + ". Start it again with StartImageScan.",
        .started_at_ms = now,
        .completed_at_ms = now,
    };
    if (previous && *previous) dropped.last_complete_findings_json = last_complete_findings_json(&**previous);
    if (auto put = meta_.put_image_scan(repository, dropped); !put) {
      log::get("scanning")->warn("scan of {}@{} dropped and not recorded: {}", repository, digest.str(),
                                 put.error().message);
    }
  } catch (const std::exception& e) {
    log::get("scanning")->error("scan of {}@{} dropped and not recorded: {}", repository, digest.str(), e.what());
  }
}

Result<store::ImageScan> ScanService::start_manual_scan(const std::string& repository, const Digest& digest) {
  BERTH_TRY(auto manifest, meta_.get_manifest(repository, digest));
  if (auto layers = layers_of(manifest); !layers) return tl::unexpected(layers.error());
  const int64_t now = clock_.now_ms();
  BERTH_TRY(bool allowed, meta_.claim_manual_scan(repository, digest, now, now - kManualScanWindowMs + 1));
  if (!allowed) {
    return fail(ErrorCode::kLimitExceeded, "The scan quota per image has been exceeded. Wait and try again.");
  }
  enqueue(repository, digest);
  BERTH_TRY(auto scan, scan_of(repository, digest));
  if (!scan) return fail(ErrorCode::kScanNotFound, "the scan of " + digest.str() + " vanished");  // image deleted
  return *scan;
}

Result<std::optional<store::ImageScan>> ScanService::scan_of(const std::string& repository, const Digest& digest) {
  BERTH_TRY(auto scan, meta_.get_image_scan(repository, digest));
  bool queued = false;
  {
    std::lock_guard lk(mu_);
    queued = pending_.contains(Key{repository, digest.str()});
  }
  if (!queued) return scan;
  // Queued or running: what is stored is the previous scan's outcome.
  store::ImageScan in_progress{.digest = digest, .status = kInProgress, .started_at_ms = clock_.now_ms()};
  if (scan) {
    in_progress.started_at_ms = scan->started_at_ms;
    in_progress.last_manual_scan_ms = scan->last_manual_scan_ms;
  }
  return std::optional<store::ImageScan>(std::move(in_progress));
}

Result<std::vector<std::optional<store::ImageScan>>> ScanService::scans_of_page(const std::string& repository,
                                                                                std::string after,
                                                                                const std::vector<Digest>& digests) {
  std::vector<std::optional<store::ImageScan>> out(digests.size());
  if (digests.empty()) return out;
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < digests.size(); ++i) index.emplace(digests[i].str(), i);
  const std::string last = digests.back().str();
  while (true) {
    BERTH_TRY(auto batch, scans_after(repository, after, kPage));
    if (batch.empty()) break;
    const std::string batch_last = batch.back().digest.str();
    for (auto& sc : batch) {
      if (auto i = index.find(sc.digest.str()); i != index.end()) out[i->second] = std::move(sc);
    }
    if (batch.size() < kPage || batch_last >= last) break;
    after = batch_last;
  }
  // An image whose first scan is queued has no stored scan yet: IN_PROGRESS, as scan_of.
  std::lock_guard lk(mu_);
  for (size_t i = 0; i < digests.size(); ++i) {
    if (out[i] || !pending_.contains(Key{repository, digests[i].str()})) continue;
    out[i] = store::ImageScan{.digest = digests[i], .status = kInProgress, .started_at_ms = clock_.now_ms()};
  }
  return out;
}

Result<std::vector<store::ImageScan>> ScanService::scans_after(const std::string& repository, const std::string& after,
                                                               size_t limit) {
  BERTH_TRY(auto scans, meta_.list_image_scans(repository, after, limit));
  std::lock_guard lk(mu_);
  for (auto& s : scans) {
    if (pending_.contains(Key{repository, s.digest.str()})) {
      s.status = kInProgress;
      s.description.clear();
      s.completed_at_ms.reset();
    }
  }
  return scans;
}

namespace {

Matched match_layers(store::MetaStore& meta, store::BlobStore& blobs, const vuln::Snapshot& snapshot,
                     const scan::Limits& limits, const Digest& digest, const std::vector<Digest>& layers,
                     int64_t started_ms, const Clock& clock, int* layers_read, const store::ImageScan* previous) {
  Matched out{.scan = store::ImageScan{.digest = digest, .started_at_ms = started_ms}, .findings = {}};
  scan::ScanStats stats;
  auto inventory = scan::inventory_of(layers, blobs, meta, limits, &stats);
  if (layers_read) *layers_read += stats.layers_read;
  out.scan.completed_at_ms = clock.now_ms();
  if (!inventory) {
    out.scan.status = kFailed;
    out.scan.description = "The scan failed: " + inventory.error().message;
    out.scan.last_complete_findings_json = last_complete_findings_json(previous);
    return out;
  }
  // Source by source, so each finding knows the file and layer its package came from.
  for (const auto& source : inventory->sources) {
    auto found = snapshot.matcher->match(inventory->os, source.packages);
    for (auto& f : found) {
      f.file_path = source.path;
      if (source.layer >= 0 && static_cast<size_t>(source.layer) < layers.size()) {
        f.layer_digest = layers[static_cast<size_t>(source.layer)].str();
      }
      out.findings.push_back(std::move(f));
    }
  }
  sort_findings(out.findings);
  carry_first_observed(previous, out.findings, *out.scan.completed_at_ms);
  out.scan.status = kComplete;
  out.scan.description = kCompleteDescription;
  if (snapshot.version.empty()) {
    out.scan.description += " No vulnerability data is imported yet (berth vulndb import): no findings can be reported.";
  }
  out.scan.vulndb_version = snapshot.version;
  out.scan.severity_counts_json = severity_counts(out.findings).dump();
  out.scan.findings_json = findings_to_json(out.findings).dump();
  return out;
}

}  // namespace

Result<store::ImageScan> ScanService::scan_now(const std::string& repository, const Digest& digest) {
  const int64_t started = clock_.now_ms();
  BERTH_TRY(auto manifest, meta_.get_manifest(repository, digest));
  auto layers = layers_of(manifest);
  if (!layers) {
    store::ImageScan unsupported{.digest = digest, .status = kUnsupportedImage,
                                 .description = layers.error().message, .started_at_ms = started,
                                 .completed_at_ms = started};
    BERTH_TRY_VOID(meta_.put_image_scan(repository, unsupported));
    // As ECR: the index is not scanned, the images it lists are, each on its own. They
    // were pushed first and scanned then if the repository asked for it; one pushed
    // before that (or dropped from a full queue) is scanned now.
    if (registry::is_index_media_type(manifest.media_type)) {
      const json doc = json::parse(manifest.content, nullptr, false);
      if (auto children = doc.find("manifests"); doc.is_object() && children != doc.end() && children->is_array()) {
        for (const auto& c : *children) {
          if (!c.is_object() || !c.contains("digest") || !c["digest"].is_string()) continue;
          auto child = Digest::parse(c["digest"].get<std::string>());
          if (!child) continue;
          auto existing = meta_.get_image_scan(repository, *child);
          if (existing && (!*existing || (*existing)->status == kFailed)) enqueue(repository, *child);
        }
      }
    }
    return unsupported;
  }
  // Read before the IN_PROGRESS row replaces it: findings seen before keep when first seen.
  BERTH_TRY(auto stored, meta_.get_image_scan(repository, digest));
  const store::ImageScan* previous = stored ? &*stored : nullptr;
  const std::string kept = last_complete_findings_json(previous);
  // Another process reading the data dir sees the scan running.
  BERTH_TRY_VOID(meta_.put_image_scan(repository, store::ImageScan{.digest = digest, .status = kInProgress,
                                                                   .started_at_ms = started,
                                                                   .last_complete_findings_json = kept}));
  auto snapshot = advisories_.current();
  if (!snapshot) {
    store::ImageScan failed{.digest = digest, .status = kFailed,
                            .description = "The scan failed: the vulnerability database could not be read: " +
                                           snapshot.error().message,
                            .started_at_ms = started, .completed_at_ms = clock_.now_ms(),
                            .last_complete_findings_json = kept};
    BERTH_TRY_VOID(meta_.put_image_scan(repository, failed));
    return failed;
  }
  Matched m = match_layers(meta_, blobs_, *snapshot, options_.limits, digest, *layers, started, clock_, nullptr,
                           previous);
  BERTH_TRY_VOID(meta_.put_image_scan(repository, m.scan));
  return m.scan;
}

Result<RescanReport> ScanService::rescan_changed() {
  std::lock_guard rescan(rescan_mu_);
  BERTH_TRY(auto snapshot, advisories_.current());
  BERTH_TRY(auto config, registry_config());
  RescanReport report{.vulndb_version = snapshot.version};
  // Only registry rules make a repository CONTINUOUS_SCAN: without one, nothing to visit.
  if (std::none_of(config.rules.begin(), config.rules.end(),
                   [](const ScanningRule& r) { return r.frequency == Frequency::kContinuous; })) {
    return report;
  }
  std::string after_repository;
  while (true) {
    BERTH_TRY(auto names, meta_.list_repositories(after_repository, kPage));
    for (const auto& name : names) {
      auto repo = meta_.get_repository(name);
      if (!repo) continue;  // deleted meanwhile
      if (repository_scanning(name, repo->settings_json, config).frequency != Frequency::kContinuous) continue;
      std::string after;
      while (true) {
        auto scans = meta_.list_image_scans(name, after, kPage);
        if (!scans) break;
        for (const auto& s : *scans) {
          if (s.status != kComplete || s.vulndb_version == snapshot.version) continue;
          {
            std::lock_guard lk(mu_);
            if (pending_.contains(Key{name, s.digest.str()})) continue;  // that scan uses the current data
          }
          auto previous = meta_.get_image_scan(name, s.digest);
          auto manifest = meta_.get_manifest(name, s.digest);
          if (!previous || !*previous || !manifest) continue;  // deleted meanwhile
          auto layers = layers_of(*manifest);
          if (!layers) continue;
          Matched m = match_layers(meta_, blobs_, snapshot, options_.limits, s.digest, *layers, clock_.now_ms(),
                                   clock_, &report.layers_read, &**previous);
          m.scan.last_manual_scan_ms = (*previous)->last_manual_scan_ms;
          if (!meta_.put_image_scan(name, m.scan)) continue;
          ++report.images_rematched;
          std::set<std::string> known;
          for (const auto& f : findings_from_json((*previous)->findings_json)) known.insert(finding_key(f));
          json fresh = json::array();
          for (const auto& f : m.findings) {
            if (known.contains(finding_key(f))) continue;
            fresh.push_back({{"name", f.id},
                             {"severity", std::string(vuln::severity_name(f.severity))},
                             {"package_name", f.package_name},
                             {"package_version", f.package_version}});
          }
          if (fresh.empty()) continue;
          ++report.images_with_new_findings;
          if (events_) {
            events_->publish(observe::Event{
                .type = "image.scan.findings",
                .repository = name,
                .detail = {{"imageDigest", s.digest.str()},
                           {"vulnerabilityDataVersion", snapshot.version},
                           {"previousVulnerabilityDataVersion", s.vulndb_version},
                           {"newFindings", fresh},
                           {"findingSeverityCounts", json::parse(m.scan.severity_counts_json)}}});
          }
        }
        if (scans->size() < kPage) break;
        after = scans->back().digest.str();
      }
    }
    if (names.size() < kPage) break;
    after_repository = names.back();
  }
  return report;
}

Result<RegistryScanningConfig> ScanService::registry_config() {
  BERTH_TRY(auto text, meta_.get_setting(kRegistryScanningSetting));
  return registry_config_from_text(text);
}

Result<void> ScanService::put_registry_config(const RegistryScanningConfig& config) {
  return meta_.put_setting(kRegistryScanningSetting, to_json(config).dump());
}

Result<RepositoryScanning> ScanService::repository_config(const std::string& repository) {
  BERTH_TRY(auto repo, meta_.get_repository(repository));
  BERTH_TRY(auto config, registry_config());
  return repository_scanning(repository, repo.settings_json, config);
}

}  // namespace berth::scanning
