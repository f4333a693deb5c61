// The behaviour every MetaStore must show, as one GoogleTest typed-test suite. An
// implementation's test instantiates it with a factory type:
//
//   struct SqliteFactory {
//     std::unique_ptr<berth::store::MetaStore> make();  // a fresh, empty store
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, MetaStoreConformance, ::testing::Types<SqliteFactory>);
//
// One factory object is built per test, before the store, and destroyed after it, so
// it can own a temporary directory or a scratch database schema.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/digest.h"
#include "core/result.h"
#include "store/meta/meta_store.h"

namespace berth::store {
namespace conformance {

// A valid sha256 digest spelling `seed` (at most 32 bytes) in hex, zero-padded. Distinct
// seeds give distinct digests, and digests sort in the same order as their seeds.
inline Digest digest_of(std::string_view seed) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : seed.substr(0, 32)) {
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 0xf]);
  }
  hex.resize(64, '0');
  return Digest::from_parts(DigestAlgorithm::kSha256, hex);
}

template <class T>
::testing::AssertionResult succeeded(const Result<T>& result) {
  if (result) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "failed with " << to_string(result.error().code) << ": "
                                       << result.error().message;
}

template <class T>
::testing::AssertionResult fails_with(const Result<T>& result, ErrorCode code) {
  if (result) return ::testing::AssertionFailure() << "succeeded, expected " << to_string(code);
  if (result.error().code != code) {
    return ::testing::AssertionFailure() << "failed with " << to_string(result.error().code) << " ("
                                         << result.error().message << "), expected " << to_string(code);
  }
  if (result.error().message.empty()) return ::testing::AssertionFailure() << "error without a message";
  return ::testing::AssertionSuccess();
}

// An image manifest whose content names its seed (with a NUL byte, so stores must
// keep content as bytes, not as C strings).
inline NewManifest image(const std::string& seed, std::vector<Digest> blobs = {},
                         std::optional<std::string> tag = std::nullopt) {
  return NewManifest{
      .digest = digest_of(seed),
      .media_type = "application/vnd.oci.image.manifest.v1+json",
      .artifact_type = "",
      .subject = std::nullopt,
      .content = std::string("{\"seed\":\"") + seed + "\"}" + std::string(1, '\0') + "\xff",
      .annotations_json = "{}",
      .blobs = std::move(blobs),
      .children = {},
      .tag = std::move(tag),
  };
}

}  // namespace conformance

template <class Factory>
class MetaStoreConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = factory_.make();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override { store_.reset(); }

  MetaStore& store() { return *store_; }

  Repository create(const std::string& name, int64_t now_ms = 1000) {
    auto repo = store_->create_repository(name, now_ms);
    EXPECT_TRUE(conformance::succeeded(repo)) << name;
    return repo ? *repo : Repository{};
  }
  // Links the blobs a conformance::image() may reference.
  void link(const std::string& repository, const std::vector<Digest>& digests, uint64_t size = 10) {
    for (const Digest& d : digests) {
      EXPECT_TRUE(conformance::succeeded(store_->link_blob(repository, d, size, 2000))) << d.str();
    }
  }
  PutManifestOutcome put(const std::string& repository, const NewManifest& manifest, int64_t now_ms = 3000) {
    auto outcome = store_->put_manifest(repository, manifest, now_ms);
    EXPECT_TRUE(conformance::succeeded(outcome)) << manifest.digest.str();
    return outcome ? *outcome : PutManifestOutcome{};
  }
  std::vector<std::string> all_tags(const std::string& repository) {
    auto tags = store_->list_tags(repository, "", 1000);
    EXPECT_TRUE(conformance::succeeded(tags));
    return tags ? *tags : std::vector<std::string>{};
  }

  Factory factory_;
  std::unique_ptr<MetaStore> store_;
};

TYPED_TEST_SUITE_P(MetaStoreConformance);

using conformance::digest_of;
using conformance::fails_with;
using conformance::image;
using conformance::succeeded;

// ---- repositories ----

TYPED_TEST_P(MetaStoreConformance, CreateAndGetRepository) {
  MetaStore& s = this->store();
  auto created = s.create_repository("team/app", 1234);
  ASSERT_TRUE(succeeded(created));
  EXPECT_EQ(created->name, "team/app");
  EXPECT_EQ(created->created_at_ms, 1234);

  auto got = s.get_repository("team/app");
  ASSERT_TRUE(succeeded(got));
  EXPECT_EQ(got->id, created->id);
  EXPECT_EQ(got->name, "team/app");
  EXPECT_EQ(got->created_at_ms, 1234);

  auto other = s.create_repository("team/other", 5678);
  ASSERT_TRUE(succeeded(other));
  EXPECT_NE(other->id, created->id);

  EXPECT_TRUE(fails_with(s.create_repository("team/app", 9999), ErrorCode::kRepositoryExists));
  EXPECT_EQ(s.get_repository("team/app")->created_at_ms, 1234);  // the failed create changed nothing
  EXPECT_TRUE(fails_with(s.get_repository("team/missing"), ErrorCode::kNameUnknown));
  EXPECT_TRUE(fails_with(s.get_repository("team"), ErrorCode::kNameUnknown));  // no prefix matching
}

TYPED_TEST_P(MetaStoreConformance, ListRepositoriesInByteOrderWithPagination) {
  MetaStore& s = this->store();
  // Byte order: '-' < '.' < '/' < '0' < '_' < 'a'. Created out of order.
  const std::vector<std::string> sorted = {"a-b", "a.b", "a/b", "a0", "a_b", "ab", "b"};
  for (const char* name : {"ab", "a_b", "b", "a/b", "a-b", "a0", "a.b"}) this->create(name);

  auto all = s.list_repositories("", 100);
  ASSERT_TRUE(succeeded(all));
  EXPECT_EQ(*all, sorted);

  std::vector<std::string> paged;
  std::string after;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = s.list_repositories(after, 3);
    ASSERT_TRUE(succeeded(page));
    EXPECT_LE(page->size(), 3u);
    if (page->empty()) break;
    paged.insert(paged.end(), page->begin(), page->end());
    after = page->back();
  }
  EXPECT_EQ(paged, sorted);

  // `after` need not be an existing name; it is strictly exclusive.
  EXPECT_EQ(*s.list_repositories("a/", 2), (std::vector<std::string>{"a/b", "a0"}));
  EXPECT_EQ(*s.list_repositories("a0", 100), (std::vector<std::string>{"a_b", "ab", "b"}));
  EXPECT_TRUE(s.list_repositories("b", 100)->empty());
  EXPECT_TRUE(s.list_repositories("", 0)->empty());
}

TYPED_TEST_P(MetaStoreConformance, DeleteEmptyRepository) {
  MetaStore& s = this->store();
  this->create("empty");
  this->create("blobs-only");
  this->link("blobs-only", {digest_of("layer")});
  ASSERT_TRUE(succeeded(s.delete_repository("empty", false)));
  // Linked blobs alone do not make a repository "not empty".
  ASSERT_TRUE(succeeded(s.delete_repository("blobs-only", false)));
  EXPECT_TRUE(fails_with(s.get_repository("empty"), ErrorCode::kNameUnknown));
  EXPECT_TRUE(fails_with(s.get_repository("blobs-only"), ErrorCode::kNameUnknown));
  EXPECT_TRUE(s.list_repositories("", 10)->empty());
  EXPECT_TRUE(fails_with(s.any_blob_size(digest_of("layer")), ErrorCode::kBlobUnknown));
  EXPECT_TRUE(fails_with(s.delete_repository("empty", false), ErrorCode::kNameUnknown));
  EXPECT_TRUE(fails_with(s.delete_repository("empty", true), ErrorCode::kNameUnknown));
}

TYPED_TEST_P(MetaStoreConformance, DeleteRepositoryWithManifestsNeedsForce) {
  MetaStore& s = this->store();
  this->create("app");
  this->link("app", {digest_of("config"), digest_of("layer")});
  this->put("app", image("m1", {digest_of("config"), digest_of("layer")}, "v1"));
  ASSERT_TRUE(succeeded(s.create_upload(UploadRecord{.id = "u1", .repository = "app", .offset = 0,
                                                     .hash_state = "h", .started_at_ms = 1, .updated_at_ms = 1})));

  EXPECT_TRUE(fails_with(s.delete_repository("app", false), ErrorCode::kRepositoryNotEmpty));
  // Refused: nothing changed.
  EXPECT_TRUE(succeeded(s.get_tagged_manifest("app", "v1")));
  EXPECT_TRUE(succeeded(s.linked_blob_size("app", digest_of("layer"))));
  EXPECT_TRUE(succeeded(s.get_upload("u1")));

  ASSERT_TRUE(succeeded(s.delete_repository("app", true)));
  EXPECT_TRUE(fails_with(s.get_repository("app"), ErrorCode::kNameUnknown));
  EXPECT_TRUE(fails_with(s.get_upload("u1"), ErrorCode::kBlobUploadUnknown));
  EXPECT_TRUE(fails_with(s.any_blob_size(digest_of("layer")), ErrorCode::kBlobUnknown));

  // A new repository with the same name starts empty.
  this->create("app");
  EXPECT_TRUE(this->all_tags("app").empty());
  EXPECT_TRUE(fails_with(s.get_manifest("app", digest_of("m1")), ErrorCode::kManifestUnknown));
  EXPECT_TRUE(fails_with(s.get_tagged_manifest("app", "v1"), ErrorCode::kManifestUnknown));
  EXPECT_TRUE(fails_with(s.linked_blob_size("app", digest_of("layer")), ErrorCode::kBlobUnknown));
}

// ---- blobs ----

