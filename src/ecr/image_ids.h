// imageIds and filter.tagStatus of ECR image requests, shared by the image and the
// lifecycle preview operations.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ecr/input.h"
#include "registry/manifest_service.h"

namespace berth::ecr {

enum class TagStatus { kAny, kTagged, kUntagged };
// filter.tagStatus (TAGGED, UNTAGGED, ANY); kAny when absent.
Result<TagStatus> tag_status(const json& in);
bool keep(TagStatus status, const std::vector<std::string>& tags);
inline bool keep(TagStatus status, const store::ImageRecord& img) { return keep(status, img.tags); }

// One entry of imageIds, as given: a digest, a tag, or both.
struct ImageId {
  json original;
  std::optional<std::string> digest;
  std::optional<std::string> tag;
};
// imageIds: 1 to `max` entries.
Result<std::vector<ImageId>> image_ids(const json& in, size_t max);

// A per-image failure entry (BatchGetImage, BatchDeleteImage).
json failure(const json& image_id, std::string_view code, std::string_view reason);

// An imageId resolved against the repository: the image's digest, or a failure entry.
struct Resolved {
  std::optional<Digest> digest;
  json failure;
};
Resolved resolve(registry::ManifestService& manifests, const std::string& repo, const ImageId& id);

}  // namespace berth::ecr
