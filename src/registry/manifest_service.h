// Manifests and tags: validation on push, lookups on pull, and the referrers index.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/versioned_cache.h"
#include "registry/pull_gate.h"
#include "registry/pull_recorder.h"
#include "registry/push_listener.h"
#include "registry/repository_service.h"
#include "store/meta/meta_store.h"

namespace berth::registry {

// A manifest reference from a URL: a tag or a digest.
struct Reference {
  std::optional<std::string> tag;
  std::optional<Digest> digest;
  static Result<Reference> parse(std::string_view text);  // TAG_INVALID / DIGEST_INVALID
  // For reads and deletes: a tag outside the grammar names no manifest, so looking it up
  // answers MANIFEST_UNKNOWN (the spec's 404 for a manifest not in the repository) rather
  // than calling the request malformed; only a push refuses such a tag.
  static Result<Reference> parse_lookup(std::string_view text);  // DIGEST_INVALID
  std::string str() const { return tag ? *tag : digest->str(); }
};

struct PushedManifest {
  Digest digest;
  std::optional<Digest> subject;
};

class ManifestService {
 public:
  ManifestService(store::MetaStore& meta, RepositoryService& repositories, PullRecorder& pulls, const Clock& clock)
      : meta_(meta), repositories_(repositories), pulls_(pulls), clock_(clock) {}

  // Told of every new manifest after its push committed; null (the default): nobody.
  // Set before serving, not while requests run.
  void set_push_listener(PushListener* listener) { push_listener_ = listener; }
  // Asked before every client pull (count_pull); null (the default): every pull passes.
  // Set before serving, not while requests run.
  void set_pull_gate(PullGate* gate) { pull_gate_ = gate; }

  Result<PushedManifest> put(const std::string& repository, const Reference& ref, std::string_view content_type,
                             std::string_view bytes);
  // MANIFEST_UNKNOWN. `count_pull` marks a client's pull (a /v2/ GET, not HEAD, or
  // BatchGetImage): the pull gate may refuse it (kDenied), and otherwise its time is
  // recorded for the puller, unless the puller is excluded.
  Result<store::ManifestRecord> get(const std::string& repository, const Reference& ref, bool count_pull,
                                    const Puller& puller = {});
  // By digest: the manifest and its tags. By tag: only the tag.
  Result<void> remove(const std::string& repository, const Reference& ref);
  Result<std::vector<std::string>> tags(const std::string& repository, const std::string& after, size_t limit);
  // Images (manifests with their tags) in digest order after `after`.
  Result<std::vector<store::ImageRecord>> images(const std::string& repository, const std::string& after,
                                                 size_t limit) {
    return meta_.list_images(repository, after, limit);
  }
  Result<store::ImageRecord> image(const std::string& repository, const Digest& digest) {
    return meta_.get_image(repository, digest);
  }
  Result<std::vector<store::Referrer>> referrers(const std::string& repository, const Digest& subject,
                                                 const std::optional<std::string>& artifact_type);

 private:
  Result<store::ManifestRecord> lookup(const std::string& repository, const Reference& ref,
                                       const Result<uint64_t>& version);

  store::MetaStore& meta_;
  RepositoryService& repositories_;
  PullRecorder& pulls_;
  const Clock& clock_;
  PushListener* push_listener_ = nullptr;
  PullGate* pull_gate_ = nullptr;
  // Pulls read the same few manifests and tag pages over and over; between two commits
  // they are answered from memory, without a database transaction.
  VersionedCache<std::shared_ptr<const store::ManifestRecord>> manifest_cache_{4096, size_t{32} << 20};
  VersionedCache<std::shared_ptr<const std::vector<std::string>>> tag_pages_{1024, size_t{8} << 20};
};

}  // namespace berth::registry