TYPED_TEST_P(MetaStoreConformance, BlobLinks) {
  MetaStore& s = this->store();
  this->create("a");
  this->create("b");
  const Digest layer = digest_of("layer");
  const uint64_t big = 5ull << 30;  // 5 GiB: sizes are 64-bit

  EXPECT_TRUE(fails_with(s.any_blob_size(layer), ErrorCode::kBlobUnknown));
  ASSERT_TRUE(succeeded(s.link_blob("a", layer, big, 100)));
  EXPECT_EQ(*s.linked_blob_size("a", layer), big);
  EXPECT_EQ(*s.any_blob_size(layer), big);
  // Linked to a, not to b: a blob is readable only where it was pushed or mounted.
  EXPECT_TRUE(fails_with(s.linked_blob_size("b", layer), ErrorCode::kBlobUnknown));

  // Linking again (a re-push) and mounting into b.
  ASSERT_TRUE(succeeded(s.link_blob("a", layer, big, 200)));
  ASSERT_TRUE(succeeded(s.link_blob("b", layer, big, 300)));
  EXPECT_EQ(*s.linked_blob_size("b", layer), big);

  // Empty blobs exist (the empty layer, the empty config).
  ASSERT_TRUE(succeeded(s.link_blob("a", digest_of("empty"), 0, 100)));
  EXPECT_EQ(*s.linked_blob_size("a", digest_of("empty")), 0u);

  ASSERT_TRUE(succeeded(s.unlink_blob("a", layer)));
  EXPECT_TRUE(fails_with(s.linked_blob_size("a", layer), ErrorCode::kBlobUnknown));
  EXPECT_TRUE(fails_with(s.unlink_blob("a", layer), ErrorCode::kBlobUnknown));
  EXPECT_EQ(*s.any_blob_size(layer), big);  // still linked to b
  ASSERT_TRUE(succeeded(s.unlink_blob("b", layer)));
  EXPECT_TRUE(fails_with(s.any_blob_size(layer), ErrorCode::kBlobUnknown));
  EXPECT_TRUE(fails_with(s.unlink_blob("b", digest_of("never")), ErrorCode::kBlobUnknown));

  // Relinking after an unlink works.
  ASSERT_TRUE(succeeded(s.link_blob("a", layer, big, 400)));
  EXPECT_EQ(*s.linked_blob_size("a", layer), big);
}

// ---- manifests ----

TYPED_TEST_P(MetaStoreConformance, PutAndGetManifest) {
  MetaStore& s = this->store();
  this->create("app");
  this->link("app", {digest_of("config"), digest_of("layer")});
  NewManifest m = image("m1", {digest_of("config"), digest_of("layer"), digest_of("layer")}, "v1");
  m.artifact_type = "application/vnd.example+type";
  m.subject = digest_of("subject");

  auto outcome = s.put_manifest("app", m, 4242);
  ASSERT_TRUE(succeeded(outcome));
  EXPECT_TRUE(outcome->created);
  EXPECT_FALSE(outcome->previous_tag_target);

  for (auto got : {s.get_manifest("app", m.digest), s.get_tagged_manifest("app", "v1")}) {
    ASSERT_TRUE(succeeded(got));
    EXPECT_EQ(got->digest, m.digest);
    EXPECT_EQ(got->media_type, m.media_type);
    EXPECT_EQ(got->artifact_type, m.artifact_type);
    EXPECT_EQ(got->subject, m.subject);
    EXPECT_EQ(got->content, m.content);  // bytes exactly, NUL and 0xff included
    EXPECT_EQ(got->pushed_at_ms, 4242);
    EXPECT_FALSE(got->last_pulled_at_ms);
  }

  // Without subject or artifact type.
  this->put("app", image("m2"));
  auto plain = s.get_manifest("app", digest_of("m2"));
  ASSERT_TRUE(succeeded(plain));
  EXPECT_FALSE(plain->subject);
  EXPECT_EQ(plain->artifact_type, "");
  EXPECT_EQ(this->all_tags("app"), (std::vector<std::string>{"v1"}));  // m2 had no tag
}

TYPED_TEST_P(MetaStoreConformance, RePutIsIdempotent) {
  MetaStore& s = this->store();
  this->create("app");
  this->link("app", {digest_of("layer")});
  const NewManifest m = image("m1", {digest_of("layer")}, "v1");
  EXPECT_TRUE(this->put("app", m, 100).created);

  auto again = s.put_manifest("app", m, 200);
  ASSERT_TRUE(succeeded(again));
  EXPECT_FALSE(again->created);
  EXPECT_FALSE(again->previous_tag_target);  // the tag already pointed here
  auto got = s.get_manifest("app", m.digest);
  ASSERT_TRUE(succeeded(got));
  EXPECT_EQ(got->pushed_at_ms, 100);  // first push time kept
  EXPECT_EQ(got->content, m.content);
  EXPECT_EQ(this->all_tags("app"), (std::vector<std::string>{"v1"}));

  // The same manifest in another repository is a separate record.
  this->create("other");
  this->link("other", {digest_of("layer")});
  EXPECT_TRUE(this->put("other", m, 300).created);
}

TYPED_TEST_P(MetaStoreConformance, TagMoveReportsPreviousTarget) {
  MetaStore& s = this->store();
  this->create("app");
  EXPECT_FALSE(this->put("app", image("m1", {}, "latest")).previous_tag_target);

  auto moved = s.put_manifest("app", image("m2", {}, "latest"), 5000);
  ASSERT_TRUE(succeeded(moved));
  EXPECT_TRUE(moved->created);
  EXPECT_EQ(moved->previous_tag_target, digest_of("m1"));
  EXPECT_EQ(s.get_tagged_manifest("app", "latest")->digest, digest_of("m2"));
  EXPECT_TRUE(succeeded(s.get_manifest("app", digest_of("m1"))));  // untagged, not deleted

  // Moving back to an existing manifest: not created, previous reported.
  auto back = s.put_manifest("app", image("m1", {}, "latest"), 6000);
  ASSERT_TRUE(succeeded(back));
  EXPECT_FALSE(back->created);
  EXPECT_EQ(back->previous_tag_target, digest_of("m2"));
  EXPECT_EQ(s.get_tagged_manifest("app", "latest")->digest, digest_of("m1"));

  // A second tag on the same manifest.
  auto second = s.put_manifest("app", image("m1", {}, "stable"), 7000);
  ASSERT_TRUE(succeeded(second));
  EXPECT_FALSE(second->created);
  EXPECT_FALSE(second->previous_tag_target);
  EXPECT_EQ(this->all_tags("app"), (std::vector<std::string>{"latest", "stable"}));
}

TYPED_TEST_P(MetaStoreConformance, PutManifestWithUnlinkedBlobWritesNothing) {
  MetaStore& s = this->store();
  this->create("app");
  this->create("other");
  this->link("app", {digest_of("config")});
  this->link("other", {digest_of("layer")});  // linked elsewhere does not count
  this->put("app", image("old", {digest_of("config")}, "v1"));

  const NewManifest bad = image("new", {digest_of("config"), digest_of("layer"), digest_of("layer2")}, "v1");
  auto r = s.put_manifest("app", bad, 5000);
  ASSERT_TRUE(fails_with(r, ErrorCode::kManifestBlobUnknown));
  EXPECT_NE(r.error().message.find(digest_of("layer").str()), std::string::npos) << r.error().message;

  EXPECT_TRUE(fails_with(s.get_manifest("app", bad.digest), ErrorCode::kManifestUnknown));
  EXPECT_EQ(s.get_tagged_manifest("app", "v1")->digest, digest_of("old"));  // tag not moved

  // And with a tag that did not exist before: not created.
  NewManifest bad_new_tag = bad;
  bad_new_tag.tag = "v2";
  EXPECT_TRUE(fails_with(s.put_manifest("app", bad_new_tag, 5000), ErrorCode::kManifestBlobUnknown));
  EXPECT_EQ(this->all_tags("app"), (std::vector<std::string>{"v1"}));

  // Once the blobs are linked, the same push succeeds.
  this->link("app", {digest_of("layer"), digest_of("layer2")});
  EXPECT_TRUE(this->put("app", bad_new_tag).created);
}

TYPED_TEST_P(MetaStoreConformance, PutIndexChecksChildren) {
  MetaStore& s = this->store();
  this->create("app");
  this->create("other");
  this->put("app", image("amd64"));
  this->put("other", image("arm64"));  // in another repository only

  NewManifest index = image("index", {}, "multi");
  index.media_type = "application/vnd.oci.image.index.v1+json";
  index.children = {digest_of("amd64"), digest_of("arm64")};
  auto r = s.put_manifest("app", index, 5000);
  ASSERT_TRUE(fails_with(r, ErrorCode::kManifestBlobUnknown));
  EXPECT_NE(r.error().message.find(digest_of("arm64").str()), std::string::npos) << r.error().message;
  EXPECT_TRUE(fails_with(s.get_manifest("app", index.digest), ErrorCode::kManifestUnknown));
  EXPECT_TRUE(this->all_tags("app").empty());

  this->put("app", image("arm64"));
  auto ok = s.put_manifest("app", index, 6000);
  ASSERT_TRUE(succeeded(ok));
  EXPECT_TRUE(ok->created);
  EXPECT_EQ(s.get_tagged_manifest("app", "multi")->media_type, index.media_type);
}

TYPED_TEST_P(MetaStoreConformance, GetUnknownManifest) {
  MetaStore& s = this->store();
  this->create("app");
  this->create("other");
  this->put("other", image("m1", {}, "v1"));
  EXPECT_TRUE(fails_with(s.get_manifest("app", digest_of("m1")), ErrorCode::kManifestUnknown));
  EXPECT_TRUE(fails_with(s.get_tagged_manifest("app", "v1"), ErrorCode::kManifestUnknown));
  EXPECT_TRUE(fails_with(s.get_tagged_manifest("other", "v2"), ErrorCode::kManifestUnknown));
}

