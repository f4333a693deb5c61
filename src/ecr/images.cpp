// ECR image operations over the registry's manifests, tags and blobs.
#include <set>

#include "crypto/hash.h"
#include "crypto/seal.h"
#include "ecr/api.h"
#include "ecr/image_ids.h"
#include "ecr/input.h"
#include "registry/manifest.h"

namespace berth::ecr {
namespace {

// Images read from the store per step while a filtered page fills.
constexpr size_t kScanBatch = 1000;

double seconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

// One page of images after `after` that pass the filter; the token names the next page.
struct ImagePage {
  std::vector<store::ImageRecord> images;
  std::optional<std::string> next_token;
};

// Reads the repository in digest order, a batch at a time, until the page is full: the
// store pages, so a large repository is never read whole.
Result<ImagePage> select_page(registry::ManifestService& manifests, const std::string& repo, TagStatus status,
                              std::string after, size_t limit) {
  ImagePage page;
  while (true) {
    BERTH_TRY(auto batch, manifests.images(repo, after, kScanBatch));
    for (auto& img : batch) {
      if (!keep(status, img)) continue;
      if (page.images.size() == limit) {
        page.next_token = crypto::base64(page.images.back().digest.str());
        return page;
      }
      page.images.push_back(std::move(img));
    }
    if (batch.size() < kScanBatch) return page;
    after = batch.back().digest.str();
  }
}

// One page of ListImages or DescribeImages, RepositoryNotFoundException in ECR's words.
Result<ImagePage> image_page(const Services& s_, const std::string& repo, const json& input) {
  BERTH_TRY(auto status, tag_status(input));
  BERTH_TRY(auto limit, max_results(input, 100, 1000));
  BERTH_TRY(auto after, page_after(input));
  auto page = select_page(s_.manifests, repo, status, after, limit);
  if (!page && page.error().code == ErrorCode::kNameUnknown) {
    return tl::unexpected(repository_not_found(repo, s_.identity.account_id()));
  }
  return page;
}

}  // namespace



Result<json> Api::list_images(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto repo, required_string(call.input, "repositoryName"));
  BERTH_TRY(auto page, image_page(s_, repo, call.input));
  json ids = json::array();
  for (const auto& img : page.images) {
    if (img.tags.empty()) ids.push_back({{"imageDigest", img.digest.str()}});
    for (const auto& t : img.tags) ids.push_back({{"imageDigest", img.digest.str()}, {"imageTag", t}});
  }
  json out = {{"imageIds", ids}};
  if (page.next_token) out["nextToken"] = *page.next_token;
  return out;
}

Result<json> Api::describe_images(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto repo, required_string(call.input, "repositoryName"));
  BERTH_TRY(auto status, tag_status(call.input));
  BERTH_TRY_VOID(require_repository(s_, repo));
  auto detail = [&](const store::ImageRecord& img) {
    json d = {{"registryId", s_.identity.account_id()},
              {"repositoryName", repo},
              {"imageDigest", img.digest.str()},
              {"imageSizeInBytes", img.size_bytes},
              {"imagePushedAt", seconds(img.pushed_at_ms)},
              {"imageManifestMediaType", img.media_type}};
    if (!img.tags.empty()) d["imageTags"] = img.tags;
    if (!img.artifact_type.empty()) d["artifactMediaType"] = img.artifact_type;
    if (img.last_pulled_at_ms) d["lastRecordedPullTime"] = seconds(*img.last_pulled_at_ms);
    return d;
  };
  // imageScanStatus and imageScanFindingsSummary, for images that have a scan.
  std::optional<ScanView> view;
  if (s_.scans) {
    BERTH_TRY(view, scan_view(s_));
  }
  auto with_scan = [&](json d, const std::optional<store::ImageScan>& scan) -> Result<json> {
    if (scan && view) {
      BERTH_TRY(auto summary, scan_summary(*scan, *view));
      d.update(summary);
    }
    return d;
  };
  json details = json::array();
  if (call.input.contains("imageIds") && !call.input["imageIds"].is_null()) {
    if (call.input.contains("maxResults") || call.input.contains("nextToken")) {
      return tl::unexpected(invalid("maxResults and nextToken cannot be used with imageIds"));
    }
    BERTH_TRY(auto ids, image_ids(call.input, 100));
    std::set<std::string> seen;
    for (const auto& id : ids) {
      Resolved r = resolve(s_.manifests, repo, id);
      if (!r.digest) {
        if (r.failure["failureCode"] == "InvalidImageDigest" || r.failure["failureCode"] == "InvalidImageTag") {
          return tl::unexpected(invalid(r.failure["failureReason"].get<std::string>()));
        }
        return fail(ErrorCode::kManifestUnknown, "The image with imageId " + id.original.dump() +
                                                     " does not exist within the repository with name '" + repo + "'");
      }
      if (!seen.insert(r.digest->str()).second) continue;
      auto img = s_.manifests.image(repo, *r.digest);
      if (!img && img.error().code == ErrorCode::kManifestUnknown) continue;  // deleted meanwhile
      if (!img) return tl::unexpected(img.error());
      if (!keep(status, *img)) continue;
      std::optional<store::ImageScan> scan;
      if (s_.scans) {
        BERTH_TRY(scan, s_.scans->scan_of(repo, img->digest));
      }
      BERTH_TRY(auto shown, with_scan(detail(*img), scan));
      details.push_back(std::move(shown));
    }
    return json{{"imageDetails", details}};
  }
  BERTH_TRY(auto page, image_page(s_, repo, call.input));
  // The page's scans, read in digest order over the same range as the images.
  std::vector<std::optional<store::ImageScan>> scans(page.images.size());
  if (s_.scans && !page.images.empty()) {
    BERTH_TRY(auto after, page_after(call.input));
    std::vector<Digest> digests;
    for (const auto& img : page.images) digests.push_back(img.digest);
    BERTH_TRY(scans, s_.scans->scans_of_page(repo, after, digests));
  }
  for (size_t i = 0; i < page.images.size(); ++i) {
    BERTH_TRY(auto shown, with_scan(detail(page.images[i]), scans[i]));
    details.push_back(std::move(shown));
  }
  json out = {{"imageDetails", details}};
  if (page.next_token) out["nextToken"] = *page.next_token;
  return out;
}

