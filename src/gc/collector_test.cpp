// The collector over the real embedded stores (SQLite + filesystem) in a temp dir, with a
// clock the tests move: the transactions under test are the real ones.
#include "gc/collector.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/ids.h"
#include "crypto/hash.h"
#include "registry/testing.h"

namespace berth::gc {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kHour = 3'600'000;

class CollectorTest : public registry::fixtures::EmbeddedRegistry {
 protected:
  void SetUp() override {
    EmbeddedRegistry::SetUp();
    collector = std::make_unique<Collector>(*meta, *blobs, *uploads, clock);
    ASSERT_TRUE(repos->create("app"));
  }
  void TearDown() override {
    collector.reset();
    EmbeddedRegistry::TearDown();
  }

  bool on_disk(const Digest& d) { return static_cast<bool>(blobs->stat(d)); }

  Report run(Options options = {}) {
    auto report = collector->run(options);
    EXPECT_TRUE(report) << report.error().message;
    return report ? *report : Report{};
  }

  std::unique_ptr<Collector> collector;
};

TEST_F(CollectorTest, CollectsWhatNoManifestReferencesAfterTheGracePeriod) {
  const Digest keep = push_image("app", "keep", "config-keep", {"shared", "only-keep"});
  const Digest drop = push_image("app", "drop", "config-drop", {"shared", "only-drop"});
  ASSERT_TRUE(manifests->remove("app", registry::Reference{.tag = std::nullopt, .digest = drop}));

  // Within the grace period the deleted image's blobs stay linked: a push may be between
  // its layers and its manifest.
  Report early = run();
  EXPECT_EQ(early.blobs_deleted, 0u);
  EXPECT_EQ(early.links_dropped, 0u);

  clock.advance(std::chrono::milliseconds(2 * kHour));
  Options dry;
  dry.dry_run = true;
  Report preview = run(dry);
  EXPECT_EQ(preview.links_dropped, 2u);  // config-drop, only-drop
  EXPECT_EQ(preview.blobs_deleted, 2u);
  EXPECT_EQ(preview.blob_bytes_freed, std::string("config-drop").size() + std::string("only-drop").size());
  EXPECT_TRUE(on_disk(crypto::sha256("only-drop")));  // the dry run changed nothing

  Report real = run();
  EXPECT_EQ(real.links_dropped, preview.links_dropped);
  EXPECT_EQ(real.blobs_deleted, preview.blobs_deleted);
  EXPECT_EQ(real.blob_bytes_freed, preview.blob_bytes_freed);
  EXPECT_FALSE(on_disk(crypto::sha256("only-drop")));
  EXPECT_FALSE(on_disk(crypto::sha256("config-drop")));
  EXPECT_TRUE(on_disk(crypto::sha256("shared")));
  EXPECT_TRUE(on_disk(crypto::sha256("only-keep")));
  EXPECT_TRUE(manifests->get("app", registry::Reference{.tag = std::nullopt, .digest = keep}, false));

  Report again = run();
  EXPECT_EQ(again.blobs_deleted + again.links_dropped + again.orphans_deleted, 0u);
}

TEST_F(CollectorTest, ABlobSharedWithAnotherRepositorySurvivesThere) {
  ASSERT_TRUE(repos->create("other"));
  push_image("other", "v1", "config-other", {"common"});
  const Digest d = push_image("app", "v1", "config-app", {"common"});
  ASSERT_TRUE(manifests->remove("app", registry::Reference{.tag = std::nullopt, .digest = d}));
  clock.advance(std::chrono::milliseconds(2 * kHour));
  run();
  EXPECT_TRUE(on_disk(crypto::sha256("common")));
  EXPECT_FALSE(on_disk(crypto::sha256("config-app")));
  // The link in "app" is gone; "other" still reads it.
  EXPECT_FALSE(meta->linked_blob_size("app", crypto::sha256("common")));
  EXPECT_TRUE(meta->linked_blob_size("other", crypto::sha256("common")));
}

TEST_F(CollectorTest, AbandonedUploadsAndStagedUploadsWithoutASession) {
  auto idle = uploads->start("app");
  ASSERT_TRUE(idle);
  // A crash between staging and recording left these: an upload directory with no row,
  // and committed bytes no row records.
  const std::string orphan_id = new_uuid();
  ASSERT_TRUE(blobs->create_upload(orphan_id));
  const std::string orphan_bytes_id = new_uuid();
  ASSERT_TRUE(blobs->create_upload(orphan_bytes_id));
  {
    auto w = blobs->append_upload(orphan_bytes_id, 0);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->write("never recorded"));
  }
  ASSERT_TRUE(blobs->commit_upload(orphan_bytes_id, crypto::sha256("never recorded"), 14));