TYPED_TEST_P(MetaStoreConformance, ListTagsInByteOrderWithPagination) {
  MetaStore& s = this->store();
  this->create("app");
  this->create("other");
  this->put("other", image("x", {}, "zzz-other-repo"));
  // Byte order: digits < uppercase < '_' < lowercase.
  const std::vector<std::string> sorted = {"1.0", "10", "9", "V1", "_x", "latest", "v1", "v1.1", "v10"};
  int n = 0;
  for (const char* tag : {"v10", "latest", "9", "_x", "v1", "1.0", "V1", "v1.1", "10"}) {
    this->put("app", image("m" + std::to_string(n++ % 3), {}, tag));
  }
  EXPECT_EQ(this->all_tags("app"), sorted);

  std::vector<std::string> paged;
  std::string after;
  for (int pages = 0; pages < 20; ++pages) {
    auto page = s.list_tags("app", after, 2);
    ASSERT_TRUE(succeeded(page));
    EXPECT_LE(page->size(), 2u);
    if (page->empty()) break;
    paged.insert(paged.end(), page->begin(), page->end());
    after = page->back();
  }
  EXPECT_EQ(paged, sorted);
  EXPECT_EQ(*s.list_tags("app", "latest", 2), (std::vector<std::string>{"v1", "v1.1"}));
  EXPECT_EQ(*s.list_tags("app", "v", 100), (std::vector<std::string>{"v1", "v1.1", "v10"}));
  EXPECT_TRUE(s.list_tags("app", "v10", 100)->empty());
  EXPECT_TRUE(s.list_tags("app", "", 0)->empty());

  this->create("untagged");
  this->put("untagged", image("m"));
  EXPECT_TRUE(this->all_tags("untagged").empty());
}

TYPED_TEST_P(MetaStoreConformance, DeleteManifestRemovesItsTags) {
  MetaStore& s = this->store();
  this->create("app");
  this->link("app", {digest_of("layer")});
  this->put("app", image("m1", {digest_of("layer")}, "a"));
  this->put("app", image("m1", {digest_of("layer")}, "b"));
  this->put("app", image("m2", {digest_of("layer")}, "c"));

  ASSERT_TRUE(succeeded(s.delete_manifest("app", digest_of("m1"))));
  EXPECT_TRUE(fails_with(s.get_manifest("app", digest_of("m1")), ErrorCode::kManifestUnknown));
  EXPECT_TRUE(fails_with(s.get_tagged_manifest("app", "a"), ErrorCode::kManifestUnknown));
  EXPECT_TRUE(fails_with(s.get_tagged_manifest("app", "b"), ErrorCode::kManifestUnknown));
  EXPECT_EQ(this->all_tags("app"), (std::vector<std::string>{"c"}));
  EXPECT_EQ(s.get_tagged_manifest("app", "c")->digest, digest_of("m2"));
  EXPECT_TRUE(succeeded(s.linked_blob_size("app", digest_of("layer"))));  // blobs stay linked

  EXPECT_TRUE(fails_with(s.delete_manifest("app", digest_of("m1")), ErrorCode::kManifestUnknown));
  EXPECT_TRUE(fails_with(s.delete_manifest("app", digest_of("never")), ErrorCode::kManifestUnknown));

  // Pushing it again creates it afresh, without the old tags.
  auto again = s.put_manifest("app", image("m1", {digest_of("layer")}), 9000);
  ASSERT_TRUE(succeeded(again));
  EXPECT_TRUE(again->created);
  EXPECT_EQ(s.get_manifest("app", digest_of("m1"))->pushed_at_ms, 9000);
  EXPECT_EQ(this->all_tags("app"), (std::vector<std::string>{"c"}));

  // A manifest listed by an index cannot be deleted while the index lives (as ECR's
  // ImageReferencedByManifestList): the index would point at nothing.
  NewManifest index = image("index", {}, "multi");
  index.children = {digest_of("m1"), digest_of("m2")};
  this->put("app", index);
  EXPECT_TRUE(fails_with(s.delete_manifest("app", digest_of("m1")), ErrorCode::kManifestReferenced));
  EXPECT_TRUE(succeeded(s.get_manifest("app", digest_of("m1"))));
  ASSERT_TRUE(succeeded(s.delete_manifest("app", index.digest)));
  ASSERT_TRUE(succeeded(s.delete_manifest("app", digest_of("m1"))));
  EXPECT_TRUE(succeeded(s.get_manifest("app", digest_of("m2"))));
}

TYPED_TEST_P(MetaStoreConformance, DeleteTag) {
  MetaStore& s = this->store();
  this->create("app");
  this->put("app", image("m1", {}, "a"));
  this->put("app", image("m1", {}, "b"));
  ASSERT_TRUE(succeeded(s.delete_tag("app", "a")));
  EXPECT_TRUE(fails_with(s.get_tagged_manifest("app", "a"), ErrorCode::kManifestUnknown));
  EXPECT_EQ(s.get_tagged_manifest("app", "b")->digest, digest_of("m1"));
  EXPECT_TRUE(succeeded(s.get_manifest("app", digest_of("m1"))));  // the manifest stays
  EXPECT_EQ(this->all_tags("app"), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(fails_with(s.delete_tag("app", "a"), ErrorCode::kManifestUnknown));
  EXPECT_TRUE(fails_with(s.delete_tag("app", "never"), ErrorCode::kManifestUnknown));
}

TYPED_TEST_P(MetaStoreConformance, Referrers) {
  MetaStore& s = this->store();
  this->create("app");
  this->create("other");
  const Digest subject = digest_of("subject");  // need not exist: referrers may come first
  auto referrer = [&](const std::string& seed, const std::string& artifact_type, const Digest& subj) {
    NewManifest m = image(seed);
    m.artifact_type = artifact_type;
    m.subject = subj;
    m.annotations_json = "{\"seed\":\"" + seed + "\"}";
    return m;
  };
  // Pushed out of digest order.
  this->put("app", referrer("r3-sig", "application/sig", subject));
  this->put("app", referrer("r1-sbom", "application/sbom", subject));
  this->put("app", referrer("r2-sig", "application/sig", subject));
  this->put("app", referrer("r4-else", "application/sig", digest_of("other-subject")));
  this->put("other", referrer("r5-other-repo", "application/sig", subject));
  this->put("app", image("plain"));

  auto all = s.referrers("app", subject, std::nullopt);
  ASSERT_TRUE(succeeded(all));
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].digest, digest_of("r1-sbom"));
  EXPECT_EQ((*all)[1].digest, digest_of("r2-sig"));
  EXPECT_EQ((*all)[2].digest, digest_of("r3-sig"));
  const NewManifest r1 = referrer("r1-sbom", "application/sbom", subject);
  EXPECT_EQ((*all)[0].media_type, r1.media_type);
  EXPECT_EQ((*all)[0].artifact_type, "application/sbom");
  EXPECT_EQ((*all)[0].size, static_cast<int64_t>(r1.content.size()));
  EXPECT_EQ((*all)[0].annotations_json, r1.annotations_json);

  auto sigs = s.referrers("app", subject, std::string("application/sig"));
  ASSERT_TRUE(succeeded(sigs));
  ASSERT_EQ(sigs->size(), 2u);
  EXPECT_EQ((*sigs)[0].digest, digest_of("r2-sig"));
  EXPECT_EQ((*sigs)[1].digest, digest_of("r3-sig"));

  EXPECT_TRUE(s.referrers("app", subject, std::string("application/none"))->empty());
  EXPECT_TRUE(s.referrers("app", digest_of("nothing"), std::nullopt)->empty());

  ASSERT_TRUE(succeeded(s.delete_manifest("app", digest_of("r2-sig"))));
  sigs = s.referrers("app", subject, std::string("application/sig"));
  ASSERT_TRUE(succeeded(sigs));
  ASSERT_EQ(sigs->size(), 1u);
  EXPECT_EQ((*sigs)[0].digest, digest_of("r3-sig"));
}

TYPED_TEST_P(MetaStoreConformance, RecordPull) {
  MetaStore& s = this->store();
  this->create("app");
  this->put("app", image("m1", {}, "v1"));
  ASSERT_TRUE(succeeded(s.record_pull("app", digest_of("m1"), 7000)));
  EXPECT_EQ(s.get_manifest("app", digest_of("m1"))->last_pulled_at_ms, 7000);
  EXPECT_EQ(s.get_tagged_manifest("app", "v1")->last_pulled_at_ms, 7000);
  ASSERT_TRUE(succeeded(s.record_pull("app", digest_of("m1"), 8000)));
  EXPECT_EQ(s.get_manifest("app", digest_of("m1"))->last_pulled_at_ms, 8000);
  EXPECT_EQ(s.get_manifest("app", digest_of("m1"))->pushed_at_ms, 3000);
  EXPECT_TRUE(fails_with(s.record_pull("app", digest_of("never"), 9000), ErrorCode::kManifestUnknown));
}

// ---- uploads ----

TYPED_TEST_P(MetaStoreConformance, UploadLifecycle) {
  MetaStore& s = this->store();
  this->create("app");
  const std::string state0 = std::string("state\0zero", 10);
  ASSERT_TRUE(succeeded(s.create_upload(UploadRecord{.id = "u1", .repository = "app", .offset = 0,
                                                     .hash_state = state0, .started_at_ms = 100,
                                                     .updated_at_ms = 100})));
  auto got = s.get_upload("u1");
  ASSERT_TRUE(succeeded(got));
  EXPECT_EQ(got->id, "u1");
  EXPECT_EQ(got->repository, "app");
  EXPECT_EQ(got->offset, 0u);
  EXPECT_EQ(got->hash_state, state0);
  EXPECT_EQ(got->started_at_ms, 100);
  EXPECT_EQ(got->updated_at_ms, 100);

  const uint64_t far = 6ull << 30;
  ASSERT_TRUE(succeeded(s.advance_upload("u1", 0, far, "state-far", 200)));
  got = s.get_upload("u1");
  ASSERT_TRUE(succeeded(got));
  EXPECT_EQ(got->offset, far);
  EXPECT_EQ(got->hash_state, "state-far");
  EXPECT_EQ(got->started_at_ms, 100);
  EXPECT_EQ(got->updated_at_ms, 200);

  // Compare-and-set: a stale writer fails and changes nothing.
  EXPECT_TRUE(fails_with(s.advance_upload("u1", 0, 10, "stale", 300), ErrorCode::kRangeInvalid));
  EXPECT_TRUE(fails_with(s.advance_upload("u1", far + 1, far + 2, "stale", 300), ErrorCode::kRangeInvalid));
  got = s.get_upload("u1");
  ASSERT_TRUE(succeeded(got));
  EXPECT_EQ(got->offset, far);
  EXPECT_EQ(got->hash_state, "state-far");
  EXPECT_EQ(got->updated_at_ms, 200);

  EXPECT_TRUE(fails_with(s.advance_upload("nope", 0, 10, "x", 300), ErrorCode::kBlobUploadUnknown));
  EXPECT_TRUE(fails_with(s.get_upload("nope"), ErrorCode::kBlobUploadUnknown));

  ASSERT_TRUE(succeeded(s.delete_upload("u1")));
  EXPECT_TRUE(fails_with(s.get_upload("u1"), ErrorCode::kBlobUploadUnknown));
  EXPECT_TRUE(fails_with(s.delete_upload("u1"), ErrorCode::kBlobUploadUnknown));
  EXPECT_TRUE(fails_with(s.advance_upload("u1", far, far + 1, "x", 400), ErrorCode::kBlobUploadUnknown));
}

