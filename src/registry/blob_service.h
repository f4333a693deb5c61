// Reading, mounting and unlinking blobs as a repository sees them: a blob is readable
// through a repository only when linked to it, however many others hold the same bytes.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/result.h"
#include "core/versioned_cache.h"
#include "store/blob/blob_store.h"
#include "store/meta/meta_store.h"

namespace berth::registry {

class BlobService {
 public:
  BlobService(store::MetaStore& meta, store::BlobStore& blobs, const Clock& clock)
      : meta_(meta), blobs_(blobs), clock_(clock) {}

  Result<store::BlobInfo> stat(const std::string& repository, const Digest& digest);  // BLOB_UNKNOWN
  Result<std::unique_ptr<store::BlobReader>> open(const std::string& repository, const Digest& digest);
  Result<void> unlink(const std::string& repository, const Digest& digest);
  // Links `digest` into `repository` when `from` (or, without `from`, any repository)
  // holds it; nullopt when it can't, and the caller starts an ordinary upload instead.
  Result<std::optional<store::BlobInfo>> mount(const std::string& repository, const Digest& digest,
                                               const std::optional<std::string>& from);

 private:
  store::MetaStore& meta_;
  store::BlobStore& blobs_;
  const Clock& clock_;
  // Which blobs a repository may read, as pulls ask over and over (HEAD, then GET): from
  // memory between two commits, without a database transaction.
  VersionedCache<std::shared_ptr<const uint64_t>> linked_sizes_{16384, size_t{4} << 20};
};

}  // namespace berth::registry
