#include "registry/blob_service.h"

#include "core/names.h"

namespace berth::registry {
namespace {

Error blob_unknown(const std::string& repository, const Digest& digest) {
  return Error{ErrorCode::kBlobUnknown, "blob " + digest.str() + " is not in repository \"" + repository + "\""};
}

}  // namespace

Result<store::BlobInfo> BlobService::stat(const std::string& repository, const Digest& digest) {
  auto size = meta_.linked_blob_size(repository, digest);
  if (!size) {
    if (size.error().code == ErrorCode::kBlobUnknown) return tl::unexpected(blob_unknown(repository, digest));
    return tl::unexpected(size.error());
  }
  return store::BlobInfo{digest, *size};
}

Result<std::unique_ptr<store::BlobReader>> BlobService::open(const std::string& repository, const Digest& digest) {
  BERTH_TRY_VOID(stat(repository, digest));
  auto reader = blobs_.open(digest);
  if (!reader && reader.error().code == ErrorCode::kBlobUnknown) {
    // Linked but the bytes are gone: a store fault, not a client error.
    return fail(ErrorCode::kInternal, "blob " + digest.str() + " is missing from the blob store");
  }
  return reader;
}

Result<void> BlobService::unlink(const std::string& repository, const Digest& digest) {
  BERTH_TRY_VOID(stat(repository, digest));
  return meta_.unlink_blob(repository, digest);
}

Result<std::optional<store::BlobInfo>> BlobService::mount(const std::string& repository, const Digest& digest,
                                                          const std::optional<std::string>& from) {
  Result<uint64_t> size = fail(ErrorCode::kBlobUnknown, "");
  if (from) {
    if (!validate_repository_name(*from)) return std::optional<store::BlobInfo>();
    size = meta_.linked_blob_size(*from, digest);
  } else {
    size = meta_.any_blob_size(digest);
  }
  if (!size) {
    if (size.error().code == ErrorCode::kBlobUnknown || size.error().code == ErrorCode::kNameUnknown) {
      return std::optional<store::BlobInfo>();
    }
    return tl::unexpected(size.error());
  }
  // The metadata says so; make sure the bytes are really there before linking.
  auto info = blobs_.stat(digest);
  if (!info) return std::optional<store::BlobInfo>();
  BERTH_TRY_VOID(meta_.link_blob(repository, digest, *size, clock_.now_ms()));
  return std::optional<store::BlobInfo>(store::BlobInfo{digest, *size});
}

}  // namespace berth::registry