TYPED_TEST_P(MetaStoreConformance, UploadsIdleSince) {
  MetaStore& s = this->store();
  this->create("a");
  this->create("b");
  auto upload = [](const std::string& id, const std::string& repository, int64_t t) {
    return UploadRecord{.id = id, .repository = repository, .offset = 0, .hash_state = "s",
                        .started_at_ms = t, .updated_at_ms = t};
  };
  ASSERT_TRUE(succeeded(s.create_upload(upload("u100", "a", 100))));
  ASSERT_TRUE(succeeded(s.create_upload(upload("u200", "b", 200))));
  ASSERT_TRUE(succeeded(s.create_upload(upload("u300", "a", 300))));

  auto ids = [&](int64_t before) {
    std::vector<std::string> out;
    auto idle = s.uploads_idle_since(before);
    EXPECT_TRUE(succeeded(idle));
    if (idle) {
      for (const UploadRecord& u : *idle) out.push_back(u.id);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(ids(250), (std::vector<std::string>{"u100", "u200"}));
  EXPECT_EQ(ids(200), (std::vector<std::string>{"u100"}));  // strictly before
  EXPECT_TRUE(ids(100).empty());

  // Activity refreshes an upload.
  ASSERT_TRUE(succeeded(s.advance_upload("u100", 0, 5, "s5", 400)));
  EXPECT_EQ(ids(250), (std::vector<std::string>{"u200"}));
  auto idle = s.uploads_idle_since(1000);
  ASSERT_TRUE(succeeded(idle));
  ASSERT_EQ(idle->size(), 3u);
  for (const UploadRecord& u : *idle) {
    EXPECT_EQ(u.repository, u.id == "u200" ? "b" : "a");
  }
}

// ---- errors that every repository-scoped call shares ----

TYPED_TEST_P(MetaStoreConformance, UnknownRepository) {
  MetaStore& s = this->store();
  this->create("exists");
  const std::string r = "missing";
  const Digest d = digest_of("d");
  constexpr ErrorCode k = ErrorCode::kNameUnknown;
  EXPECT_TRUE(fails_with(s.get_repository(r), k));
  EXPECT_TRUE(fails_with(s.delete_repository(r, false), k));
  EXPECT_TRUE(fails_with(s.link_blob(r, d, 1, 1), k));
  EXPECT_TRUE(fails_with(s.linked_blob_size(r, d), k));
  EXPECT_TRUE(fails_with(s.unlink_blob(r, d), k));
  EXPECT_TRUE(fails_with(s.put_manifest(r, image("m", {}, "t"), 1), k));
  EXPECT_TRUE(fails_with(s.get_manifest(r, d), k));
  EXPECT_TRUE(fails_with(s.get_tagged_manifest(r, "t"), k));
  EXPECT_TRUE(fails_with(s.list_tags(r, "", 10), k));
  EXPECT_TRUE(fails_with(s.delete_manifest(r, d), k));
  EXPECT_TRUE(fails_with(s.delete_tag(r, "t"), k));
  EXPECT_TRUE(fails_with(s.referrers(r, d, std::nullopt), k));
  EXPECT_TRUE(fails_with(s.record_pull(r, d, 1), k));
  EXPECT_TRUE(fails_with(s.create_upload(UploadRecord{.id = "u", .repository = r, .offset = 0, .hash_state = "",
                                                  .started_at_ms = 1, .updated_at_ms = 1}), k));
  // None of it created anything.
  EXPECT_EQ(*s.list_repositories("", 10), (std::vector<std::string>{"exists"}));
  EXPECT_TRUE(fails_with(s.any_blob_size(d), ErrorCode::kBlobUnknown));
  EXPECT_TRUE(fails_with(s.get_upload("u"), ErrorCode::kBlobUploadUnknown));
}

// ---- concurrency ----

// Writers push and retag while readers resolve tags: catches lost updates, torn reads
// and locking bugs (run under TSan or ASan).
TYPED_TEST_P(MetaStoreConformance, ConcurrentPushesAndReads) {
  MetaStore& s = this->store();
  this->create("busy");
  const Digest layer = digest_of("layer");
  this->link("busy", {layer}, 77);
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 15;
  constexpr int kReaders = 3;

  std::atomic<int> writers_left{kWriters};
  std::atomic<int> reads{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string seed = "w" + std::to_string(w) + "-" + std::to_string(i);
        auto own = s.put_manifest("busy", image(seed, {layer}, seed), 1000 + i);
        EXPECT_TRUE(succeeded(own)) << seed;
        if (own) {
          EXPECT_TRUE(own->created) << seed;
        }
        auto latest = s.put_manifest("busy", image(seed, {layer}, "latest"), 1000 + i);
        EXPECT_TRUE(succeeded(latest)) << seed;
        if (latest) {
          EXPECT_FALSE(latest->created) << seed;
        }
      }
      writers_left.fetch_sub(1);
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&] {
      do {
        auto latest = s.get_tagged_manifest("busy", "latest");
        if (latest) {
          // Whatever "latest" points at is a whole manifest, content matching digest.
          const std::string prefix = "{\"seed\":\"";
          const auto end = latest->content.find('"', prefix.size());
          ASSERT_NE(end, std::string::npos);
          EXPECT_EQ(latest->digest, digest_of(latest->content.substr(prefix.size(), end - prefix.size())));
        } else {
          EXPECT_EQ(latest.error().code, ErrorCode::kManifestUnknown);
        }
        auto tags = s.list_tags("busy", "", 1000);
        EXPECT_TRUE(succeeded(tags));
        auto size = s.linked_blob_size("busy", layer);
        EXPECT_TRUE(succeeded(size));
        if (size) {
          EXPECT_EQ(*size, 77u);
        }
        reads.fetch_add(1);
      } while (writers_left.load() > 0);
    });
  }
  for (auto& t : threads) t.join();

  EXPECT_GT(reads.load(), 0);
  const auto tags = this->all_tags("busy");
  EXPECT_EQ(tags.size(), static_cast<size_t>(kWriters * kPerWriter + 1));
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kPerWriter; ++i) {
      const std::string seed = "w" + std::to_string(w) + "-" + std::to_string(i);
      auto got = s.get_tagged_manifest("busy", seed);
      ASSERT_TRUE(succeeded(got)) << seed;
      EXPECT_EQ(got->digest, digest_of(seed));
    }
  }
}

// Many writers race to advance one upload from the same offset: exactly one wins.
TYPED_TEST_P(MetaStoreConformance, ConcurrentUploadAdvanceIsCompareAndSet) {
  MetaStore& s = this->store();
  this->create("app");
  ASSERT_TRUE(succeeded(s.create_upload(UploadRecord{.id = "u", .repository = "app", .offset = 0,
                                                     .hash_state = "s0", .started_at_ms = 1,
                                                     .updated_at_ms = 1})));
  constexpr int kThreads = 6;
  constexpr int kRounds = 10;
  std::atomic<int> wins{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t round = 0; round < kRounds; ++round) {
        // Everyone tries to move round*10 -> round*10+10; losers retry the next round.
        auto r = s.advance_upload("u", round * 10, round * 10 + 10, "s" + std::to_string(t), 2);
        if (r) {
          wins.fetch_add(1);
        } else {
          EXPECT_EQ(r.error().code, ErrorCode::kRangeInvalid) << r.error().message;
          conflicts.fetch_add(1);
        }
        // Wait until the round's winner has moved the offset on.
        for (;;) {
          auto u = s.get_upload("u");
          ASSERT_TRUE(succeeded(u));
          if (u->offset >= round * 10 + 10) break;
          std::this_thread::yield();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), kRounds);
  EXPECT_EQ(conflicts.load(), kRounds * (kThreads - 1));
  EXPECT_EQ(s.get_upload("u")->offset, static_cast<uint64_t>(kRounds * 10));
}

TYPED_TEST_P(MetaStoreConformance, ListImages) {
  auto& s = this->store();
  ASSERT_TRUE(succeeded(s.create_repository("imgs", 1)));
  ASSERT_TRUE(succeeded(s.link_blob("imgs", digest_of("cfg"), 10, 1)));
  ASSERT_TRUE(succeeded(s.link_blob("imgs", digest_of("layer"), 100, 1)));
  NewManifest a = image("a", {digest_of("cfg"), digest_of("layer")}, "v2");
  ASSERT_TRUE(succeeded(s.put_manifest("imgs", a, 5)));
  NewManifest a2 = a;
  a2.tag = "v1";
  ASSERT_TRUE(succeeded(s.put_manifest("imgs", a2, 6)));
  NewManifest b = image("b", {digest_of("cfg")});
  ASSERT_TRUE(succeeded(s.put_manifest("imgs", b, 7)));
  auto all = s.list_images("imgs", "", 10);
  ASSERT_TRUE(succeeded(all));
  ASSERT_EQ(all->size(), 2u);
  EXPECT_LT((*all)[0].digest.str(), (*all)[1].digest.str());
  for (const auto& img : *all) {
    if (img.digest == a.digest) {
      EXPECT_EQ(img.tags, (std::vector<std::string>{"v1", "v2"}));
      EXPECT_EQ(img.size_bytes, 110u);
      EXPECT_EQ(img.pushed_at_ms, 5);
    } else {
      EXPECT_TRUE(img.tags.empty());
      EXPECT_EQ(img.size_bytes, 10u);
    }
  }
  auto page = s.list_images("imgs", (*all)[0].digest.str(), 10);
  ASSERT_TRUE(succeeded(page));
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].digest, (*all)[1].digest);
  EXPECT_TRUE(fails_with(s.list_images("nope", "", 10), ErrorCode::kNameUnknown));
  auto one = s.get_image("imgs", a.digest);
  ASSERT_TRUE(succeeded(one));
  EXPECT_EQ(one->tags, (std::vector<std::string>{"v1", "v2"}));
  EXPECT_EQ(one->size_bytes, 110u);
  EXPECT_EQ(one->pushed_at_ms, 5);
  EXPECT_TRUE(s.get_image("imgs", b.digest)->tags.empty());
  EXPECT_TRUE(fails_with(s.get_image("imgs", digest_of("absent")), ErrorCode::kManifestUnknown));
  EXPECT_TRUE(fails_with(s.get_image("nope", a.digest), ErrorCode::kNameUnknown));
}