void Api::audit_gate_refusal(const Call& call, const std::string& repo, const Digest& digest,
                             const std::string& message) const {
  if (!s_.audit) return;
  observe::AuditRecord r;
  r.source = "ecr";
  r.action = "ecr:BatchGetImage";
  r.principal = call.caller.principal_arn;
  r.access_key_id = call.caller.access_key_id;
  r.source_ip = call.request.remote_address;
  r.user_agent = std::string(call.request.header("user-agent").value_or(""));
  r.resource = s_.authorizer.repository_arn(repo);
  r.outcome = observe::Outcome::kDenied;
  r.error_code = "ImageInaccessible";
  r.message = message;
  r.detail = json{{"imageDigest", digest.str()}, {"pullGate", true}};
  s_.audit->record(r);
}

Result<json> Api::batch_get_image(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto repo, required_string(call.input, "repositoryName"));
  BERTH_TRY_VOID(require_repository(s_, repo));
  BERTH_TRY(auto ids, image_ids(call.input, 100));
  std::optional<std::set<std::string>> accepted;
  if (auto a = call.input.find("acceptedMediaTypes"); a != call.input.end() && !a->is_null()) {
    if (!a->is_array() || a->empty() || a->size() > 100) {
      return tl::unexpected(invalid("acceptedMediaTypes must list 1 to 100 media types"));
    }
    accepted.emplace();
    for (const auto& t : *a) {
      if (!t.is_string()) return tl::unexpected(invalid("acceptedMediaTypes must be strings"));
      accepted->insert(t.get<std::string>());
    }
  }
  json images = json::array();
  json failures = json::array();
  for (const auto& id : ids) {
    Resolved r = resolve(s_.manifests, repo, id);
    if (!r.digest) {
      failures.push_back(r.failure);
      continue;
    }
    auto m = s_.manifests.get(repo, registry::Reference{std::nullopt, *r.digest}, /*count_pull=*/true,
                              registry::Puller{.arn = call.caller.policies_of(), .data_version = call.caller.data_version});
    if (!m && m.error().code == ErrorCode::kDenied) {
      // The pull gate: a per-image failure, so the rest of the batch is served; the call
      // itself succeeds, so the refusal is audited here.
      failures.push_back(failure(id.original, "ImageInaccessible", m.error().message));
      audit_gate_refusal(call, repo, *r.digest, m.error().message);
      continue;
    }
    if (!m) {
      failures.push_back(failure(id.original, "ImageNotFound", "Requested image not found"));
      continue;
    }
    if (accepted && !accepted->contains(m->media_type)) {
      failures.push_back(failure(id.original, "ImageNotFound",
                                 "the image's media type " + m->media_type + " is not in acceptedMediaTypes"));
      continue;
    }
    json image_id = {{"imageDigest", m->digest.str()}};
    if (id.tag) image_id["imageTag"] = *id.tag;
    images.push_back({{"registryId", s_.identity.account_id()},
                      {"repositoryName", repo},
                      {"imageId", image_id},
                      {"imageManifest", m->content},
                      {"imageManifestMediaType", m->media_type}});
  }
  return json{{"images", images}, {"failures", failures}};
}

