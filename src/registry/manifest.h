// Parsing and validation of image manifests and indexes (OCI and Docker schema 2).
// Pure: knows nothing of stores. What a manifest references is returned so the
// registry can check, in one transaction, that it exists.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/result.h"

namespace berth::registry {

namespace media_types {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
}  // namespace media_types

// The registry's limit, as distribution's and ECR's: larger pushes get 413.
inline constexpr size_t kMaxManifestBytes = 4 * 1024 * 1024;

struct ParsedManifest {
  std::string media_type;
  bool is_index = false;
  std::string artifact_type;          // artifactType, or the config media type for artifacts
  std::optional<Digest> subject;
  std::vector<Digest> blobs;          // config + layers that must be in the repository
  std::vector<uint64_t> blob_sizes;   // the size each descriptor in `blobs` declares
  std::vector<Digest> children;       // index entries
  std::string annotations_json = "{}";
};

// `content_type` is the request's Content-Type (may be empty: then mediaType decides).
// kManifestInvalid with a reason for anything malformed; kUnsupported for schema 1.
Result<ParsedManifest> parse_manifest(std::string_view content_type, std::string_view bytes);

bool is_index_media_type(std::string_view media_type);

}  // namespace berth::registry
