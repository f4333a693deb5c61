// The registry's rules over the real embedded stores (registry/testing.h).
#include <gtest/gtest.h>

#include <filesystem>

#include "crypto/hash.h"
#include "registry/testing.h"

namespace berth::registry {
namespace {

class ServicesTest : public fixtures::EmbeddedRegistry {
 protected:
  void SetUp() override {
    EmbeddedRegistry::SetUp();
    ASSERT_TRUE(repos->create("team/app"));
  }
};

std::string image_manifest(const Digest& config, const Digest& layer, uint64_t config_size, uint64_t layer_size) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         config.str() + R"(","size":)" + std::to_string(config_size) +
         R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + layer.str() +
         R"(","size":)" + std::to_string(layer_size) + "}]}";
}

TEST_F(ServicesTest, PushToUnknownRepositoryIsNameUnknown) {
  auto u = uploads->start("nope");
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code, ErrorCode::kNameUnknown);
}

TEST_F(ServicesTest, CreateOnPushCreates) {
  reopen(/*create_on_push=*/true);
  EXPECT_TRUE(uploads->start("new/repo"));
  EXPECT_TRUE(repos->require("new/repo"));
  auto bad = uploads->start("Bad/Name");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kNameInvalid);
}

TEST_F(ServicesTest, ChunkedUploadResumesAfterRestart) {
  auto u = uploads->start("team/app");
  ASSERT_TRUE(u);
  {
    auto a = uploads->append("team/app", u->id, 0);
    ASSERT_TRUE(a);
    ASSERT_TRUE((*a)->write("hello "));
    ASSERT_TRUE((*a)->finish());
  }
  // A new process over the same data dir continues the upload from the saved state.
  reopen();
  auto status = uploads->status("team/app", u->id);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->offset, 6u);
  auto wrong = uploads->append("team/app", u->id, 3);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kRangeInvalid);
  {
    auto a = uploads->append("team/app", u->id, 6);
    ASSERT_TRUE(a);
    ASSERT_TRUE((*a)->write("world"));
    ASSERT_TRUE((*a)->finish());
  }
  auto done = uploads->complete("team/app", u->id, crypto::sha256("hello world"));
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->size, 11u);
  EXPECT_TRUE(blob_service->stat("team/app", crypto::sha256("hello world")));
  EXPECT_FALSE(uploads->status("team/app", u->id));
}

TEST_F(ServicesTest, UnrecordedBytesAreDiscarded) {
  auto u = uploads->start("team/app");
  {
    auto a = uploads->append("team/app", u->id, 0);
    ASSERT_TRUE((*a)->write("keep"));
    ASSERT_TRUE((*a)->finish());
  }
  {
    // A request that dies before finish(): its bytes must not count.
    auto a = uploads->append("team/app", u->id, std::nullopt);
    ASSERT_TRUE((*a)->write("GARBAGE"));
  }
  {
    auto a = uploads->append("team/app", u->id, std::nullopt);
    ASSERT_TRUE((*a)->write("!"));
    ASSERT_TRUE((*a)->finish());
  }
  EXPECT_TRUE(uploads->complete("team/app", u->id, crypto::sha256("keep!")));
}

TEST_F(ServicesTest, StagedBytesLostInACrashEndTheUpload) {
  auto u = uploads->start("team/app");
  {
    auto a = uploads->append("team/app", u->id, 0);
    ASSERT_TRUE((*a)->write("0123456789"));
    ASSERT_TRUE((*a)->finish());
  }
  // As after a power loss: the recorded offset survived, the staged bytes did not.
  std::filesystem::resize_file(dir_.path() / "uploads" / u->id / "data", 4);
  auto a = uploads->append("team/app", u->id, std::nullopt);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, ErrorCode::kBlobUploadUnknown);
  EXPECT_FALSE(uploads->status("team/app", u->id));
}