TYPED_TEST_P(MetaStoreConformance, ImmutableTagsAndSettings) {
  auto& s = this->store();
  ASSERT_TRUE(succeeded(s.create_repository("immut", 1)));
  NewManifest a = image("ia", {}, "v1");
  a.tag_immutable = true;
  ASSERT_TRUE(succeeded(s.put_manifest("immut", a, 2)));
  ASSERT_TRUE(succeeded(s.put_manifest("immut", a, 3)));  // same digest again: fine
  NewManifest b = image("ib", {}, "v1");
  b.tag_immutable = true;
  EXPECT_TRUE(fails_with(s.put_manifest("immut", b, 4), ErrorCode::kTagImmutable));
  EXPECT_TRUE(fails_with(s.get_manifest("immut", b.digest), ErrorCode::kManifestUnknown));  // nothing kept
  EXPECT_EQ(s.get_tagged_manifest("immut", "v1")->digest, a.digest);
  b.tag_immutable = false;
  ASSERT_TRUE(succeeded(s.put_manifest("immut", b, 5)));
  EXPECT_EQ(s.get_tagged_manifest("immut", "v1")->digest, b.digest);

  const std::string before = s.get_repository("immut")->settings_json;
  EXPECT_EQ(s.update_repository_settings("immut", before, R"({"x":1})"), true);
  EXPECT_EQ(s.get_repository("immut")->settings_json, R"({"x":1})");
  // A writer that read the settings before that change sets nothing.
  EXPECT_EQ(s.update_repository_settings("immut", before, R"({"y":2})"), false);
  EXPECT_EQ(s.get_repository("immut")->settings_json, R"({"x":1})");
  EXPECT_TRUE(fails_with(s.update_repository_settings("nope", "{}", "{}"), ErrorCode::kNameUnknown));
  EXPECT_FALSE(s.get_setting("k")->has_value());
  ASSERT_TRUE(succeeded(s.put_setting("k", "1")));
  ASSERT_TRUE(succeeded(s.put_setting("k", "2")));
  EXPECT_EQ(**s.get_setting("k"), "2");
}

TYPED_TEST_P(MetaStoreConformance, AccessKeysAndSettings) {
  auto& s = this->store();
  const AccessKeyRecord k{.id = "AKIATESTKEY000000001", .account_id = "123456789012",
                          .principal_arn = "arn:aws:iam::123456789012:root", .sealed_secret = std::string("\0sealed", 7),
                          .created_at_ms = 5};
  ASSERT_TRUE(succeeded(s.create_access_key(k)));
  EXPECT_TRUE(fails_with(s.create_access_key(k), ErrorCode::kInvalidParameter));
  auto got = s.get_access_key(k.id);
  ASSERT_TRUE(succeeded(got));
  EXPECT_EQ(got->sealed_secret, k.sealed_secret);
  EXPECT_EQ(got->principal_arn, k.principal_arn);
  auto listed = s.list_access_keys(k.principal_arn);
  ASSERT_TRUE(succeeded(listed));
  EXPECT_EQ(listed->size(), 1u);
  // Keys of one kind by id prefix, page by page.
  for (const char* id : {"ASIATESTKEY000000003", "ASIATESTKEY000000001", "ASIBTESTKEY000000001", "ASIATESTKEY000000002",
                         "ASHZTESTKEY000000001"}) {
    AccessKeyRecord session = k;
    session.id = id;
    session.principal_arn = "arn:aws:sts::123456789012:assumed-role/r/s";
    ASSERT_TRUE(succeeded(s.create_access_key(session)));
  }
  auto page = s.list_access_keys_by_id("ASIA", "", 2);
  ASSERT_TRUE(succeeded(page));
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, "ASIATESTKEY000000001");
  EXPECT_EQ((*page)[1].id, "ASIATESTKEY000000002");
  EXPECT_EQ((*page)[1].principal_arn, "arn:aws:sts::123456789012:assumed-role/r/s");
  page = s.list_access_keys_by_id("ASIA", (*page)[1].id, 2);
  ASSERT_TRUE(succeeded(page));
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, "ASIATESTKEY000000003");
  page = s.list_access_keys_by_id("ASIA", "ASIATESTKEY000000003", 2);
  ASSERT_TRUE(succeeded(page));
  EXPECT_TRUE(page->empty());
  EXPECT_TRUE(fails_with(s.list_access_keys_by_id("", "", 2), ErrorCode::kInvalidParameter));

  ASSERT_TRUE(succeeded(s.delete_access_key(k.id)));
  EXPECT_TRUE(fails_with(s.get_access_key(k.id), ErrorCode::kNotFound));
  EXPECT_TRUE(fails_with(s.delete_access_key(k.id), ErrorCode::kNotFound));

  auto first = s.setting_or_init("account_id", "111111111111");
  ASSERT_TRUE(succeeded(first));
  EXPECT_EQ(*first, "111111111111");
  auto second = s.setting_or_init("account_id", "222222222222");
  ASSERT_TRUE(succeeded(second));
  EXPECT_EQ(*second, "111111111111");

  auto repo = s.create_repository("with/settings", 1, R"({"imageTagMutability":"IMMUTABLE"})");
  ASSERT_TRUE(succeeded(repo));
  EXPECT_EQ(s.get_repository("with/settings")->settings_json, R"({"imageTagMutability":"IMMUTABLE"})");
  EXPECT_EQ(*s.create_repository("plain", 1).map([](const Repository& r) { return r.settings_json; }), "{}");
}

TYPED_TEST_P(MetaStoreConformance, PrincipalsPoliciesAccounts) {
  auto& s = this->store();
  ASSERT_TRUE(succeeded(s.create_account("210987654321", 1)));
  EXPECT_TRUE(fails_with(s.create_account("210987654321", 2), ErrorCode::kInvalidParameter));
  EXPECT_EQ(*s.list_accounts(), std::vector<std::string>{"210987654321"});

  const PrincipalRecord u{.arn = "arn:aws:iam::123456789012:user/ci", .account_id = "123456789012", .kind = "user",
                          .name = "ci", .created_at_ms = 7};
  const PrincipalRecord r{.arn = "arn:aws:iam::123456789012:role/deploy", .account_id = "123456789012",
                          .kind = "role", .name = "deploy", .created_at_ms = 8};
  ASSERT_TRUE(succeeded(s.create_principal(u)));
  ASSERT_TRUE(succeeded(s.create_principal(r)));
  EXPECT_TRUE(fails_with(s.create_principal(u), ErrorCode::kInvalidParameter));
  auto got = s.get_principal(u.arn);
  ASSERT_TRUE(succeeded(got));
  EXPECT_EQ(got->name, "ci");
  EXPECT_EQ(got->kind, "user");
  EXPECT_EQ(got->created_at_ms, 7);
  auto listed = s.list_principals("123456789012");
  ASSERT_TRUE(succeeded(listed));
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].arn, r.arn);  // ordered by ARN: role/ before user/
  EXPECT_TRUE(s.list_principals("999999999999")->empty());

  ASSERT_TRUE(succeeded(s.put_principal_policy(u.arn, "pull", "{\"a\":1}")));
  ASSERT_TRUE(succeeded(s.put_principal_policy(u.arn, "pull", "{\"a\":2}")));  // replaces
  ASSERT_TRUE(succeeded(s.put_principal_policy(u.arn, "aa", "{}")));
  EXPECT_TRUE(fails_with(s.put_principal_policy("arn:aws:iam::123456789012:user/none", "p", "{}"),
                         ErrorCode::kNotFound));
  auto policies = s.list_principal_policies(u.arn);
  ASSERT_TRUE(succeeded(policies));
  ASSERT_EQ(policies->size(), 2u);
  EXPECT_EQ((*policies)[0].name, "aa");
  EXPECT_EQ((*policies)[1].document, "{\"a\":2}");

  const AccessKeyRecord k{.id = "AKIAUSERKEY000000001", .account_id = "123456789012", .principal_arn = u.arn,
                          .sealed_secret = "sealed", .created_at_ms = 9};
  ASSERT_TRUE(succeeded(s.create_access_key(k)));
  ASSERT_TRUE(succeeded(s.delete_principal(u.arn)));
  EXPECT_TRUE(fails_with(s.get_principal(u.arn), ErrorCode::kNotFound));
  EXPECT_TRUE(fails_with(s.get_access_key(k.id), ErrorCode::kNotFound));
  EXPECT_TRUE(s.list_principal_policies(u.arn)->empty());
  EXPECT_TRUE(fails_with(s.delete_principal(u.arn), ErrorCode::kNotFound));
  EXPECT_TRUE(succeeded(s.get_principal(r.arn)));
}

TYPED_TEST_P(MetaStoreConformance, RepositoryPolicy) {
  auto& s = this->store();
  ASSERT_TRUE(succeeded(s.create_repository("pol/repo", 1)));
  auto none = s.get_repository_policy("pol/repo");
  ASSERT_TRUE(succeeded(none));
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(succeeded(s.set_repository_policy("pol/repo", "{\"Version\":\"2012-10-17\"}")));
  EXPECT_EQ(s.get_repository_policy("pol/repo")->value_or(""), "{\"Version\":\"2012-10-17\"}");
  ASSERT_TRUE(succeeded(s.delete_repository_policy("pol/repo")));
  EXPECT_FALSE(s.get_repository_policy("pol/repo")->has_value());
  EXPECT_TRUE(fails_with(s.set_repository_policy("nope", "{}"), ErrorCode::kNameUnknown));
  EXPECT_TRUE(fails_with(s.get_repository_policy("nope"), ErrorCode::kNameUnknown));
  EXPECT_TRUE(fails_with(s.delete_repository_policy("nope"), ErrorCode::kNameUnknown));
}

