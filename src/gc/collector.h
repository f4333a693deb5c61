// Online garbage collection: deletes blobs no manifest references, repository links no
// push finished with, and abandoned uploads, while the registry serves pushes and pulls.
// docs/gc.md has the protocol and why no concurrent push loses a blob.
//
// Knows the MetaStore and BlobStore interfaces only, so it runs unchanged over a shared
// PostgreSQL MetaStore and an S3 BlobStore, from any node or from `berth gc`.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"
#include "observe/audit.h"
#include "registry/upload_service.h"
#include "store/blob/blob_store.h"
#include "store/meta/meta_store.h"

namespace berth::gc {

struct Options {
  // A repository's link to a blob that none of its manifests references survives this
  // long after the blob was uploaded or mounted (a push between its layers and its
  // manifest).
  int64_t grace_ms = 3'600'000;
  // Uploads no request has touched for this long are cancelled.
  int64_t upload_ttl_ms = 24 * 3'600'000;
  bool dry_run = false;  // count what would go; change nothing
  size_t batch = 512;    // digests per metadata transaction
};

struct Report {
  uint64_t uploads_expired = 0;      // sessions idle past the TTL, with their staged bytes
  uint64_t upload_dirs_removed = 0;  // staged uploads without a session (a crash)
  uint64_t upload_bytes_freed = 0;   // staged bytes of the latter
  uint64_t links_dropped = 0;        // repository links no manifest of the repository uses
  uint64_t blobs_deleted = 0;        // recorded blobs nothing references
  uint64_t blob_bytes_freed = 0;
  uint64_t orphans_deleted = 0;      // stored blobs the metadata never recorded (a crash)
  uint64_t orphan_bytes_freed = 0;
  uint64_t resumed_deletions = 0;    // left pending by a collector that stopped midway

  uint64_t bytes_freed() const { return upload_bytes_freed + blob_bytes_freed + orphan_bytes_freed; }
};

// Called after each batch: the phase ("uploads", "links", "blobs", "orphans") and the
// items it has handled so far.
using Progress = std::function<void(std::string_view phase, uint64_t handled)>;

class Collector {
 public:
  // Each deletion batch is written to `audit` (source "gc") when given.
  Collector(store::MetaStore& meta, store::BlobStore& blobs, registry::UploadService& uploads, const Clock& clock,
            observe::AuditLog* audit = nullptr)
      : meta_(meta), blobs_(blobs), uploads_(uploads), clock_(clock), audit_(audit) {}

  // One full collection. Safe to run concurrently with pushes, pulls and another
  // collector (each step re-checks in the metadata store before it deletes).
  Result<Report> run(const Options& options, const Progress& progress = {});

 private:
  Result<void> collect_uploads(const Options& options, Report& report, const Progress& progress);
  Result<void> collect_links(const Options& options, int64_t cutoff_ms, Report& report, const Progress& progress);
  Result<void> collect_blobs(const Options& options, int64_t cutoff_ms, Report& report, const Progress& progress);
  Result<void> collect_orphans(const Options& options, Report& report, const Progress& progress);
  // Marks, deletes the bytes of, and unmarks `digests`; returns those deleted.
  Result<std::vector<Digest>> delete_blobs(const std::vector<Digest>& digests);
  void audit(const char* action, nlohmann::json detail);

  store::MetaStore& meta_;
  store::BlobStore& blobs_;
  registry::UploadService& uploads_;
  const Clock& clock_;
  observe::AuditLog* audit_;
};

// "90s", "15m", "1h", "7d", or "0": milliseconds. kInvalidParameter otherwise.
Result<int64_t> parse_duration_ms(std::string_view text);

}  // namespace berth::gc
