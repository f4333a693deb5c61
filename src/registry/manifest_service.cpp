#include "registry/manifest_service.h"

#include "core/names.h"
#include "crypto/hash.h"
#include "registry/manifest.h"
#include "registry/tag_mutability.h"

namespace berth::registry {

Result<Reference> Reference::parse(std::string_view text) {
  Reference r;
  if (text.find(':') != std::string_view::npos) {
    BERTH_TRY(auto d, Digest::parse(text));
    r.digest = std::move(d);
  } else {
    BERTH_TRY_VOID(validate_tag(text));
    r.tag = std::string(text);
  }
  return r;
}

Result<Reference> Reference::parse_lookup(std::string_view text) {
  if (text.find(':') != std::string_view::npos) return parse(text);
  Reference r;
  r.tag = std::string(text);
  return r;
}

Result<PushedManifest> ManifestService::put(const std::string& repository, const Reference& ref,
                                            std::string_view content_type, std::string_view bytes) {
  BERTH_TRY_VOID(repositories_.require_for_push(repository));
  BERTH_TRY(auto repo, repositories_.get(repository));
  BERTH_TRY(auto parsed, parse_manifest(content_type, bytes));
  // Over the bytes as sent, never re-serialized JSON.
  const auto algorithm = ref.digest ? ref.digest->algorithm() : DigestAlgorithm::kSha256;
  Digest digest = crypto::digest_of(algorithm, bytes);
  if (ref.digest && *ref.digest != digest) {
    return fail(ErrorCode::kDigestMismatch,
                "manifest content has digest " + digest.str() + ", not " + ref.digest->str() + " as in the URL");
  }
  // A descriptor must state its blob's real size: clients use it to allocate and verify.
  for (size_t i = 0; i < parsed.blobs.size(); ++i) {
    auto size = meta_.linked_blob_size(repository, parsed.blobs[i]);
    if (size && *size != parsed.blob_sizes[i]) {
      return fail(ErrorCode::kManifestInvalid, "descriptor for " + parsed.blobs[i].str() + " says " +
                                                   std::to_string(parsed.blob_sizes[i]) + " bytes but the blob has " +
                                                   std::to_string(*size));
    }
  }
  store::NewManifest m{
      .digest = digest,
      .media_type = parsed.media_type,
      .artifact_type = parsed.artifact_type,
      .subject = parsed.subject,
      .content = std::string(bytes),
      .annotations_json = parsed.annotations_json,
      .blobs = std::move(parsed.blobs),
      .children = std::move(parsed.children),
      .tag = ref.tag,
      .tag_immutable = ref.tag && tag_is_immutable(repo.settings_json, *ref.tag),
  };
  auto put = meta_.put_manifest(repository, m, clock_.now_ms());
  if (!put && put.error().code == ErrorCode::kTagImmutable) {
    return fail(ErrorCode::kTagImmutable,
                put.error().message + " The repository's setting: " + describe_tag_mutability(repo.settings_json) + ".");
  }
  BERTH_TRY(auto outcome, std::move(put));
  if (outcome.created && push_listener_) push_listener_->manifest_pushed(repository, digest, m.media_type);
  return PushedManifest{digest, parsed.subject};
}

Result<store::ManifestRecord> ManifestService::lookup(const std::string& repository, const Reference& ref,
                                                      const Result<uint64_t>& version) {
  // Repository names hold neither ':' nor '@', tags no '@': the keys cannot collide.
  const std::string key = ref.tag ? repository + ":" + *ref.tag : repository + "@" + ref.digest->str();
  return read_through(
      manifest_cache_, version, key,
      [&] { return ref.tag ? meta_.get_tagged_manifest(repository, *ref.tag) : meta_.get_manifest(repository, *ref.digest); },
      [](const store::ManifestRecord& m) { return sizeof m + m.content.size() + m.media_type.size(); });
}

Result<store::ManifestRecord> ManifestService::get(const std::string& repository, const Reference& ref,
                                                   bool count_pull, const Puller& puller) {
  // The version the request was authorized at, when it has one: the manifest it gets
  // is then the one that decision saw (or a newer one).
  auto r = lookup(repository, ref, puller.version(meta_));
  if (!r) {
    if (r.error().code == ErrorCode::kManifestUnknown || r.error().code == ErrorCode::kNameUnknown) {
      BERTH_TRY_VOID(repositories_.require(repository));  // NAME_UNKNOWN wins over MANIFEST_UNKNOWN
      return fail(ErrorCode::kManifestUnknown,
                  "manifest " + ref.str() + " is not in repository \"" + repository + "\"");
    }
    return r;
  }
  if (!count_pull) return r;
  if (pull_gate_) BERTH_TRY_VOID(pull_gate_->admit(repository, *r, puller));
  pulls_.note(repository, r->digest, clock_.now_ms(), puller.arn);
  return r;
}

Result<void> ManifestService::remove(const std::string& repository, const Reference& ref) {
  BERTH_TRY_VOID(repositories_.require(repository));
  auto done = ref.tag ? meta_.delete_tag(repository, *ref.tag) : meta_.delete_manifest(repository, *ref.digest);
  if (!done && done.error().code == ErrorCode::kManifestUnknown) {
    return fail(ErrorCode::kManifestUnknown, "manifest " + ref.str() + " is not in repository \"" + repository + "\"");
  }
  return done;
}

// The store answers NAME_UNKNOWN itself for these reads, saving a query on a hot path.
Result<std::vector<std::string>> ManifestService::tags(const std::string& repository, const std::string& after,
                                                       size_t limit) {
  using Page = std::vector<std::string>;
  return read_through(
      tag_pages_, meta_.data_version(), repository + "\n" + after + "\n" + std::to_string(limit),
      [&] { return meta_.list_tags(repository, after, limit); },
      [](const Page& page) {
        size_t bytes = sizeof page;
        for (const auto& tag : page) bytes += sizeof tag + tag.size();
        return bytes;
      });
}

Result<std::vector<store::Referrer>> ManifestService::referrers(const std::string& repository, const Digest& subject,
                                                                const std::optional<std::string>& artifact_type) {
  return meta_.referrers(repository, subject, artifact_type);
}

}  // namespace berth::registry
