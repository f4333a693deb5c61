// The registry's rules over the real embedded stores (SQLite + filesystem) in a temp
// dir: they are fast, and a fake would hide the transaction behaviour under test.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "crypto/hash.h"
#include "registry/blob_service.h"
#include "registry/manifest_service.h"
#include "registry/repository_service.h"
#include "registry/upload_service.h"
#include "store/blob/fs/fs_blob_store.h"
#include "store/meta/sqlite/sqlite_meta_store.h"

namespace berth::registry {
namespace {

class FixedClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return t; }
  std::chrono::system_clock::time_point t{std::chrono::milliseconds(1'700'000'000'000)};
};

struct World {
  explicit World(const std::filesystem::path& dir, bool create_on_push = false) {
    meta = std::move(*store::SqliteMetaStore::open((dir / "meta.db").string()));
    blobs = std::move(*store::FsBlobStore::open(dir.string()));
    repos = std::make_unique<RepositoryService>(*meta, clock, create_on_push);
    pulls = std::make_unique<PullRecorder>(*meta);
    blob_service = std::make_unique<BlobService>(*meta, *blobs, clock);
    uploads = std::make_unique<UploadService>(*meta, *blobs, *repos, clock);
    manifests = std::make_unique<ManifestService>(*meta, *repos, *pulls, clock);
  }
  FixedClock clock;
  std::unique_ptr<store::MetaStore> meta;
  std::unique_ptr<store::BlobStore> blobs;
  std::unique_ptr<RepositoryService> repos;
  std::unique_ptr<PullRecorder> pulls;
  std::unique_ptr<BlobService> blob_service;
  std::unique_ptr<UploadService> uploads;
  std::unique_ptr<ManifestService> manifests;

  Digest push_blob(const std::string& repo, const std::string& bytes) {
    auto u = uploads->start(repo);
    EXPECT_TRUE(u) << u.error().message;
    auto a = uploads->append(repo, u->id, 0);
    EXPECT_TRUE(a);
    EXPECT_TRUE((*a)->write(bytes));
    EXPECT_TRUE((*a)->finish());
    a->reset();
    const Digest d = crypto::sha256(bytes);
    auto done = uploads->complete(repo, u->id, d);
    EXPECT_TRUE(done) << done.error().message;
    return d;
  }
};

class ServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("berth-services-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    w_ = std::make_unique<World>(dir_);
    ASSERT_TRUE(w_->repos->create("team/app"));
  }
  void TearDown() override {
    w_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<World> w_;
};

std::string image_manifest(const Digest& config, const Digest& layer, uint64_t config_size, uint64_t layer_size) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         config.str() + R"(","size":)" + std::to_string(config_size) +
         R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + layer.str() +
         R"(","size":)" + std::to_string(layer_size) + "}]}";
}

TEST_F(ServicesTest, PushToUnknownRepositoryIsNameUnknown) {
  auto u = w_->uploads->start("nope");
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code, ErrorCode::kNameUnknown);
}

TEST_F(ServicesTest, CreateOnPushCreates) {
  w_.reset();
  w_ = std::make_unique<World>(dir_, /*create_on_push=*/true);
  EXPECT_TRUE(w_->uploads->start("new/repo"));
  EXPECT_TRUE(w_->repos->require("new/repo"));
  auto bad = w_->uploads->start("Bad/Name");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kNameInvalid);
}

TEST_F(ServicesTest, ChunkedUploadResumesAfterRestart) {
  auto u = w_->uploads->start("team/app");
  ASSERT_TRUE(u);
  {
    auto a = w_->uploads->append("team/app", u->id, 0);
    ASSERT_TRUE(a);
    ASSERT_TRUE((*a)->write("hello "));
    ASSERT_TRUE((*a)->finish());
  }
  // A new process over the same data dir continues the upload from the saved state.
  w_ = std::make_unique<World>(dir_);
  auto status = w_->uploads->status("team/app", u->id);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->offset, 6u);
  auto wrong = w_->uploads->append("team/app", u->id, 3);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kRangeInvalid);
  {
    auto a = w_->uploads->append("team/app", u->id, 6);
    ASSERT_TRUE(a);
    ASSERT_TRUE((*a)->write("world"));
    ASSERT_TRUE((*a)->finish());
  }
  auto done = w_->uploads->complete("team/app", u->id, crypto::sha256("hello world"));
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->size, 11u);
  EXPECT_TRUE(w_->blob_service->stat("team/app", crypto::sha256("hello world")));
  EXPECT_FALSE(w_->uploads->status("team/app", u->id));
}

