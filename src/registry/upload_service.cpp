#include "registry/upload_service.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <thread>

#include "core/ids.h"

namespace berth::registry {
namespace {

Error upload_unknown() {
  return Error{ErrorCode::kBlobUploadUnknown, "upload is unknown, finished or cancelled; start a new one"};
}

}  // namespace

UploadAppend::UploadAppend(UploadService& service, store::UploadRecord record, std::unique_ptr<crypto::Sha256> hash,
                           std::unique_ptr<store::UploadWriter> writer)
    : service_(service),
      record_(std::move(record)),
      hash_(std::move(hash)),
      writer_(std::move(writer)),
      offset_(record_.offset) {}

UploadAppend::~UploadAppend() { service_.release(record_.id); }

Result<void> UploadAppend::write(std::string_view bytes) {
  BERTH_TRY_VOID(store(bytes));
  hash(bytes);
  return {};
}

Result<void> UploadAppend::store(std::string_view bytes) {
  if (failed_) return fail(ErrorCode::kInternal, "upload write failed earlier");
  auto w = writer_->write(bytes);
  if (!w) {
    failed_ = true;
    return w;
  }
  offset_ += bytes.size();
  return {};
}

void UploadAppend::hash(std::string_view bytes) { hash_->update(bytes); }

Result<store::UploadRecord> UploadAppend::finish() {
  if (failed_) return fail(ErrorCode::kInternal, "upload write failed; retry from the last reported offset");
  if (offset_ == record_.offset) return record_;
  // No fsync here: a process crash keeps the page cache, and after a power loss a staged
  // file shorter than its recorded offset is detected on the next append (the upload is
  // then dropped and the client starts over). commit_upload fsyncs before the blob
  // becomes visible, so durability of the blob itself never depends on this.
  const std::string state = hash_->save_state();
  const int64_t now = service_.clock_.now_ms();
  BERTH_TRY_VOID(service_.meta_.advance_upload(record_.id, record_.offset, offset_, state, now));
  record_.offset = offset_;
  record_.hash_state = state;
  record_.updated_at_ms = now;
  return record_;
}

bool UploadService::try_acquire(const std::string& id) {
  std::lock_guard lock(active_mu_);
  return active_.insert(id).second;
}

void UploadService::release(const std::string& id) {
  std::lock_guard lock(active_mu_);
  active_.erase(id);
}

Result<store::UploadRecord> UploadService::start(const std::string& repository) {
  BERTH_TRY_VOID(repositories_.require_for_push(repository));
  store::UploadRecord r;
  r.id = new_uuid();
  r.repository = repository;
  r.offset = 0;
  r.hash_state = crypto::Sha256().save_state();
  r.started_at_ms = r.updated_at_ms = clock_.now_ms();
  // The row first: a staged directory without a row is then provably abandoned (a crash
  // between the two), and garbage collection deletes it at once (docs/gc.md).
  BERTH_TRY_VOID(meta_.create_upload(r));
  auto staged = blobs_.create_upload(r.id);
  if (!staged) {
    (void)meta_.delete_upload(r.id);
    return tl::unexpected(staged.error());
  }
  return r;
}

Result<store::UploadRecord> UploadService::status(const std::string& repository, const std::string& id) {
  if (!is_uuid(id)) return tl::unexpected(upload_unknown());
  auto r = meta_.get_upload(id);
  if (!r) {
    if (r.error().code == ErrorCode::kBlobUploadUnknown) return tl::unexpected(upload_unknown());
    return r;
  }
  if (r->repository != repository) return tl::unexpected(upload_unknown());
  return r;
}

Result<void> UploadService::cancel(const std::string& repository, const std::string& id) {
  BERTH_TRY(auto r, status(repository, id));
  BERTH_TRY_VOID(meta_.delete_upload(r.id));
  return blobs_.delete_upload(r.id);
}

Result<store::UploadRecord> UploadService::may_append(const std::string& repository, const std::string& id,
                                                      std::optional<uint64_t> expected_start) {
  BERTH_TRY(auto r, status(repository, id));
  if (expected_start && *expected_start != r.offset) {
    return fail(ErrorCode::kRangeInvalid, "chunk starts at " + std::to_string(*expected_start) +
                                              " but the upload has " + std::to_string(r.offset) + " bytes");
  }
  return r;
}

Result<std::unique_ptr<UploadAppend>> UploadService::append(const std::string& repository, const std::string& id,
                                                            std::optional<uint64_t> expected_start) {
  BERTH_TRY(auto r, status(repository, id));
  if (!try_acquire(id)) {
    return fail(ErrorCode::kBlobUploadInvalid, "another request is writing to this upload");
  }
  struct Releaser {
    UploadService* s;
    const std::string* id;
    ~Releaser() {
      if (s) s->release(*id);
    }
  } guard{this, &id};
  // Re-read under the exclusive hold: a request that just finished may have moved it.
  BERTH_TRY(r, may_append(repository, id, expected_start));
  BERTH_TRY(auto hash, crypto::Sha256::restore(r.hash_state));
  auto writer = blobs_.append_upload(id, r.offset);
  if (!writer && writer.error().code == ErrorCode::kRangeInvalid) {
    // Fewer bytes staged than recorded: lost in a power failure. The upload cannot
    // continue; say so in the terms a client acts on.
    (void)meta_.delete_upload(id);
    (void)blobs_.delete_upload(id);
    return fail(ErrorCode::kBlobUploadUnknown, "upload lost data in a server crash; start a new upload");
  }
  if (!writer) return tl::unexpected(writer.error());
  guard.s = nullptr;  // UploadAppend releases from here on
  return std::unique_ptr<UploadAppend>(new UploadAppend(*this, std::move(r), std::move(hash), std::move(*writer)));
}

Result<store::BlobInfo> UploadService::complete(const std::string& repository, const std::string& id,
                                                const Digest& digest) {
  BERTH_TRY(auto r, status(repository, id));
  if (!try_acquire(id)) return fail(ErrorCode::kBlobUploadInvalid, "another request is writing to this upload");
  struct Releaser {
    UploadService* s;
    const std::string& id;
    ~Releaser() { s->release(id); }
  } guard{this, id};
  BERTH_TRY(r, status(repository, id));

  Digest actual = digest;
  if (digest.algorithm() == DigestAlgorithm::kSha256) {
    BERTH_TRY(auto hash, crypto::Sha256::restore(r.hash_state));
    actual = hash->finish();
  } else {
    // Only SHA-256 state is kept as we go; other algorithms re-read the staged bytes.
    BERTH_TRY(auto reader, blobs_.open_upload(id));
    auto h = crypto::make_hasher(digest.algorithm());
    std::array<char, 256 * 1024> buf{};
    uint64_t off = 0;
    while (off < r.offset) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), r.offset - off));
      BERTH_TRY(auto n, reader->read(off, std::span<char>(buf.data(), want)));
      if (n == 0) return fail(ErrorCode::kInternal, "staged upload is shorter than recorded");
      h->update(std::string_view(buf.data(), n));
      off += n;
    }
    actual = h->finish();
  }
  if (actual != digest) {
    (void)meta_.delete_upload(id);
    (void)blobs_.delete_upload(id);
    return fail(ErrorCode::kDigestMismatch, "uploaded content has digest " + actual.str() + ", not " + digest.str() +
                                               "; the upload was discarded");
  }
  // Recorded before the bytes appear under `digest`, so a collector never deletes them
  // between commit_upload and link_blob; while a collector is deleting that digest, wait
  // for it to finish rather than commit into its path (docs/gc.md).
  BERTH_TRY_VOID(wait_to_commit(id, digest));
  auto committed = blobs_.commit_upload(id, digest, r.offset);
  if (!committed && committed.error().code == ErrorCode::kSizeInvalid) {
    // Fewer bytes staged than recorded: lost in a power failure (see append()).
    (void)meta_.delete_upload(id);
    (void)blobs_.delete_upload(id);
    return fail(ErrorCode::kBlobUploadUnknown, "upload lost data in a server crash; start a new upload");
  }
  BERTH_TRY(auto info, std::move(committed));
  BERTH_TRY_VOID(meta_.link_blob(repository, digest, info.size, clock_.now_ms()));
  (void)meta_.delete_upload(id);
  return info;
}

}  // namespace berth::registry

namespace berth::registry {

Result<void> UploadService::wait_to_commit(const std::string& id, const Digest& digest) {
  // A collector holds a digest for one batch of unlinks (milliseconds); give up after
  // about ten seconds, which only a collector that died mid-batch explains.
  for (int attempt = 0; attempt < 500; ++attempt) {
    BERTH_TRY(const bool may_commit, meta_.begin_blob_commit(id, digest, clock_.now_ms()));
    if (may_commit) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(20, 1 + attempt)));
  }
  return fail(ErrorCode::kUnavailable, "blob " + digest.str() + " is being garbage-collected; retry the upload");
}

Result<size_t> UploadService::expire(int64_t idle_before_ms) {
  BERTH_TRY(auto idle, meta_.uploads_idle_since(idle_before_ms));
  size_t expired = 0;
  for (const auto& u : idle) {
    if (!try_acquire(u.id)) continue;  // a request is writing to it right now
    (void)meta_.delete_upload(u.id);
    (void)blobs_.delete_upload(u.id);
    release(u.id);
    ++expired;
  }
  return expired;
}

}  // namespace berth::registry
