// For tests of the registry services and the code above them (gc, expiry, scanning): the
// real embedded stores (SQLite + filesystem) in a temp dir, the services over them, a
// clock the test moves, and helpers that push blobs, images and indexes through the same
// services a push uses. Real stores, not fakes: a fake would hide the transaction
// behaviour under test, and these are fast.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "crypto/hash.h"
#include "registry/blob_service.h"
#include "registry/manifest_service.h"
#include "registry/pull_recorder.h"
#include "registry/repository_service.h"
#include "registry/upload_service.h"
#include "store/blob/fs/fs_blob_store.h"
#include "store/meta/sqlite/sqlite_meta_store.h"
#include "support/temp_dir.h"

namespace berth::registry::fixtures {

class EmbeddedRegistry : public ::testing::Test {
 protected:
  void SetUp() override { open_stores(false); }
  void TearDown() override { close_stores(); }

  // A new process over the same data dir: everything is closed and opened again.
  void reopen(bool create_on_push = false) {
    close_stores();
    open_stores(create_on_push);
  }

  Digest push_blob(const std::string& repo, const std::string& bytes) {
    auto u = uploads->start(repo);
    EXPECT_TRUE(u) << u.error().message;
    {
      auto a = uploads->append(repo, u->id, 0);
      EXPECT_TRUE(a);
      EXPECT_TRUE((*a)->write(bytes));
      EXPECT_TRUE((*a)->finish());
    }
    const Digest d = crypto::sha256(bytes);
    auto done = uploads->complete(repo, u->id, d);
    EXPECT_TRUE(done) << done.error().message;
    return d;
  }

  Digest put_manifest(const std::string& repo, const std::string& reference, const std::string& media_type,
                      const std::string& json) {
    auto ref = Reference::parse(reference);
    EXPECT_TRUE(ref);
    auto pushed = manifests->put(repo, *ref, media_type, json);
    EXPECT_TRUE(pushed) << pushed.error().message;
    return pushed ? pushed->digest : crypto::sha256(json);
  }

  // An OCI image manifest over `config` and `layers` under `reference` (a tag, or the
  // digest it will have), with an optional subject.
  Digest push_image(const std::string& repo, const std::string& reference, const std::string& config,
                    const std::vector<std::string>& layers, const std::optional<Digest>& subject = std::nullopt) {
    const Digest c = push_blob(repo, config);
    std::string json = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                       R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                       c.str() + R"(","size":)" + std::to_string(config.size()) + R"(},"layers":[)";
    for (size_t i = 0; i < layers.size(); ++i) {
      const Digest l = push_blob(repo, layers[i]);
      if (i) json += ",";
      json += R"({"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" + l.str() + R"(","size":)" +
              std::to_string(layers[i].size()) + "}";
    }
    json += "]";
    if (subject) {
      auto s = meta->get_manifest(repo, *subject);
      EXPECT_TRUE(s);
      json += R"(,"subject":{"mediaType":")" + s->media_type + R"(","digest":")" + subject->str() +
              R"(","size":)" + std::to_string(s->content.size()) + "}";
    }
    json += "}";
    const std::string reference_or_digest = reference.empty() ? crypto::sha256(json).str() : reference;
    return put_manifest(repo, reference_or_digest, "application/vnd.oci.image.manifest.v1+json", json);
  }

  // An OCI index over `children` (manifests of `repo`).
  Digest push_index(const std::string& repo, const std::string& tag, const std::vector<Digest>& children) {
    std::string json = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)";
    for (size_t i = 0; i < children.size(); ++i) {
      auto child = meta->get_manifest(repo, children[i]);
      EXPECT_TRUE(child);
      if (i) json += ",";
      json += R"({"mediaType":")" + child->media_type + R"(","digest":")" + children[i].str() + R"(","size":)" +
              std::to_string(child->content.size()) + R"(,"platform":{"architecture":"arch)" + std::to_string(i) +
              R"(","os":"linux"}})";
    }
    json += "]}";
    return put_manifest(repo, tag.empty() ? crypto::sha256(json).str() : tag,
                        "application/vnd.oci.image.index.v1+json", json);
  }

  test::TempDir dir_{"berth-registry"};
  ManualClock clock{std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'000))};
  std::unique_ptr<store::MetaStore> meta;
  std::unique_ptr<store::BlobStore> blobs;
  std::unique_ptr<RepositoryService> repos;
  std::unique_ptr<PullRecorder> pulls;
  std::unique_ptr<BlobService> blob_service;
  std::unique_ptr<UploadService> uploads;
  std::unique_ptr<ManifestService> manifests;

 private:
  void open_stores(bool create_on_push) {
    meta = std::move(*store::SqliteMetaStore::open((dir_.path() / "meta.db").string()));
    blobs = std::move(*store::FsBlobStore::open(dir_.path().string()));
    repos = std::make_unique<RepositoryService>(*meta, clock, create_on_push);
    pulls = std::make_unique<PullRecorder>(*meta);
    blob_service = std::make_unique<BlobService>(*meta, *blobs, clock);
    uploads = std::make_unique<UploadService>(*meta, *blobs, *repos, clock);
    manifests = std::make_unique<ManifestService>(*meta, *repos, *pulls, clock);
  }
  void close_stores() {
    manifests.reset();
    uploads.reset();
    blob_service.reset();
    pulls.reset();
    repos.reset();
    blobs.reset();
    meta.reset();
  }
};

}  // namespace berth::registry::fixtures