TEST_F(ServicesTest, IdleUploadsExpire) {
  auto old_upload = uploads->start("team/app");
  clock.advance(std::chrono::hours(2));
  auto fresh = uploads->start("team/app");
  auto expired = uploads->expire(clock.now_ms() - 3'600'000);
  ASSERT_TRUE(expired);
  EXPECT_EQ(*expired, 1u);
  EXPECT_FALSE(uploads->status("team/app", old_upload->id));
  EXPECT_TRUE(uploads->status("team/app", fresh->id));
  auto staged = blobs->list_uploads();
  ASSERT_TRUE(staged);
  EXPECT_EQ(staged->size(), 1u);
}

TEST_F(ServicesTest, ConcurrentAppendToOneUploadIsRefused) {
  auto u = uploads->start("team/app");
  auto a = uploads->append("team/app", u->id, 0);
  ASSERT_TRUE(a);
  auto b = uploads->append("team/app", u->id, 0);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, ErrorCode::kBlobUploadInvalid);
  a->reset();
  EXPECT_TRUE(uploads->append("team/app", u->id, 0));
}

TEST_F(ServicesTest, WrongDigestStoresNothing) {
  auto u = uploads->start("team/app");
  {
    auto a = uploads->append("team/app", u->id, 0);
    ASSERT_TRUE((*a)->write("content"));
    ASSERT_TRUE((*a)->finish());
  }
  const Digest claimed = crypto::sha256("other");
  auto done = uploads->complete("team/app", u->id, claimed);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kDigestMismatch);
  EXPECT_FALSE(blobs->stat(claimed));
  EXPECT_FALSE(blobs->stat(crypto::sha256("content")));
  EXPECT_FALSE(uploads->status("team/app", u->id));
}

TEST_F(ServicesTest, Sha512Digest) {
  auto u = uploads->start("team/app");
  {
    auto a = uploads->append("team/app", u->id, 0);
    ASSERT_TRUE((*a)->write("abc"));
    ASSERT_TRUE((*a)->finish());
  }
  const Digest d = crypto::digest_of(DigestAlgorithm::kSha512, "abc");
  ASSERT_TRUE(uploads->complete("team/app", u->id, d));
  EXPECT_TRUE(blob_service->stat("team/app", d));
}

TEST_F(ServicesTest, UploadBelongsToItsRepository) {
  ASSERT_TRUE(repos->create("other"));
  auto u = uploads->start("team/app");
  auto s = uploads->status("other", u->id);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kBlobUploadUnknown);
  EXPECT_FALSE(uploads->status("team/app", "../../etc/passwd"));
}

TEST_F(ServicesTest, MountNeedsTheBlobInTheSource) {
  ASSERT_TRUE(repos->create("other"));
  const Digest d = push_blob("team/app", "layer");
  EXPECT_FALSE(blob_service->stat("other", d));
  auto none = blob_service->mount("other", crypto::sha256("missing"), std::string("team/app"));
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto m = blob_service->mount("other", d, std::string("team/app"));
  ASSERT_TRUE(m);
  ASSERT_TRUE(*m);
  EXPECT_TRUE(blob_service->stat("other", d));
  ASSERT_TRUE(repos->create("third"));
  auto anywhere = blob_service->mount("third", d, std::nullopt);
  ASSERT_TRUE(anywhere && *anywhere);
}

TEST_F(ServicesTest, ManifestNeedsItsBlobs) {
  const Digest config = push_blob("team/app", "{}");
  const Digest layer = crypto::sha256("not pushed");
  auto ref = Reference::parse("v1");
  ASSERT_TRUE(ref);
  auto put = manifests->put("team/app", *ref, "", image_manifest(config, layer, 2, 10));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kManifestBlobUnknown);
  EXPECT_FALSE(manifests->get("team/app", *ref, false));

  const Digest real_layer = push_blob("team/app", "layer bytes");
  const std::string body = image_manifest(config, real_layer, 2, 11);
  put = manifests->put("team/app", *ref, "application/vnd.oci.image.manifest.v1+json", body);
  ASSERT_TRUE(put) << put.error().message;
  EXPECT_EQ(put->digest, crypto::sha256(body));
  auto got = manifests->get("team/app", *ref, true);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->content, body);
  EXPECT_EQ(pulls->flush(), 1u);
  auto again = manifests->get("team/app", *Reference::parse(put->digest.str()), false);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->last_pulled_at_ms.has_value());
}

