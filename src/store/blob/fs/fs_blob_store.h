// BlobStore on a local filesystem, laid out as CNCF distribution's filesystem driver
// does (docs/storage-layout.md draws the tree):
//
//   ROOT/blobs/<algorithm>/<first two hex>/<hex>   one regular file per committed blob
//   ROOT/uploads/<uuid>/data                       the staged bytes of one upload
//
// A file appears under blobs/ only by an atomic no-replace rename of a staged file that
// was fsynced first, so a crash at any moment leaves either the whole blob or nothing
// there. Every call works relative to a descriptor of ROOT (the *at() system calls), so
// error messages never need a host path and a later chdir() changes nothing.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "store/blob/blob_store.h"

namespace berth::store {

class FsBlobStore final : public BlobStore {
 public:
  // Creates ROOT (and its parents), ROOT/blobs/{sha256,sha512} and ROOT/uploads when
  // missing, mode 0750 before the umask.
  static Result<std::unique_ptr<FsBlobStore>> open(const std::string& root);

  ~FsBlobStore() override;
  FsBlobStore(const FsBlobStore&) = delete;
  FsBlobStore& operator=(const FsBlobStore&) = delete;

  Result<BlobInfo> stat(const Digest& digest) override;
  Result<std::unique_ptr<BlobReader>> open(const Digest& digest) override;
  Result<void> remove(const Digest& digest) override;
  Result<std::vector<BlobInfo>> list_blobs(const std::string& after, size_t limit) override;

  Result<void> create_upload(const std::string& id) override;
  Result<std::unique_ptr<UploadWriter>> append_upload(const std::string& id, uint64_t offset) override;
  Result<std::unique_ptr<BlobReader>> open_upload(const std::string& id) override;
  Result<BlobInfo> commit_upload(const std::string& id, const Digest& digest, uint64_t size) override;
  Result<void> delete_upload(const std::string& id) override;
  Result<std::vector<std::string>> list_uploads() override;

 private:
  FsBlobStore(int root_fd, std::string root);

  // Opens a directory under the root and fsyncs it, so that entries just created,
  // renamed into or removed from it survive a power loss.
  Result<void> sync_dir(const std::string& relative);

  // Names in a directory under the root, sorted; `keep` filters them.
  Result<std::vector<std::string>> list_dir(const std::string& relative, bool (*keep)(const char* name));

  int root_fd_;       // O_DIRECTORY descriptor of ROOT; every path below is relative to it
  std::string root_;  // for log lines only, never for error messages
};

}  // namespace berth::store