TEST_F(ServicesTest, UnrecordedBytesAreDiscarded) {
  auto u = w_->uploads->start("team/app");
  {
    auto a = w_->uploads->append("team/app", u->id, 0);
    ASSERT_TRUE((*a)->write("keep"));
    ASSERT_TRUE((*a)->finish());
  }
  {
    // A request that dies before finish(): its bytes must not count.
    auto a = w_->uploads->append("team/app", u->id, std::nullopt);
    ASSERT_TRUE((*a)->write("GARBAGE"));
  }
  {
    auto a = w_->uploads->append("team/app", u->id, std::nullopt);
    ASSERT_TRUE((*a)->write("!"));
    ASSERT_TRUE((*a)->finish());
  }
  EXPECT_TRUE(w_->uploads->complete("team/app", u->id, crypto::sha256("keep!")));
}

TEST_F(ServicesTest, StagedBytesLostInACrashEndTheUpload) {
  auto u = w_->uploads->start("team/app");
  {
    auto a = w_->uploads->append("team/app", u->id, 0);
    ASSERT_TRUE((*a)->write("0123456789"));
    ASSERT_TRUE((*a)->finish());
  }
  // As after a power loss: the recorded offset survived, the staged bytes did not.
  std::filesystem::resize_file(dir_ / "uploads" / u->id / "data", 4);
  auto a = w_->uploads->append("team/app", u->id, std::nullopt);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, ErrorCode::kBlobUploadUnknown);
  EXPECT_FALSE(w_->uploads->status("team/app", u->id));
}

TEST_F(ServicesTest, IdleUploadsExpire) {
  auto old_upload = w_->uploads->start("team/app");
  w_->clock.t += std::chrono::hours(2);
  auto fresh = w_->uploads->start("team/app");
  auto expired = w_->uploads->expire(w_->clock.now_ms() - 3'600'000);
  ASSERT_TRUE(expired);
  EXPECT_EQ(*expired, 1u);
  EXPECT_FALSE(w_->uploads->status("team/app", old_upload->id));
  EXPECT_TRUE(w_->uploads->status("team/app", fresh->id));
  auto staged = w_->blobs->list_uploads();
  ASSERT_TRUE(staged);
  EXPECT_EQ(staged->size(), 1u);
}

TEST_F(ServicesTest, ConcurrentAppendToOneUploadIsRefused) {
  auto u = w_->uploads->start("team/app");
  auto a = w_->uploads->append("team/app", u->id, 0);
  ASSERT_TRUE(a);
  auto b = w_->uploads->append("team/app", u->id, 0);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, ErrorCode::kBlobUploadInvalid);
  a->reset();
  EXPECT_TRUE(w_->uploads->append("team/app", u->id, 0));
}

TEST_F(ServicesTest, WrongDigestStoresNothing) {
  auto u = w_->uploads->start("team/app");
  {
    auto a = w_->uploads->append("team/app", u->id, 0);
    ASSERT_TRUE((*a)->write("content"));
    ASSERT_TRUE((*a)->finish());
  }
  const Digest claimed = crypto::sha256("other");
  auto done = w_->uploads->complete("team/app", u->id, claimed);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kDigestMismatch);
  EXPECT_FALSE(w_->blobs->stat(claimed));
  EXPECT_FALSE(w_->blobs->stat(crypto::sha256("content")));
  EXPECT_FALSE(w_->uploads->status("team/app", u->id));
}

TEST_F(ServicesTest, Sha512Digest) {
  auto u = w_->uploads->start("team/app");
  {
    auto a = w_->uploads->append("team/app", u->id, 0);
    ASSERT_TRUE((*a)->write("abc"));
    ASSERT_TRUE((*a)->finish());
  }
  const Digest d = crypto::digest_of(DigestAlgorithm::kSha512, "abc");
  ASSERT_TRUE(w_->uploads->complete("team/app", u->id, d));
  EXPECT_TRUE(w_->blob_service->stat("team/app", d));
}

TEST_F(ServicesTest, UploadBelongsToItsRepository) {
  ASSERT_TRUE(w_->repos->create("other"));
  auto u = w_->uploads->start("team/app");
  auto s = w_->uploads->status("other", u->id);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kBlobUploadUnknown);
  EXPECT_FALSE(w_->uploads->status("team/app", "../../etc/passwd"));
}

TEST_F(ServicesTest, MountNeedsTheBlobInTheSource) {
  ASSERT_TRUE(w_->repos->create("other"));
  const Digest d = w_->push_blob("team/app", "layer");
  EXPECT_FALSE(w_->blob_service->stat("other", d));
  auto none = w_->blob_service->mount("other", crypto::sha256("missing"), std::string("team/app"));
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto m = w_->blob_service->mount("other", d, std::string("team/app"));
  ASSERT_TRUE(m);
  ASSERT_TRUE(*m);
  EXPECT_TRUE(w_->blob_service->stat("other", d));
  ASSERT_TRUE(w_->repos->create("third"));
  auto anywhere = w_->blob_service->mount("third", d, std::nullopt);
  ASSERT_TRUE(anywhere && *anywhere);
}