// Pulls are answered from memory between commits (registry read caches keyed by the
// store's data_version); every commit, this process's or another's, shows on the next read.
TEST_F(ServicesTest, CachedReadsFollowEveryCommit) {
  const Digest v1 = push_image("team/app", "v1", "{}", {"layer one"});
  const Digest layer = crypto::sha256("layer one");
  const auto by_tag = *Reference::parse("v1");
  const auto by_digest = *Reference::parse(v1.str());
  auto tag_count = [&] {
    auto page = manifests->tags("team/app", "", 100);
    EXPECT_TRUE(page);
    return page ? page->size() : 0;
  };
  for (int warm = 0; warm < 2; ++warm) {
    ASSERT_EQ(manifests->get("team/app", by_tag, false)->digest, v1);
    ASSERT_TRUE(manifests->get("team/app", by_digest, false));
    ASSERT_EQ(tag_count(), 1u);
    ASSERT_EQ(blob_service->stat("team/app", layer)->size, 9u);
  }

  // This process writes: a second tag.
  const Digest v2 = push_image("team/app", "v2", "{}", {"layer two"});
  EXPECT_EQ(tag_count(), 2u);

  // Another process writes: moves nothing through these services, yet every read sees it.
  auto other = store::SqliteMetaStore::open((dir_.path() / "meta.db").string());
  ASSERT_TRUE(other);
  ASSERT_TRUE((*other)->delete_tag("team/app", "v1"));
  EXPECT_EQ(manifests->get("team/app", by_tag, false).error().code, ErrorCode::kManifestUnknown);
  EXPECT_EQ(tag_count(), 1u);
  ASSERT_TRUE((*other)->delete_manifest("team/app", v1));
  EXPECT_EQ(manifests->get("team/app", by_digest, false).error().code, ErrorCode::kManifestUnknown);
  ASSERT_TRUE((*other)->unlink_blob("team/app", layer));
  EXPECT_EQ(blob_service->stat("team/app", layer).error().code, ErrorCode::kBlobUnknown);
  EXPECT_EQ(manifests->get("team/app", *Reference::parse("v2"), false)->digest, v2);
}

TEST_F(ServicesTest, DescriptorSizeMustMatchBlob) {
  const Digest config = push_blob("team/app", "{}");
  const Digest layer = push_blob("team/app", "layer bytes");
  auto put = manifests->put("team/app", *Reference::parse("v1"), "", image_manifest(config, layer, 2, 999));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kManifestInvalid);
  EXPECT_NE(put.error().message.find("999"), std::string::npos);
}

TEST_F(ServicesTest, IndexChildCannotBeDeletedUnderTheIndex) {
  const Digest config = push_blob("team/app", "{}");
  const Digest layer = push_blob("team/app", "l");
  auto child = manifests->put("team/app", *Reference::parse("child"), "", image_manifest(config, layer, 2, 1));
  ASSERT_TRUE(child);
  const std::string body = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                           child->digest.str() + R"(","size":1}]})";
  auto index = manifests->put("team/app", *Reference::parse("multi"), "", body);
  ASSERT_TRUE(index) << index.error().message;
  auto del = manifests->remove("team/app", *Reference::parse(child->digest.str()));
  ASSERT_FALSE(del);
  EXPECT_EQ(del.error().code, ErrorCode::kManifestReferenced);
  ASSERT_TRUE(manifests->remove("team/app", *Reference::parse(index->digest.str())));
  EXPECT_TRUE(manifests->remove("team/app", *Reference::parse(child->digest.str())));
}

