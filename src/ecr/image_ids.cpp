#include "ecr/image_ids.h"

namespace berth::ecr {

Result<TagStatus> tag_status(const json& in) {
  auto f = in.find("filter");
  if (f == in.end() || f->is_null()) return TagStatus::kAny;
  if (!f->is_object()) return tl::unexpected(invalid("filter must be an object"));
  BERTH_TRY(auto status, opt_string(*f, "tagStatus"));
  if (!status || *status == "ANY") return TagStatus::kAny;
  if (*status == "TAGGED") return TagStatus::kTagged;
  if (*status == "UNTAGGED") return TagStatus::kUntagged;
  return tl::unexpected(invalid("filter.tagStatus must be TAGGED, UNTAGGED or ANY"));
}

bool keep(TagStatus status, const std::vector<std::string>& tags) {
  switch (status) {
    case TagStatus::kAny: return true;
    case TagStatus::kTagged: return !tags.empty();
    case TagStatus::kUntagged: return tags.empty();
  }
  return true;
}


Result<std::vector<ImageId>> image_ids(const json& in, size_t max) {
  auto ids = in.find("imageIds");
  if (ids == in.end() || !ids->is_array() || ids->empty() || ids->size() > max) {
    return tl::unexpected(invalid("imageIds must list 1 to " + std::to_string(max) + " images"));
  }
  std::vector<ImageId> out;
  for (const auto& id : *ids) {
    if (!id.is_object()) return tl::unexpected(invalid("each imageId must be an object"));
    BERTH_TRY(auto digest, opt_string(id, "imageDigest"));
    BERTH_TRY(auto tag, opt_string(id, "imageTag"));
    out.push_back(ImageId{id, digest, tag});
  }
  return out;
}

json failure(const json& image_id, std::string_view code, std::string_view reason) {
  return json{{"imageId", image_id}, {"failureCode", code}, {"failureReason", reason}};
}


Resolved resolve(registry::ManifestService& manifests, const std::string& repo, const ImageId& id) {
  if (!id.digest && !id.tag) return {std::nullopt, failure(id.original, "MissingDigestAndTag", "an imageId needs a digest or a tag")};
  std::optional<Digest> by_digest;
  if (id.digest) {
    auto d = Digest::parse(*id.digest);
    if (!d) return {std::nullopt, failure(id.original, "InvalidImageDigest", d.error().message)};
    auto m = manifests.get(repo, registry::Reference{std::nullopt, *d}, false);
    if (!m) return {std::nullopt, failure(id.original, "ImageNotFound", "Requested image not found")};
    by_digest = m->digest;
  }
  if (id.tag) {
    auto ref = registry::Reference::parse(*id.tag);
    if (!ref || !ref->tag) return {std::nullopt, failure(id.original, "InvalidImageTag", "invalid tag " + *id.tag)};
    auto m = manifests.get(repo, *ref, false);
    if (!m) return {std::nullopt, failure(id.original, "ImageNotFound", "Requested image not found")};
    if (by_digest && *by_digest != m->digest) {
      return {std::nullopt, failure(id.original, "ImageTagDoesNotMatchDigest", "tag " + *id.tag +
                                                                                   " points at another digest")};
    }
    return {m->digest, {}};
  }
  return {by_digest, {}};
}

}  // namespace berth::ecr
