// Blob upload sessions: the rules of OCI uploads (offsets, resumption, digest
// verification) over a staged upload in the BlobStore and its row in the MetaStore.
//
// The SHA-256 state is saved with the offset after every request, so an upload resumes
// on any node, after a restart, without re-reading its bytes. Bytes staged past the
// recorded offset (a request that died before recording) are discarded on the next
// append: the recorded offset is the truth.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>

#include "core/clock.h"
#include "core/result.h"
#include "crypto/hash.h"
#include "registry/repository_service.h"
#include "store/blob/blob_store.h"
#include "store/meta/meta_store.h"

namespace berth::registry {

class UploadService;

// One request's worth of bytes appended to an upload. Holds the upload exclusively
// until destroyed; nothing is recorded unless finish() is called.
class UploadAppend {
 public:
  ~UploadAppend();
  UploadAppend(const UploadAppend&) = delete;
  UploadAppend& operator=(const UploadAppend&) = delete;

  Result<void> write(std::string_view bytes);  // store + hash
  // The two halves of write(), for callers that overlap them: each must see the bytes
  // in order, but store() and hash() may run at the same time on different threads.
  Result<void> store(std::string_view bytes);
  void hash(std::string_view bytes);
  // Records the new offset and hash state in the metadata store (not necessarily durable
  // yet, see MetaStore::advance_upload; the bytes are made durable when the upload is
  // committed).
  Result<store::UploadRecord> finish();
  uint64_t offset() const { return offset_; }

 private:
  friend class UploadService;
  UploadAppend(UploadService& service, store::UploadRecord record, std::unique_ptr<crypto::Sha256> hash,
               std::unique_ptr<store::UploadWriter> writer);
  UploadService& service_;
  store::UploadRecord record_;
  std::unique_ptr<crypto::Sha256> hash_;
  std::unique_ptr<store::UploadWriter> writer_;
  uint64_t offset_;
  bool failed_ = false;
};

class UploadService {
 public:
  UploadService(store::MetaStore& meta, store::BlobStore& blobs, RepositoryService& repositories, const Clock& clock)
      : meta_(meta), blobs_(blobs), repositories_(repositories), clock_(clock) {}

  Result<store::UploadRecord> start(const std::string& repository);
  // BLOB_UPLOAD_UNKNOWN unless `id` is an upload of `repository`.
  Result<store::UploadRecord> status(const std::string& repository, const std::string& id);
  Result<void> cancel(const std::string& repository, const std::string& id);
  // status(), and kRangeInvalid unless `expected_start` (when given) is the current
  // offset: what append() would refuse, known before a request waits for its turn.
  Result<store::UploadRecord> may_append(const std::string& repository, const std::string& id,
                                         std::optional<uint64_t> expected_start);
  // Appends at `expected_start` (the Content-Range start, when the client sent one):
  // kRangeInvalid unless it is the current offset. kBlobUploadInvalid while another
  // request is writing to the same upload.
  Result<std::unique_ptr<UploadAppend>> append(const std::string& repository, const std::string& id,
                                               std::optional<uint64_t> expected_start);
  // Verifies the bytes against `digest` (DIGEST_INVALID, and the upload is cancelled),
  // then commits the blob and links it into the repository.
  Result<store::BlobInfo> complete(const std::string& repository, const std::string& id, const Digest& digest);
  // Cancels uploads no request has touched since `idle_before_ms`; returns how many.
  Result<size_t> expire(int64_t idle_before_ms);

 private:
  friend class UploadAppend;
  bool try_acquire(const std::string& id);
  void release(const std::string& id);
  Result<void> wait_to_commit(const std::string& id, const Digest& digest);

  store::MetaStore& meta_;
  store::BlobStore& blobs_;
  RepositoryService& repositories_;
  const Clock& clock_;
  std::mutex active_mu_;
  // Uploads with a request in flight. TODO(berth): a lease row for multi-node (#9).
  std::unordered_set<std::string> active_;
};

}  // namespace berth::registry