Result<json> Api::batch_delete_image(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto repo, required_string(call.input, "repositoryName"));
  BERTH_TRY_VOID(require_repository(s_, repo));
  BERTH_TRY(auto ids, image_ids(call.input, 100));
  json deleted = json::array();
  json failures = json::array();
  for (const auto& id : ids) {
    Resolved r = resolve(s_.manifests, repo, id);
    if (!r.digest) {
      failures.push_back(r.failure);
      continue;
    }
    Result<void> done;
    if (id.digest) {
      done = s_.manifests.remove(repo, registry::Reference{std::nullopt, *r.digest});
    } else {
      // As ECR: removing an image's last tag removes the image.
      done = s_.manifests.remove(repo, registry::Reference{*id.tag, std::nullopt});
      if (done) {
        if (auto img = s_.manifests.image(repo, *r.digest); img && img->tags.empty()) {
          (void)s_.manifests.remove(repo, registry::Reference{std::nullopt, *r.digest});
        }
      }
    }
    if (!done) {
      const bool referenced = done.error().code == ErrorCode::kManifestReferenced;
      failures.push_back(failure(id.original, referenced ? "ImageReferencedByManifestList" : "ImageNotFound",
                                 done.error().message));
      continue;
    }
    json out_id = {{"imageDigest", r.digest->str()}};
    if (id.tag) out_id["imageTag"] = *id.tag;
    deleted.push_back(out_id);
  }
  return json{{"imageIds", deleted}, {"failures", failures}};
}

Result<json> Api::batch_check_layer_availability(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto repo, required_string(call.input, "repositoryName"));
  BERTH_TRY_VOID(require_repository(s_, repo));
  auto digests = call.input.find("layerDigests");
  if (digests == call.input.end() || !digests->is_array() || digests->empty() || digests->size() > 100) {
    return tl::unexpected(invalid("layerDigests must list 1 to 100 digests"));
  }
  json layers = json::array();
  json failures = json::array();
  for (const auto& d : *digests) {
    const std::string text = d.is_string() ? d.get<std::string>() : d.dump();
    auto digest = Digest::parse(text);
    if (!digest) {
      failures.push_back({{"layerDigest", text}, {"failureCode", "InvalidLayerDigest"},
                          {"failureReason", digest.error().message}});
      continue;
    }
    auto info = s_.blobs.stat(repo, *digest);
    if (!info) {
      failures.push_back({{"layerDigest", text}, {"failureCode", "MissingLayerDigest"},
                          {"failureReason", "the layer is not in the repository"}});
      continue;
    }
    layers.push_back({{"layerDigest", text}, {"layerAvailability", "AVAILABLE"}, {"layerSize", info->size}});
  }
  return json{{"layers", layers}, {"failures", failures}};
}

Result<json> Api::put_image(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto repo, required_string(call.input, "repositoryName"));
  BERTH_TRY(auto manifest, required_string(call.input, "imageManifest"));
  BERTH_TRY(auto media_type, opt_string(call.input, "imageManifestMediaType"));
  BERTH_TRY(auto tag, opt_string(call.input, "imageTag"));
  BERTH_TRY(auto digest_text, opt_string(call.input, "imageDigest"));
  BERTH_TRY_VOID(require_repository(s_, repo));
  std::optional<Digest> claimed;
  if (digest_text) {
    auto d = Digest::parse(*digest_text);
    if (!d) return tl::unexpected(invalid("imageDigest: " + d.error().message));
    claimed = *d;
  }
  const Digest actual = crypto::digest_of(claimed ? claimed->algorithm() : DigestAlgorithm::kSha256, manifest);
  if (claimed && *claimed != actual) {
    return fail(ErrorCode::kDigestMismatch, "Provided digest " + claimed->str() +
                                                " does not match the digest of the manifest, " + actual.str());
  }
  registry::Reference ref{std::nullopt, actual};
  if (tag) {
    auto parsed = registry::Reference::parse(*tag);
    if (!parsed || !parsed->tag) return tl::unexpected(invalid("imageTag is not a valid tag"));
    ref = *parsed;
    // ECR refuses a put that changes nothing.
    if (auto current = s_.manifests.get(repo, ref, false); current && current->digest == actual) {
      return fail(ErrorCode::kImageAlreadyExists, "Image with digest '" + actual.str() + "' and tag '" + *tag +
                                                      "' already exists in the repository with name '" + repo + "'");
    }
  } else if (auto current = s_.manifests.get(repo, ref, false); current) {
    return fail(ErrorCode::kImageAlreadyExists, "Image with digest '" + actual.str() +
                                                    "' already exists in the repository with name '" + repo + "'");
  }
  auto pushed = s_.manifests.put(repo, ref, media_type.value_or(""), manifest);
  if (!pushed) {
    const auto code = pushed.error().code;
    if (code == ErrorCode::kManifestInvalid || code == ErrorCode::kUnsupported || code == ErrorCode::kManifestTooLarge ||
        code == ErrorCode::kTagInvalid) {
      return tl::unexpected(invalid("imageManifest: " + pushed.error().message));
    }
    return tl::unexpected(pushed.error());
  }
  auto stored = s_.manifests.get(repo, registry::Reference{std::nullopt, pushed->digest}, false);
  json image_id = {{"imageDigest", pushed->digest.str()}};
  if (tag) image_id["imageTag"] = *tag;
  return json{{"image",
               {{"registryId", s_.identity.account_id()},
                {"repositoryName", repo},
                {"imageId", image_id},
                {"imageManifest", manifest},
                {"imageManifestMediaType", stored ? stored->media_type : media_type.value_or("")}}}};
}

}  // namespace berth::ecr