TEST_F(ServicesTest, ManifestNeedsItsBlobs) {
  const Digest config = w_->push_blob("team/app", "{}");
  const Digest layer = crypto::sha256("not pushed");
  auto ref = Reference::parse("v1");
  ASSERT_TRUE(ref);
  auto put = w_->manifests->put("team/app", *ref, "", image_manifest(config, layer, 2, 10));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kManifestBlobUnknown);
  EXPECT_FALSE(w_->manifests->get("team/app", *ref, false));

  const Digest real_layer = w_->push_blob("team/app", "layer bytes");
  const std::string body = image_manifest(config, real_layer, 2, 11);
  put = w_->manifests->put("team/app", *ref, "application/vnd.oci.image.manifest.v1+json", body);
  ASSERT_TRUE(put) << put.error().message;
  EXPECT_EQ(put->digest, crypto::sha256(body));
  auto got = w_->manifests->get("team/app", *ref, true);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->content, body);
  EXPECT_EQ(w_->pulls->flush(), 1u);
  auto again = w_->manifests->get("team/app", *Reference::parse(put->digest.str()), false);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->last_pulled_at_ms.has_value());
}

TEST_F(ServicesTest, DescriptorSizeMustMatchBlob) {
  const Digest config = w_->push_blob("team/app", "{}");
  const Digest layer = w_->push_blob("team/app", "layer bytes");
  auto put = w_->manifests->put("team/app", *Reference::parse("v1"), "", image_manifest(config, layer, 2, 999));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kManifestInvalid);
  EXPECT_NE(put.error().message.find("999"), std::string::npos);
}

TEST_F(ServicesTest, IndexChildCannotBeDeletedUnderTheIndex) {
  const Digest config = w_->push_blob("team/app", "{}");
  const Digest layer = w_->push_blob("team/app", "l");
  auto child = w_->manifests->put("team/app", *Reference::parse("child"), "", image_manifest(config, layer, 2, 1));
  ASSERT_TRUE(child);
  const std::string body = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                           child->digest.str() + R"(","size":1}]})";
  auto index = w_->manifests->put("team/app", *Reference::parse("multi"), "", body);
  ASSERT_TRUE(index) << index.error().message;
  auto del = w_->manifests->remove("team/app", *Reference::parse(child->digest.str()));
  ASSERT_FALSE(del);
  EXPECT_EQ(del.error().code, ErrorCode::kManifestReferenced);
  ASSERT_TRUE(w_->manifests->remove("team/app", *Reference::parse(index->digest.str())));
  EXPECT_TRUE(w_->manifests->remove("team/app", *Reference::parse(child->digest.str())));
}

TEST_F(ServicesTest, ManifestDigestMustMatchUrl) {
  const Digest config = w_->push_blob("team/app", "{}");
  const Digest layer = w_->push_blob("team/app", "l");
  const std::string body = image_manifest(config, layer, 2, 1);
  auto ref = Reference::parse(crypto::sha256("something else").str());
  auto put = w_->manifests->put("team/app", *ref, "", body);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kDigestMismatch);
}

TEST_F(ServicesTest, UnknownRepositoryBeatsUnknownManifest) {
  auto got = w_->manifests->get("missing", *Reference::parse("latest"), false);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kNameUnknown);
  got = w_->manifests->get("team/app", *Reference::parse("latest"), false);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kManifestUnknown);
}

TEST_F(ServicesTest, TagOutsideGrammarIsUnknownOnLookup) {
  // The OCI conformance suite reads and deletes ".INVALID_MANIFEST_NAME" and expects 404.
  EXPECT_FALSE(Reference::parse(".INVALID_MANIFEST_NAME"));
  auto ref = Reference::parse_lookup(".INVALID_MANIFEST_NAME");
  ASSERT_TRUE(ref);
  auto got = w_->manifests->get("team/app", *ref, false);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kManifestUnknown);
  got = w_->manifests->get("missing", *ref, false);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kNameUnknown);
  auto removed = w_->manifests->remove("team/app", *ref);
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code, ErrorCode::kManifestUnknown);
  EXPECT_EQ(Reference::parse_lookup("sha256:abc").error().code, ErrorCode::kDigestInvalid);
}

TEST_F(ServicesTest, ReferenceGrammar) {
  EXPECT_EQ(Reference::parse("sha256:abc").error().code, ErrorCode::kDigestInvalid);
  EXPECT_EQ(Reference::parse("-bad").error().code, ErrorCode::kTagInvalid);
  EXPECT_TRUE(Reference::parse("v1.2.3")->tag);
}

}  // namespace
}  // namespace berth::registry
