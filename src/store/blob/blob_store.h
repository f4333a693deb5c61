// Content-addressed bytes. Knows digests, not repositories: which repository may read
// a blob is MetaStore's business. Knows bytes, not hashing rules: the registry verifies
// a digest before it asks the store to commit an upload under it.
//
// Implementations: FsBlobStore (fs/), later S3BlobStore. All methods are blocking and
// thread-safe; they never throw.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/result.h"

namespace berth::store {

struct BlobInfo {
  Digest digest;
  uint64_t size = 0;
};

class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual uint64_t size() const = 0;
  // Reads up to out.size() bytes starting at offset; returns 0 only at the end.
  [[nodiscard]] virtual Result<size_t> read(uint64_t offset, std::span<char> out) = 0;
  // An OS file descriptor the HTTP layer may sendfile() from, or -1 when the store has
  // none (S3). Owned by the reader.
  virtual int native_handle() const { return -1; }
};

// Appends to a staged upload. Bytes are not durable until flush() succeeds.
class UploadWriter {
 public:
  virtual ~UploadWriter() = default;
  [[nodiscard]] virtual Result<void> write(std::string_view bytes) = 0;
  [[nodiscard]] virtual Result<void> flush() = 0;
  virtual uint64_t size() const = 0;  // staged bytes, including those before this writer
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // kBlobUnknown when absent.
  [[nodiscard]] virtual Result<BlobInfo> stat(const Digest& digest) = 0;
  [[nodiscard]] virtual Result<std::unique_ptr<BlobReader>> open(const Digest& digest) = 0;
  // Removing an absent blob succeeds (idempotent, for garbage collection).
  [[nodiscard]] virtual Result<void> remove(const Digest& digest) = 0;
  // Stored blobs in the lexical order of their digest strings, strictly after `after`
  // ("" for the start), at most `limit`: garbage collection finds bytes the metadata
  // does not know with it, one page at a time.
  [[nodiscard]] virtual Result<std::vector<BlobInfo>> list_blobs(const std::string& after, size_t limit) = 0;

  // Uploads are staged under an id (a UUID, validated by the caller). Staged bytes are
  // never visible as a blob until commit_upload.
  [[nodiscard]] virtual Result<void> create_upload(const std::string& id) = 0;
  // Opens the staged upload for appending at `offset`, first discarding any bytes past
  // it (left by a request that died before its offset was recorded). kBlobUploadUnknown
  // when there is no such upload; kRangeInvalid when fewer than `offset` bytes are staged.
  [[nodiscard]] virtual Result<std::unique_ptr<UploadWriter>> append_upload(const std::string& id,
                                                                           uint64_t offset) = 0;
  // Reads the staged bytes (to hash them with another algorithm).
  [[nodiscard]] virtual Result<std::unique_ptr<BlobReader>> open_upload(const std::string& id) = 0;
  // Makes the first `size` staged bytes durable and visible as `digest`, atomically; if
  // the blob exists already (a concurrent push of the same bytes) the staged copy is
  // dropped and the existing blob kept. The staged upload is gone afterwards.
  [[nodiscard]] virtual Result<BlobInfo> commit_upload(const std::string& id, const Digest& digest,
                                                       uint64_t size) = 0;
  // Deleting an absent upload succeeds.
  [[nodiscard]] virtual Result<void> delete_upload(const std::string& id) = 0;
  // Ids of the staged uploads (to find those the metadata store has no session for).
  [[nodiscard]] virtual Result<std::vector<std::string>> list_uploads() = 0;
};

}  // namespace berth::store
