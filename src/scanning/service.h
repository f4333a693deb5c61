// The scan service: scans images (an image's layers through src/scan, the inventory
// matched against the current advisory snapshot from src/vuln) on a bounded worker pool,
// stores each image's newest scan in the MetaStore, and re-matches stored inventories
// when the advisory data changes (continuous scanning), without reading a layer again.
//
// A push never waits for a scan: manifest_pushed only queues. When the queue is full the
// scan is not run and the image's scan says so (FAILED, with the reason and what to do).
// Everything that goes wrong in a scan (a layer that is not a tar, a truncated stream, a
// tar bomb cap) ends that scan FAILED with the reason; nothing is thrown.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/digest.h"
#include "core/result.h"
#include "observe/events.h"
#include "registry/push_listener.h"
#include "scan/layer_reader.h"
#include "scanning/config.h"
#include "scanning/status.h"
#include "store/blob/blob_store.h"
#include "store/meta/meta_store.h"
#include "vuln/snapshot.h"

namespace berth::scanning {

// StartImageScan: one manual scan per image per 24 hours, as ECR.
inline constexpr int64_t kManualScanWindowMs = 24LL * 3600 * 1000;

struct Options {
  size_t workers = 1;       // scans at once (each streams one layer at a time)
  size_t queue_limit = 256; // scans waiting; beyond this a scan is not run
  scan::Limits limits;
};

struct RescanReport {
  std::string vulndb_version;
  size_t images_rematched = 0;
  size_t images_with_new_findings = 0;
  int layers_read = 0;  // 0 unless an inventory was missing (a parser upgrade)
};

class ScanService final : public registry::PushListener {
 public:
  ScanService(store::MetaStore& meta, store::BlobStore& blobs, vuln::AdvisorySource& advisories, const Clock& clock,
              observe::EventSink* events, Options options = {});
  ~ScanService() override;
  ScanService(const ScanService&) = delete;
  ScanService& operator=(const ScanService&) = delete;

  // Starts the workers. Until then scans only queue (tests use that to fill the queue).
  void start();
  // Finishes the scans running, records the queued ones as not run (FAILED, giving a
  // manual scan's quota back), and joins the workers.
  void stop();

  // Scan on push, when the repository's configuration asks for it.
  void manifest_pushed(const std::string& repository, const Digest& digest,
                       std::string_view media_type) noexcept override;

  // Queues a scan. false when the queue was full (the image's scan then says why).
  bool enqueue(const std::string& repository, const Digest& digest);
  // StartImageScan: kNameUnknown, kManifestUnknown, kUnsupportedImageType for an index
  // or an artifact, kLimitExceeded for a second manual scan within 24 hours. Answers the
  // scan's status right after queueing it.
  Result<store::ImageScan> start_manual_scan(const std::string& repository, const Digest& digest);
  // The image's newest scan (IN_PROGRESS while queued or running); nullopt when never
  // scanned. kNameUnknown.
  Result<std::optional<store::ImageScan>> scan_of(const std::string& repository, const Digest& digest);
  // The scans of `digests` (in ascending order, all after `after`), one entry each,
  // without findings: what scan_of would answer, read in batches (DescribeImages' page).
  Result<std::vector<std::optional<store::ImageScan>>> scans_of_page(const std::string& repository,
                                                                     std::string after,
                                                                     const std::vector<Digest>& digests);
  // Scans of the repository's images after `after` in digest order, without findings
  // (for DescribeImages' summaries), with queued images shown IN_PROGRESS.
  Result<std::vector<store::ImageScan>> scans_after(const std::string& repository, const std::string& after,
                                                    size_t limit);

  // Scans now, on the calling thread, and stores the outcome (which is also returned).
  // Errors only when the outcome could not be stored or the image is gone.
  Result<store::ImageScan> scan_now(const std::string& repository, const Digest& digest);

  // Re-matches every COMPLETE image of CONTINUOUS_SCAN repositories whose findings were
  // matched against another advisory version than the current one, from the stored
  // layer inventories, and publishes `image.scan.findings` for images with new findings.
  Result<RescanReport> rescan_changed();

  // Blocks until no scan is queued or running (tests and `berth scan`).
  void wait_idle();

  // Configuration.
  Result<RegistryScanningConfig> registry_config();
  Result<void> put_registry_config(const RegistryScanningConfig& config);
  Result<RepositoryScanning> repository_config(const std::string& repository);
  // When the vulnerability data a scan was matched against (ImageScan::vulndb_version)
  // was last updated, epoch ms; nullopt when unknown.
  Result<std::optional<int64_t>> data_updated_at_ms(const std::string& vulndb_version) {
    return advisories_.updated_at_ms(vulndb_version);
  }

 private:
  void record_not_run(const std::string& repository, const Digest& digest, const std::string& why) noexcept;
  using Key = std::pair<std::string, std::string>;  // repository, digest
  void work();
  Result<store::ImageScan> match_and_store(const std::string& repository, const Digest& digest,
                                           const std::vector<Digest>& layers, int64_t started_ms, int* layers_read,
                                           std::optional<std::vector<vuln::Finding>>* previous);

  store::MetaStore& meta_;
  store::BlobStore& blobs_;
  vuln::AdvisorySource& advisories_;
  const Clock& clock_;
  observe::EventSink* events_;
  const Options options_;

  std::mutex mu_;
  std::condition_variable wake_;   // work queued, or stopping
  std::condition_variable idle_;   // queue empty and nothing running
  std::deque<Key> queue_;
  std::set<Key> pending_;          // queued or running
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::mutex rescan_mu_;           // one rescan at a time
};

}  // namespace berth::scanning