TEST_F(ServicesTest, ManifestDigestMustMatchUrl) {
  const Digest config = push_blob("team/app", "{}");
  const Digest layer = push_blob("team/app", "l");
  const std::string body = image_manifest(config, layer, 2, 1);
  auto ref = Reference::parse(crypto::sha256("something else").str());
  auto put = manifests->put("team/app", *ref, "", body);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kDigestMismatch);
}

TEST_F(ServicesTest, UnknownRepositoryBeatsUnknownManifest) {
  auto got = manifests->get("missing", *Reference::parse("latest"), false);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kNameUnknown);
  got = manifests->get("team/app", *Reference::parse("latest"), false);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kManifestUnknown);
}

TEST_F(ServicesTest, TagOutsideGrammarIsUnknownOnLookup) {
  // The OCI conformance suite reads and deletes ".INVALID_MANIFEST_NAME" and expects 404.
  EXPECT_FALSE(Reference::parse(".INVALID_MANIFEST_NAME"));
  auto ref = Reference::parse_lookup(".INVALID_MANIFEST_NAME");
  ASSERT_TRUE(ref);
  auto got = manifests->get("team/app", *ref, false);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kManifestUnknown);
  got = manifests->get("missing", *ref, false);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kNameUnknown);
  auto removed = manifests->remove("team/app", *ref);
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code, ErrorCode::kManifestUnknown);
  EXPECT_EQ(Reference::parse_lookup("sha256:abc").error().code, ErrorCode::kDigestInvalid);
}

TEST_F(ServicesTest, ReferenceGrammar) {
  EXPECT_EQ(Reference::parse("sha256:abc").error().code, ErrorCode::kDigestInvalid);
  EXPECT_EQ(Reference::parse("-bad").error().code, ErrorCode::kTagInvalid);
  EXPECT_TRUE(Reference::parse("v1.2.3")->tag);
}

// Two features editing their own keys of one repository at once (TagResource racing
// PutLifecyclePolicy) both land: the loser of the compare-and-set edits again.
TEST_F(ServicesTest, SettingsEditsThatRaceKeepBothChanges) {
  int calls = 0;
  ASSERT_TRUE(repos->edit_settings("team/app", [&](nlohmann::json& s) -> Result<void> {
    if (calls++ == 0) {  // another writer lands between this edit's read and its write
      EXPECT_TRUE(repos->edit_settings("team/app", [](nlohmann::json& o) -> Result<void> {
        o["other"] = 1;
        return {};
      }));
    }
    s["mine"] = 2;
    return {};
  }));
  EXPECT_EQ(calls, 2);
  const auto s = settings_object(repos->get("team/app")->settings_json);
  EXPECT_EQ(s.value("other", 0), 1);
  EXPECT_EQ(s.value("mine", 0), 2);
}

TEST_F(ServicesTest, SettingsEditThatFailsOrKeepsLosingStoresNothing) {
  const std::string before = repos->get("team/app")->settings_json;
  auto refused = repos->edit_settings("team/app", [](nlohmann::json& s) -> Result<void> {
    s["half"] = true;
    return fail(ErrorCode::kInvalidParameter, "no");
  });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidParameter);
  EXPECT_EQ(repos->get("team/app")->settings_json, before);

  int n = 0;  // every attempt is overtaken by another writer
  auto starved = repos->edit_settings("team/app", [&](nlohmann::json& s) -> Result<void> {
    const auto now = repos->get("team/app")->settings_json;
    EXPECT_TRUE(meta->update_repository_settings("team/app", now, R"({"n":)" + std::to_string(++n) + "}"));
    s["mine"] = true;
    return {};
  });
  ASSERT_FALSE(starved);
  EXPECT_EQ(starved.error().code, ErrorCode::kTooManyRequests);
  EXPECT_FALSE(settings_object(repos->get("team/app")->settings_json).contains("mine"));
  auto missing = repos->edit_settings("nope", [](nlohmann::json&) -> Result<void> { return {}; });
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNameUnknown);
}

}  // namespace
}  // namespace berth::registry