// ---- garbage collection ----

TYPED_TEST_P(MetaStoreConformance, StaleLinksAreUnreferencedAndOld) {
  auto& s = this->store();
  this->create("gc");
  this->create("other");
  ASSERT_TRUE(succeeded(s.link_blob("gc", digest_of("used"), 10, 100)));
  ASSERT_TRUE(succeeded(s.link_blob("gc", digest_of("old"), 20, 100)));
  ASSERT_TRUE(succeeded(s.link_blob("gc", digest_of("young"), 30, 500)));
  ASSERT_TRUE(succeeded(s.link_blob("other", digest_of("used"), 10, 100)));  // unreferenced in "other"
  this->put("gc", image("m", {digest_of("used")}));
  auto stale = s.stale_blob_links(200, 100);
  ASSERT_TRUE(succeeded(stale));
  ASSERT_EQ(stale->size(), 2u);
  EXPECT_EQ((*stale)[0].repository, "gc");
  EXPECT_EQ((*stale)[0].digest, digest_of("old"));
  EXPECT_EQ((*stale)[0].size, 20u);
  EXPECT_EQ((*stale)[1].repository, "other");
  EXPECT_EQ((*stale)[1].digest, digest_of("used"));
  // Reading changed nothing; dropping takes them (in pages) and only them.
  auto first = s.drop_stale_blob_links(200, 1);
  ASSERT_TRUE(succeeded(first));
  EXPECT_EQ(first->size(), 1u);
  auto rest = s.drop_stale_blob_links(200, 100);
  ASSERT_TRUE(succeeded(rest));
  EXPECT_EQ(rest->size(), 1u);
  EXPECT_TRUE(fails_with(s.linked_blob_size("gc", digest_of("old")), ErrorCode::kBlobUnknown));
  EXPECT_TRUE(fails_with(s.linked_blob_size("other", digest_of("used")), ErrorCode::kBlobUnknown));
  EXPECT_TRUE(succeeded(s.linked_blob_size("gc", digest_of("used"))));
  EXPECT_TRUE(succeeded(s.linked_blob_size("gc", digest_of("young"))));
  // A manifest that needed a dropped link fails cleanly.
  EXPECT_TRUE(fails_with(s.put_manifest("gc", image("n", {digest_of("old")}), 600), ErrorCode::kManifestBlobUnknown));
  auto none = s.drop_stale_blob_links(200, 100);
  ASSERT_TRUE(succeeded(none));
  EXPECT_TRUE(none->empty());
}

TYPED_TEST_P(MetaStoreConformance, UnreferencedBlobsAndDeletions) {
  auto& s = this->store();
  this->create("gc");
  ASSERT_TRUE(succeeded(s.link_blob("gc", digest_of("a"), 1, 100)));
  ASSERT_TRUE(succeeded(s.link_blob("gc", digest_of("b"), 2, 100)));
  ASSERT_TRUE(succeeded(s.link_blob("gc", digest_of("c"), 3, 500)));
  ASSERT_TRUE(succeeded(s.link_blob("gc", digest_of("d"), 4, 100)));
  this->put("gc", image("m", {digest_of("a")}));
  ASSERT_TRUE(succeeded(s.unlink_blob("gc", digest_of("b"))));
  // Counting every link: only b (unlinked) is unreferenced.
  auto now = s.unreferenced_blobs(0, "", 100);
  ASSERT_TRUE(succeeded(now));
  ASSERT_EQ(now->size(), 1u);
  EXPECT_EQ((*now)[0].digest, digest_of("b"));
  EXPECT_EQ((*now)[0].size, 2u);
  // Ignoring links older than 200: d too (a is referenced, c linked recently).
  auto later = s.unreferenced_blobs(200, "", 100);
  ASSERT_TRUE(succeeded(later));
  ASSERT_EQ(later->size(), 2u);
  EXPECT_EQ((*later)[1].digest, digest_of("d"));
  auto paged = s.unreferenced_blobs(200, digest_of("b").str(), 100);
  ASSERT_TRUE(succeeded(paged));
  ASSERT_EQ(paged->size(), 1u);

  // Only b is free of links, references and commits: the re-check keeps the others.
  auto marked = s.begin_blob_deletions({digest_of("a"), digest_of("b"), digest_of("c"), digest_of("d")}, 700);
  ASSERT_TRUE(succeeded(marked));
  ASSERT_EQ(*marked, std::vector<Digest>{digest_of("b")});
  auto pending = s.pending_blob_deletions();
  ASSERT_TRUE(succeeded(pending));
  EXPECT_EQ(*pending, std::vector<Digest>{digest_of("b")});
  // While the deletion is pending no link is made to b: a mount does not find it, an
  // upload waits before committing, and recording its bytes is refused.
  EXPECT_TRUE(fails_with(s.mount_blob("gc", digest_of("b"), 800), ErrorCode::kBlobUnknown));
  EXPECT_TRUE(fails_with(s.link_blob("gc", digest_of("b"), 2, 800), ErrorCode::kUnavailable));
  UploadRecord u{.id = "u1", .repository = "gc", .offset = 0, .hash_state = "h", .started_at_ms = 1,
                 .updated_at_ms = 1};
  ASSERT_TRUE(succeeded(s.create_upload(u)));
  auto waits = s.begin_blob_commit("u1", digest_of("b"), 800);
  ASSERT_TRUE(succeeded(waits));
  EXPECT_FALSE(*waits);
  auto unrecorded = s.unrecorded_blobs({digest_of("a"), digest_of("b"), digest_of("z")});
  ASSERT_TRUE(succeeded(unrecorded));
  EXPECT_EQ(*unrecorded, std::vector<Digest>{digest_of("z")});  // b is pending, not unknown

  ASSERT_TRUE(succeeded(s.end_blob_deletions({digest_of("b")})));
  pending = s.pending_blob_deletions();
  ASSERT_TRUE(succeeded(pending));
  EXPECT_TRUE(pending->empty());
  // An upload committing z keeps z's bytes from a collector, until the upload is gone.
  auto commits = s.begin_blob_commit("u1", digest_of("z"), 900);
  ASSERT_TRUE(succeeded(commits));
  EXPECT_TRUE(*commits);
  EXPECT_TRUE(fails_with(s.begin_blob_commit("nope", digest_of("z"), 900), ErrorCode::kBlobUploadUnknown));
  marked = s.begin_blob_deletions({digest_of("z")}, 900);
  ASSERT_TRUE(succeeded(marked));
  EXPECT_TRUE(marked->empty());
  ASSERT_TRUE(succeeded(s.link_blob("gc", digest_of("z"), 26, 900)));
  ASSERT_TRUE(succeeded(s.delete_upload("u1")));
  // Bytes nobody recorded can be marked too (a crash between storing and recording).
  marked = s.begin_blob_deletions({digest_of("orphan")}, 900);
  ASSERT_TRUE(succeeded(marked));
  EXPECT_EQ(marked->size(), 1u);
  ASSERT_TRUE(succeeded(s.end_blob_deletions(*marked)));
}

TYPED_TEST_P(MetaStoreConformance, MountLinksOnlyRecordedBlobs) {
  auto& s = this->store();
  this->create("src");
  this->create("dst");
  ASSERT_TRUE(succeeded(s.link_blob("src", digest_of("x"), 42, 100)));
  auto size = s.mount_blob("dst", digest_of("x"), 200);
  ASSERT_TRUE(succeeded(size));
  EXPECT_EQ(*size, 42u);
  EXPECT_TRUE(succeeded(s.linked_blob_size("dst", digest_of("x"))));
  EXPECT_TRUE(fails_with(s.mount_blob("dst", digest_of("never"), 200), ErrorCode::kBlobUnknown));
  EXPECT_TRUE(fails_with(s.mount_blob("nope", digest_of("x"), 200), ErrorCode::kNameUnknown));
}

TYPED_TEST_P(MetaStoreConformance, StorageUsageCountsSharedBlobsOnce) {
  auto& s = this->store();
  this->create("one");
  this->create("two");
  this->create("empty");
  ASSERT_TRUE(succeeded(s.link_blob("one", digest_of("shared"), 100, 1)));
  ASSERT_TRUE(succeeded(s.link_blob("one", digest_of("own"), 10, 1)));
  ASSERT_TRUE(succeeded(s.link_blob("two", digest_of("shared"), 100, 1)));
  NewManifest a = image("a", {digest_of("shared"), digest_of("own")});
  NewManifest b = image("b", {digest_of("shared")});
  this->put("one", a);
  this->put("one", b);
  this->put("two", b);
  auto usage = s.storage_usage();
  ASSERT_TRUE(succeeded(usage));
  EXPECT_EQ(usage->blobs, 2u);
  EXPECT_EQ(usage->blob_bytes, 110u);
  EXPECT_EQ(usage->manifests, 3u);
  EXPECT_EQ(usage->manifest_bytes, a.content.size() + 2 * b.content.size());
  ASSERT_EQ(usage->repositories.size(), 3u);
  EXPECT_EQ(usage->repositories[0].repository, "empty");
  EXPECT_EQ(usage->repositories[0].blob_bytes, 0u);
  EXPECT_EQ(usage->repositories[1].repository, "one");
  EXPECT_EQ(usage->repositories[1].manifests, 2u);
  EXPECT_EQ(usage->repositories[1].blobs, 2u);
  EXPECT_EQ(usage->repositories[1].blob_bytes, 110u);  // "shared" once, though both images use it
  EXPECT_EQ(usage->repositories[2].repository, "two");
  EXPECT_EQ(usage->repositories[2].blob_bytes, 100u);
}

