#include "registry/blob_service.h"

#include "core/names.h"

namespace berth::registry {
namespace {

Error blob_unknown(const std::string& repository, const Digest& digest) {
  return Error{ErrorCode::kBlobUnknown, "blob " + digest.str() + " is not in repository \"" + repository + "\""};
}

}  // namespace

Result<store::BlobInfo> BlobService::stat(const std::string& repository, const Digest& digest) {
  auto size = read_through(
      linked_sizes_, meta_.data_version(), repository + "@" + digest.str(),
      [&] { return meta_.linked_blob_size(repository, digest); }, [](uint64_t) { return sizeof(uint64_t); });
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
    // Garbage collection dropped the link and the bytes since the check: unknown now.
    BERTH_TRY_VOID(stat(repository, digest));
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
  // Links only a blob that is still recorded, in one transaction, so the link never
  // points at bytes a collector is deleting (docs/gc.md).
  auto mounted = meta_.mount_blob(repository, digest, clock_.now_ms());
  if (!mounted && mounted.error().code == ErrorCode::kBlobUnknown) return std::optional<store::BlobInfo>();
  BERTH_TRY(const uint64_t linked, std::move(mounted));
  return std::optional<store::BlobInfo>(store::BlobInfo{digest, linked});
}

}  // namespace berth::registry