  Report first = run();
  EXPECT_EQ(first.uploads_expired, 0u);  // idle for less than the TTL
  EXPECT_EQ(first.upload_dirs_removed, 1u);
  EXPECT_EQ(first.orphans_deleted, 1u);
  EXPECT_EQ(first.orphan_bytes_freed, 14u);
  EXPECT_FALSE(on_disk(crypto::sha256("never recorded")));
  EXPECT_TRUE(meta->get_upload(idle->id));

  clock.advance(std::chrono::milliseconds(25 * kHour));
  Report later = run();
  EXPECT_EQ(later.uploads_expired, 1u);
  EXPECT_FALSE(meta->get_upload(idle->id));
  auto staged = blobs->list_uploads();
  ASSERT_TRUE(staged);
  EXPECT_TRUE(staged->empty());
}

TEST_F(CollectorTest, AnUploadOfADigestBeingDeletedWaitsAndThenCommitsItsOwnBytes) {
  const std::string bytes = "racing layer";
  const Digest d = push_blob("app", bytes);
  ASSERT_TRUE(meta->unlink_blob("app", d));
  // A collector has marked d and is about to unlink its bytes.
  auto marked = meta->begin_blob_deletions({d}, clock.now_ms());
  ASSERT_TRUE(marked);
  ASSERT_EQ(marked->size(), 1u);

  auto u = uploads->start("app");
  ASSERT_TRUE(u);
  {
    auto a = uploads->append("app", u->id, 0);
    ASSERT_TRUE(a);
    ASSERT_TRUE((*a)->write(bytes));
    ASSERT_TRUE((*a)->finish());
  }
  std::thread pusher([&] {
    auto done = uploads->complete("app", u->id, d);
    EXPECT_TRUE(done) << done.error().message;
  });
  // The collector finishes its batch: bytes, then the mark. The upload, waiting on the
  // mark, commits its own staged bytes afterwards.
  ASSERT_TRUE(blobs->remove(d));
  ASSERT_TRUE(meta->end_blob_deletions(*marked));
  pusher.join();
  EXPECT_TRUE(on_disk(d));
  EXPECT_TRUE(meta->linked_blob_size("app", d));
}

TEST_F(CollectorTest, BytesOfAnUploadBeingCommittedAreKept) {
  // Between commit_upload and link_blob the bytes have no row; the upload's commit
  // record keeps the collector off them.
  auto u = uploads->start("app");
  ASSERT_TRUE(u);
  const Digest d = crypto::sha256("in flight");
  ASSERT_TRUE(meta->begin_blob_commit(u->id, d, clock.now_ms()));
  const std::string id = new_uuid();
  ASSERT_TRUE(blobs->create_upload(id));
  {
    auto w = blobs->append_upload(id, 0);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->write("in flight"));
  }
  ASSERT_TRUE(blobs->commit_upload(id, d, 9));
  Report report = run();
  EXPECT_EQ(report.orphans_deleted, 0u);
  EXPECT_TRUE(on_disk(d));
}

TEST_F(CollectorTest, FinishesDeletionsACrashedCollectorLeft) {
  const Digest d = push_blob("app", "left behind");
  ASSERT_TRUE(meta->unlink_blob("app", d));
  ASSERT_TRUE(meta->begin_blob_deletions({d}, clock.now_ms()));  // then the collector died
  Report report = run();
  EXPECT_EQ(report.resumed_deletions, 1u);
  EXPECT_FALSE(on_disk(d));
  auto pending = meta->pending_blob_deletions();
  ASSERT_TRUE(pending);
  EXPECT_TRUE(pending->empty());
}

TEST(ParseDuration, AcceptsWholeNumbersWithAUnit) {
  EXPECT_EQ(parse_duration_ms("0").value(), 0);
  EXPECT_EQ(parse_duration_ms("0s").value(), 0);
  EXPECT_EQ(parse_duration_ms("90s").value(), 90'000);
  EXPECT_EQ(parse_duration_ms("15m").value(), 900'000);
  EXPECT_EQ(parse_duration_ms("2h").value(), 7'200'000);
  EXPECT_EQ(parse_duration_ms("7d").value(), 604'800'000);
  for (const char* bad : {"", "h", "1", "-1h", "1.5h", "1w", "h1", "1 h", "99999999999999999d", "1hh"}) {
    auto parsed = parse_duration_ms(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidParameter);
    EXPECT_NE(parsed.error().message.find("duration"), std::string::npos);
  }
}

}  // namespace
}  // namespace berth::gc