TYPED_TEST_P(MetaStoreConformance, DataVersionChangesWithEveryWrite) {
  auto& s = this->store();
  auto v1 = s.data_version();
  ASSERT_TRUE(succeeded(v1));
  EXPECT_EQ(*s.data_version(), *v1);  // reads change nothing
  ASSERT_TRUE(succeeded(s.get_setting("x")));
  EXPECT_EQ(*s.data_version(), *v1);
  ASSERT_TRUE(succeeded(s.put_setting("x", "1")));
  auto v2 = s.data_version();
  ASSERT_TRUE(succeeded(v2));
  EXPECT_NE(*v2, *v1);
  ASSERT_TRUE(succeeded(s.create_repository("version/repo", 1)));
  auto v3 = s.data_version();
  EXPECT_NE(*v3, *v2);
  ASSERT_TRUE(succeeded(s.set_repository_policy("version/repo", "{}")));
  EXPECT_NE(*s.data_version(), *v3);
}

TYPED_TEST_P(MetaStoreConformance, DeleteSetting) {
  auto& s = this->store();
  ASSERT_TRUE(succeeded(s.put_setting("gone", "1")));
  ASSERT_TRUE(succeeded(s.delete_setting("gone")));
  EXPECT_FALSE(s.get_setting("gone")->has_value());
  EXPECT_TRUE(fails_with(s.delete_setting("gone"), ErrorCode::kNotFound));
}

TYPED_TEST_P(MetaStoreConformance, ListSettingsByPrefix) {
  auto& s = this->store();
  for (const char* k : {"fam/b", "fam/a", "fam/c", "famx", "other", "fa%/z", "fam_/y"}) {
    ASSERT_TRUE(succeeded(s.put_setting(k, std::string("v-") + k)));
  }
  auto all = s.list_settings("fam/", "", 10);
  ASSERT_TRUE(succeeded(all));
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0], (std::pair<std::string, std::string>{"fam/a", "v-fam/a"}));
  EXPECT_EQ((*all)[2].first, "fam/c");
  auto page = s.list_settings("fam/", "fam/a", 1);
  ASSERT_TRUE(succeeded(page));
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].first, "fam/b");
  EXPECT_EQ(s.list_settings("fa%", "", 10)->size(), 1u);  // no pattern characters
  EXPECT_TRUE(s.list_settings("none/", "", 10)->empty());
}

TYPED_TEST_P(MetaStoreConformance, ImagesCarrySubjectAndChildren) {
  auto& s = this->store();
  ASSERT_TRUE(succeeded(s.create_repository("tree", 1)));
  NewManifest a = image("child-a", {});
  NewManifest b = image("child-b", {});
  ASSERT_TRUE(succeeded(s.put_manifest("tree", a, 2)));
  ASSERT_TRUE(succeeded(s.put_manifest("tree", b, 2)));
  NewManifest idx = image("index", {}, "multi");
  idx.children = {b.digest, a.digest};
  ASSERT_TRUE(succeeded(s.put_manifest("tree", idx, 3)));
  NewManifest sig = image("signature", {});
  sig.subject = idx.digest;
  ASSERT_TRUE(succeeded(s.put_manifest("tree", sig, 4)));
  auto got = s.get_image("tree", idx.digest);
  ASSERT_TRUE(succeeded(got));
  std::vector<Digest> expected{a.digest, b.digest};
  std::sort(expected.begin(), expected.end(), [](const Digest& x, const Digest& y) { return x.str() < y.str(); });
  EXPECT_EQ(got->children, expected);
  EXPECT_FALSE(got->subject);
  auto listed = s.list_images("tree", "", 10);
  ASSERT_TRUE(succeeded(listed));
  for (const auto& img : *listed) {
    if (img.digest == sig.digest) {
      ASSERT_TRUE(img.subject);
      EXPECT_EQ(*img.subject, idx.digest);
    } else if (img.digest != idx.digest) {
      EXPECT_TRUE(img.children.empty());
    }
  }
}

TYPED_TEST_P(MetaStoreConformance, LayerInventoriesKeyedByDigestAndParserVersion) {
  auto& store = this->store();
  auto layer = Digest::parse("sha256:" + std::string(64, 'a'));
  ASSERT_TRUE(layer);
  auto none = store.get_layer_inventory(*layer, 1);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  ASSERT_TRUE(store.put_layer_inventory(*layer, 1, R"({"v":1})"));
  auto got = store.get_layer_inventory(*layer, 1);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, R"({"v":1})");
  auto other_version = store.get_layer_inventory(*layer, 2);
  ASSERT_TRUE(other_version);
  EXPECT_FALSE(*other_version);  // a parser upgrade does not see stale inventories
  ASSERT_TRUE(store.put_layer_inventory(*layer, 2, R"({"v":2})"));
  got = store.get_layer_inventory(*layer, 2);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, R"({"v":2})");
  got = store.get_layer_inventory(*layer, 1);
  ASSERT_TRUE(got);
  EXPECT_FALSE(*got);
}

inline AdvisoryRecord advisory_row(const std::string& source, const std::string& id, const std::string& hash,
                               const std::string& ecosystem = "PyPI") {
  return AdvisoryRecord{.source = source, .id = id, .ecosystem = ecosystem, .content_hash = hash,
                        .document = "{\"id\":\"" + id + "\",\"h\":\"" + hash + "\"}"};
}

TYPED_TEST_P(MetaStoreConformance, AdvisoryUpsertIsIdempotentAndMovesTheVersionOnlyOnChange) {
  auto& store = this->store();
  auto v0 = store.vulndb_version();
  ASSERT_TRUE(succeeded(v0));
  EXPECT_EQ(*v0, 0u);

  auto first = store.upsert_advisories({advisory_row("osv:/a", "PYSEC-1", "h1"), advisory_row("osv:/a", "PYSEC-2", "h2")});
  ASSERT_TRUE(succeeded(first));
  EXPECT_EQ(first->added, 2u);
  EXPECT_EQ(first->changed, 0u);
  EXPECT_EQ(first->unchanged, 0u);
  auto v1 = store.vulndb_version();
  ASSERT_TRUE(succeeded(v1));
  EXPECT_GT(*v1, *v0);

  auto again = store.upsert_advisories({advisory_row("osv:/a", "PYSEC-1", "h1"), advisory_row("osv:/a", "PYSEC-2", "h2")});
  ASSERT_TRUE(succeeded(again));
  EXPECT_EQ(again->added, 0u);
  EXPECT_EQ(again->changed, 0u);
  EXPECT_EQ(again->unchanged, 2u);
  EXPECT_EQ(*store.vulndb_version(), *v1);

  // The same id under another source is another advisory.
  auto mixed = store.upsert_advisories({advisory_row("osv:/a", "PYSEC-2", "h2b"), advisory_row("osv:/a", "PYSEC-1", "h1"),
                                        advisory_row("osv:/b", "PYSEC-1", "h1")});
  ASSERT_TRUE(succeeded(mixed));
  EXPECT_EQ(mixed->added, 1u);
  EXPECT_EQ(mixed->changed, 1u);
  EXPECT_EQ(mixed->unchanged, 1u);
  auto v2 = store.vulndb_version();
  ASSERT_TRUE(succeeded(v2));
  EXPECT_GT(*v2, *v1);

  auto all = store.list_advisories("", "", 100);
  ASSERT_TRUE(succeeded(all));
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[1].source, "osv:/a");
  EXPECT_EQ((*all)[1].id, "PYSEC-2");
  EXPECT_EQ((*all)[1].content_hash, "h2b");
  EXPECT_EQ((*all)[1].document, R"({"id":"PYSEC-2","h":"h2b"})");
  EXPECT_EQ((*all)[2].source, "osv:/b");

  // A batch naming one key twice writes nothing.
  EXPECT_TRUE(fails_with(store.upsert_advisories({advisory_row("osv:/c", "X", "1"), advisory_row("osv:/c", "X", "2")}),
                         ErrorCode::kInvalidParameter));
  all = store.list_advisories("", "", 100);
  ASSERT_TRUE(succeeded(all));
  EXPECT_EQ(all->size(), 3u);
  EXPECT_EQ(*store.vulndb_version(), *v2);
}

TYPED_TEST_P(MetaStoreConformance, AdvisoriesPageInKeyOrderAndPrunePerSource) {
  auto& store = this->store();
  ASSERT_TRUE(succeeded(store.upsert_advisories({advisory_row("debian:/d", "CVE-2", "x", "Debian"),
                                                 advisory_row("debian:/d", "CVE-1", "x", "Debian"),
                                                 advisory_row("alpine:/d", "CVE-1", "x", "Alpine"),
                                                 advisory_row("debian:/d", "DSA-1", "x", "Debian"),
                                                 advisory_row("osv:/d", "GHSA-1", "x", "npm"),
                                                 advisory_row("osv:/d", "GO-1", "x", "Go")})));
  std::vector<std::string> keys;
  std::string after_source, after_id;
  for (;;) {
    auto page = store.list_advisories(after_source, after_id, 4);
    ASSERT_TRUE(succeeded(page));
    ASSERT_LE(page->size(), 4u);
    if (page->empty()) break;
    for (const auto& r : *page) keys.push_back(r.source + " " + r.id);
    after_source = page->back().source;
    after_id = page->back().id;
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"alpine:/d CVE-1", "debian:/d CVE-1", "debian:/d CVE-2",
                                            "debian:/d DSA-1", "osv:/d GHSA-1", "osv:/d GO-1"}));

  auto counts = store.advisory_counts();
  ASSERT_TRUE(succeeded(counts));
  ASSERT_EQ(counts->size(), 4u);
  EXPECT_EQ((*counts)[1].source, "debian:/d");
  EXPECT_EQ((*counts)[1].ecosystem, "Debian");
  EXPECT_EQ((*counts)[1].advisories, 3u);
  EXPECT_EQ((*counts)[3].ecosystem, "npm");

  auto before = store.vulndb_version();
  ASSERT_TRUE(succeeded(before));
  auto removed = store.prune_advisories("debian:/d", {"CVE-2", "CVE-404"});
  ASSERT_TRUE(succeeded(removed));
  EXPECT_EQ(*removed, 2u);
  auto after = store.vulndb_version();
  ASSERT_TRUE(succeeded(after));
  EXPECT_GT(*after, *before);
  auto left = store.list_advisories("", "", 100);
  ASSERT_TRUE(succeeded(left));
  keys.clear();
  for (const auto& r : *left) keys.push_back(r.source + " " + r.id);
  EXPECT_EQ(keys, (std::vector<std::string>{"alpine:/d CVE-1", "debian:/d CVE-2", "osv:/d GHSA-1", "osv:/d GO-1"}));

  // Nothing to remove: the version stays.
  removed = store.prune_advisories("debian:/d", {"CVE-2"});
  ASSERT_TRUE(succeeded(removed));
  EXPECT_EQ(*removed, 0u);
  EXPECT_EQ(*store.vulndb_version(), *after);
  removed = store.prune_advisories("osv:/d", {});
  ASSERT_TRUE(succeeded(removed));
  EXPECT_EQ(*removed, 2u);
}

TYPED_TEST_P(MetaStoreConformance, VulndbImportHistoryNewestFirst) {
  auto& store = this->store();
  auto empty = store.vulndb_imports(10);
  ASSERT_TRUE(succeeded(empty));
  EXPECT_TRUE(empty->empty());
  VulnImportRecord a{.started_at_ms = 1000, .finished_at_ms = 2000, .path = "/data/osv", .files_read = 7,
                     .files_skipped = 1, .added = 5, .changed = 0, .unchanged = 2, .removed = 0, .version = 1,
                     .details_json = R"({"skipped":[{"file":"x.json","reason":"bad"}]})"};
  auto ra = store.record_vulndb_import(a);
  ASSERT_TRUE(succeeded(ra));
  VulnImportRecord b = a;
  b.started_at_ms = 3000;
  b.removed = 4;
  b.version = 2;
  auto rb = store.record_vulndb_import(b);
  ASSERT_TRUE(succeeded(rb));
  EXPECT_NE(ra->id, rb->id);
  auto got = store.vulndb_imports(10);
  ASSERT_TRUE(succeeded(got));
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].id, rb->id);
  EXPECT_EQ((*got)[0].started_at_ms, 3000);
  EXPECT_EQ((*got)[0].removed, 4u);
  EXPECT_EQ((*got)[0].version, 2u);
  EXPECT_EQ((*got)[1].path, "/data/osv");
  EXPECT_EQ((*got)[1].files_read, 7u);
  EXPECT_EQ((*got)[1].files_skipped, 1u);
  EXPECT_EQ((*got)[1].details_json, a.details_json);
  auto one = store.vulndb_imports(1);
  ASSERT_TRUE(succeeded(one));
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].id, rb->id);
  // History is not data: recording an import does not move the version.
  EXPECT_EQ(*store.vulndb_version(), 0u);
}

TYPED_TEST_P(MetaStoreConformance, ImageScansFollowTheirImage) {
  auto& store = this->store();
  this->create("scans");
  const Digest a = digest_of("scan-a"), b = digest_of("scan-b");
  this->put("scans", image("scan-a"));
  this->put("scans", image("scan-b"));
  EXPECT_TRUE(fails_with(store.get_image_scan("nope", a), ErrorCode::kNameUnknown));
  auto none = store.get_image_scan("scans", a);
  ASSERT_TRUE(succeeded(none));
  EXPECT_FALSE(*none);

  ImageScan scan{.digest = a, .status = "COMPLETE", .description = "The scan was completed successfully.",
                 .started_at_ms = 5000, .completed_at_ms = 6000, .vulndb_version = "v1",
                 .severity_counts_json = R"({"HIGH":1})", .findings_json = R"([{"name":"CVE-1"}])"};
  ASSERT_TRUE(succeeded(store.put_image_scan("scans", scan)));
  auto got = store.get_image_scan("scans", a);
  ASSERT_TRUE(succeeded(got));
  ASSERT_TRUE(*got);
  EXPECT_EQ((*got)->status, "COMPLETE");
  EXPECT_EQ((*got)->description, "The scan was completed successfully.");
  EXPECT_EQ((*got)->started_at_ms, 5000);
  EXPECT_EQ((*got)->completed_at_ms, std::optional<int64_t>(6000));
  EXPECT_EQ((*got)->vulndb_version, "v1");
  EXPECT_EQ((*got)->severity_counts_json, R"({"HIGH":1})");
  EXPECT_EQ((*got)->findings_json, R"([{"name":"CVE-1"}])");
  EXPECT_EQ((*got)->last_complete_findings_json, "[]");
  EXPECT_FALSE((*got)->last_manual_scan_ms);

  // A manual scan is allowed once per window, atomically; put keeps the claim.
  auto first = store.claim_manual_scan("scans", a, 7000, 7000 - 100);
  ASSERT_TRUE(succeeded(first));
  EXPECT_TRUE(*first);
  auto again = store.claim_manual_scan("scans", a, 7050, 7050 - 100);
  ASSERT_TRUE(succeeded(again));
  EXPECT_FALSE(*again);
  scan.status = "IN_PROGRESS";
  scan.completed_at_ms.reset();
  scan.last_complete_findings_json = R"([{"name":"CVE-1","first":6000}])";
  ASSERT_TRUE(succeeded(store.put_image_scan("scans", scan)));
  got = store.get_image_scan("scans", a);
  ASSERT_TRUE(succeeded(got) && *got);
  EXPECT_EQ((*got)->status, "IN_PROGRESS");
  EXPECT_FALSE((*got)->completed_at_ms);
  EXPECT_EQ((*got)->last_complete_findings_json, R"([{"name":"CVE-1","first":6000}])");
  EXPECT_EQ((*got)->last_manual_scan_ms, std::optional<int64_t>(7000));
  auto later = store.claim_manual_scan("scans", a, 7200, 7200 - 100);
  ASSERT_TRUE(succeeded(later));
  EXPECT_TRUE(*later);
  // A manual scan that ended FAILED (or was never run) after its claim gives the quota back;
  // one that failed before the claim does not.
  scan.status = "FAILED";
  scan.started_at_ms = 7200;
  scan.completed_at_ms = 7200;
  ASSERT_TRUE(succeeded(store.put_image_scan("scans", scan)));
  auto after_failure = store.claim_manual_scan("scans", a, 7210, 7210 - 100);
  ASSERT_TRUE(succeeded(after_failure));
  EXPECT_TRUE(*after_failure);
  auto still_failed = store.claim_manual_scan("scans", a, 7220, 7220 - 100);
  ASSERT_TRUE(succeeded(still_failed));
  EXPECT_FALSE(*still_failed);  // the FAILED scan ended before this claim: it is pending

  // An image never scanned gets an IN_PROGRESS row with its claim.
  auto claim_b = store.claim_manual_scan("scans", b, 8000, 0);
  ASSERT_TRUE(succeeded(claim_b));
  EXPECT_TRUE(*claim_b);
  auto list = store.list_image_scans("scans", "", 10);
  ASSERT_TRUE(succeeded(list));
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].digest, a);
  EXPECT_EQ((*list)[1].digest, b);
  EXPECT_EQ((*list)[1].status, "IN_PROGRESS");
  EXPECT_EQ((*list)[1].started_at_ms, 8000);
  EXPECT_EQ((*list)[0].findings_json, "[]");  // listings leave findings out
  EXPECT_EQ((*list)[0].last_complete_findings_json, "[]");
  auto page = store.list_image_scans("scans", a.str(), 10);
  ASSERT_TRUE(succeeded(page));
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].digest, b);

  // Scans of images that do not exist are refused; deleting the image deletes its scan.
  const Digest ghost = digest_of("scan-ghost");
  EXPECT_TRUE(fails_with(store.put_image_scan("scans", ImageScan{.digest = ghost, .status = "COMPLETE"}),
                         ErrorCode::kManifestUnknown));
  EXPECT_TRUE(fails_with(store.claim_manual_scan("scans", ghost, 1, 0), ErrorCode::kManifestUnknown));
  ASSERT_TRUE(succeeded(store.delete_manifest("scans", a)));
  none = store.get_image_scan("scans", a);
  ASSERT_TRUE(succeeded(none));
  EXPECT_FALSE(*none);
  this->put("scans", image("scan-a"));
  none = store.get_image_scan("scans", a);
  ASSERT_TRUE(succeeded(none));
  EXPECT_FALSE(*none);  // a re-pushed image starts unscanned
  ASSERT_TRUE(succeeded(store.delete_repository("scans", /*force=*/true)));
  EXPECT_TRUE(fails_with(store.list_image_scans("scans", "", 10), ErrorCode::kNameUnknown));
}

REGISTER_TYPED_TEST_SUITE_P(MetaStoreConformance, CreateAndGetRepository, ListRepositoriesInByteOrderWithPagination,
                            DeleteEmptyRepository, DeleteRepositoryWithManifestsNeedsForce, BlobLinks,
                            PutAndGetManifest, RePutIsIdempotent, TagMoveReportsPreviousTarget,
                            PutManifestWithUnlinkedBlobWritesNothing, PutIndexChecksChildren, GetUnknownManifest,
                            ListTagsInByteOrderWithPagination, DeleteManifestRemovesItsTags, DeleteTag, Referrers,
                            RecordPull, UploadLifecycle, UploadsIdleSince, UnknownRepository,
                            ConcurrentPushesAndReads, ConcurrentUploadAdvanceIsCompareAndSet, AccessKeysAndSettings, ListImages,
                            PrincipalsPoliciesAccounts, RepositoryPolicy, ImmutableTagsAndSettings,
                            StaleLinksAreUnreferencedAndOld, UnreferencedBlobsAndDeletions,
                            MountLinksOnlyRecordedBlobs, StorageUsageCountsSharedBlobsOnce,
                            DataVersionChangesWithEveryWrite, DeleteSetting, ListSettingsByPrefix,
                            ImagesCarrySubjectAndChildren,
                            LayerInventoriesKeyedByDigestAndParserVersion,
                            AdvisoryUpsertIsIdempotentAndMovesTheVersionOnlyOnChange,
                            AdvisoriesPageInKeyOrderAndPrunePerSource, VulndbImportHistoryNewestFirst,
                            ImageScansFollowTheirImage);

}  // namespace berth::store
