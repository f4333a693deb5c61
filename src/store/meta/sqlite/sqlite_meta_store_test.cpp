#include "store/meta/sqlite/sqlite_meta_store.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <mutex>
#include <set>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>

#include "store/meta/meta_store_conformance.h"
#include "support/temp_dir.h"

namespace berth::store {
namespace {

using conformance::digest_of;
using conformance::fails_with;
using conformance::image;
using conformance::succeeded;

struct SqliteFactory {
  test::TempDir dir{"berth-meta"};
  std::unique_ptr<MetaStore> make() {
    auto store = SqliteMetaStore::open((dir.path() / "meta.db").string());
    EXPECT_TRUE(succeeded(store));
    if (!store) return nullptr;
    return std::move(*store);
  }
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, MetaStoreConformance, ::testing::Types<SqliteFactory>);

namespace {

class SqliteMetaStoreTest : public ::testing::Test {
 protected:
  std::string db_path() const { return (dir_.path() / "meta.db").string(); }
  std::unique_ptr<SqliteMetaStore> open() {
    auto store = SqliteMetaStore::open(db_path());
    EXPECT_TRUE(succeeded(store));
    return store ? std::move(*store) : nullptr;
  }
  int user_version() {
    SQLite::Database db(db_path(), SQLite::OPEN_READONLY);
    return db.execAndGet("PRAGMA user_version").getInt();
  }

  test::TempDir dir_{"berth-meta"};
};

TEST_F(SqliteMetaStoreTest, ReopenKeepsEverything) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(succeeded(store->create_repository("app", 10)));
    ASSERT_TRUE(succeeded(store->link_blob("app", digest_of("layer"), 123, 20)));
    ASSERT_TRUE(succeeded(store->put_manifest("app", image("m1", {digest_of("layer")}, "v1"), 30)));
    ASSERT_TRUE(succeeded(store->record_pull("app", digest_of("m1"), 40)));  // the NORMAL-sync path
    ASSERT_TRUE(succeeded(store->create_upload(UploadRecord{.id = "u1", .repository = "app", .offset = 7,
                                                            .hash_state = "st", .started_at_ms = 50,
                                                            .updated_at_ms = 60})));
  }
  auto store = open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->get_repository("app")->created_at_ms, 10);
  EXPECT_EQ(*store->linked_blob_size("app", digest_of("layer")), 123u);
  auto m = store->get_tagged_manifest("app", "v1");
  ASSERT_TRUE(succeeded(m));
  EXPECT_EQ(m->digest, digest_of("m1"));
  EXPECT_EQ(m->content, image("m1").content);
  EXPECT_EQ(m->last_pulled_at_ms, 40);
  auto u = store->get_upload("u1");
  ASSERT_TRUE(succeeded(u));
  EXPECT_EQ(u->offset, 7u);
  EXPECT_EQ(u->hash_state, "st");
}

TEST_F(SqliteMetaStoreTest, SecondInstanceOnSameFileSeesWrites) {
  // As `berth repo create` in another process would, while the server runs.
  auto server = open();
  auto cli = open();
  ASSERT_NE(server, nullptr);
  ASSERT_NE(cli, nullptr);

  // Warm the server's read connections and statement caches first.
  EXPECT_TRUE(fails_with(server->get_repository("made-by-cli"), ErrorCode::kNameUnknown));
  ASSERT_TRUE(succeeded(cli->create_repository("made-by-cli", 1)));
  EXPECT_TRUE(succeeded(server->get_repository("made-by-cli")));

  ASSERT_TRUE(succeeded(server->put_manifest("made-by-cli", image("m1", {}, "v1"), 2)));
  EXPECT_EQ(cli->get_tagged_manifest("made-by-cli", "v1")->digest, digest_of("m1"));
  EXPECT_TRUE(fails_with(cli->create_repository("made-by-cli", 3), ErrorCode::kRepositoryExists));

  // Caches in the server learn of the other process's writes from data_version.
  const uint64_t before = *server->data_version();
  ASSERT_TRUE(succeeded(cli->put_setting("k", "v")));
  EXPECT_NE(*server->data_version(), before);

  // Both write concurrently-ish; each sees the other's rows.
  ASSERT_TRUE(succeeded(cli->delete_tag("made-by-cli", "v1")));
  EXPECT_TRUE(fails_with(server->get_tagged_manifest("made-by-cli", "v1"), ErrorCode::kManifestUnknown));
}

// data_version is read from the mapped wal-index header, or (watch_wal_index off, or no
// mapping) answered by whichever pooled reader a thread gets, whose own PRAGMA values
// differ. Either way: after another process's commit, every thread sees a version it had
// not seen before the commit, and with nothing written the answer settles.
class DataVersionTest : public SqliteMetaStoreTest, public ::testing::WithParamInterface<bool> {};

TEST_P(DataVersionTest, MovesForEveryThreadAfterAnotherProcessCommits) {
  auto opened = SqliteMetaStore::open(db_path(), SqliteMetaStore::Options{.watch_wal_index = GetParam()});
  ASSERT_TRUE(succeeded(opened));
  auto server = std::move(*opened);
  auto cli = open();
  ASSERT_NE(cli, nullptr);
  constexpr int kThreads = 4;
  std::vector<std::optional<uint64_t>> before(kThreads), after(kThreads);
  std::set<uint64_t> seen_before;
  std::mutex seen_mu;
  auto read_all = [&](std::vector<std::optional<uint64_t>>& out, bool record) {
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        for (int j = 0; j < 50; ++j) {  // long enough for the pool to hold several readers
          auto v = server->data_version();
          if (!v) return;
          out[i] = *v;
          if (record) {
            std::lock_guard lock(seen_mu);
            seen_before.insert(*v);
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  };
  read_all(before, true);
  for (const auto& v : before) ASSERT_TRUE(v);
  ASSERT_TRUE(succeeded(cli->put_setting("k", "v")));
  read_all(after, false);
  for (const auto& v : after) {
    ASSERT_TRUE(v);
    EXPECT_FALSE(seen_before.contains(*v)) << *v;
  }
  const uint64_t settled = *server->data_version();
  EXPECT_EQ(*server->data_version(), settled);
  // The store's own writes move it too, and reads do not.
  ASSERT_TRUE(succeeded(server->put_setting("k", "w")));
  const uint64_t written = *server->data_version();
  EXPECT_NE(written, settled);
  EXPECT_TRUE(succeeded(server->get_setting("k")));
  EXPECT_EQ(*server->data_version(), written);
}

INSTANTIATE_TEST_SUITE_P(WalIndexOrPragma, DataVersionTest, ::testing::Bool());

TEST_F(SqliteMetaStoreTest, MigrationsAreIdempotentOnReopen) {
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(succeeded(store->create_repository("app", 1)));
  }
  EXPECT_EQ(user_version(), SqliteMetaStore::kSchemaVersion);
  for (int i = 0; i < 3; ++i) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(*store->list_repositories("", 10), (std::vector<std::string>{"app"}));
  }
  EXPECT_EQ(user_version(), SqliteMetaStore::kSchemaVersion);

  SQLite::Database db(db_path(), SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
  SQLite::Statement check(db, "PRAGMA integrity_check");
  ASSERT_TRUE(check.executeStep());
  EXPECT_EQ(check.getColumn(0).getString(), "ok");
}

TEST_F(SqliteMetaStoreTest, RefusesSchemaFromNewerBerth) {
  { ASSERT_NE(open(), nullptr); }
  {
    SQLite::Database db(db_path(), SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = " + std::to_string(SqliteMetaStore::kSchemaVersion + 1));
  }
  auto store = SqliteMetaStore::open(db_path());
  ASSERT_TRUE(fails_with(store, ErrorCode::kUnavailable));
  EXPECT_NE(store.error().message.find("newer"), std::string::npos);
}

TEST_F(SqliteMetaStoreTest, OpenFailuresAreErrorsWithoutPaths) {
  const std::string missing_dir = (dir_.path() / "no-such-dir" / "meta.db").string();
  auto store = SqliteMetaStore::open(missing_dir);
  ASSERT_TRUE(fails_with(store, ErrorCode::kInternal));
  EXPECT_EQ(store.error().message.find(dir_.path().string()), std::string::npos) << store.error().message;

  {
    std::ofstream garbage(db_path());
    garbage << std::string(8192, 'x');
  }
  store = SqliteMetaStore::open(db_path());
  ASSERT_TRUE(fails_with(store, ErrorCode::kInternal));
  EXPECT_EQ(store.error().message.find(dir_.path().string()), std::string::npos) << store.error().message;
}

TEST_F(SqliteMetaStoreTest, WriteLockHeldByAnotherProcessIsUnavailableNotAnException) {
  auto opened = SqliteMetaStore::open(db_path(), SqliteMetaStore::Options{.busy_timeout_ms = 200});
  ASSERT_TRUE(succeeded(opened));
  auto& store = *opened;
  ASSERT_TRUE(succeeded(store->create_repository("app", 1)));
  // Another connection (as another process would) holds the write lock past busy_timeout.
  SQLite::Database other(db_path(), SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");
  auto r = store->create_repository("blocked", 2);
  EXPECT_TRUE(fails_with(r, ErrorCode::kUnavailable));
  // Reads go on meanwhile (WAL).
  EXPECT_TRUE(succeeded(store->get_repository("app")));
  other.exec("ROLLBACK");
  // And the writer recovers.
  EXPECT_TRUE(succeeded(store->create_repository("blocked", 3)));
}

TEST_F(SqliteMetaStoreTest, PullTimeNeverMovesBackwards) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(succeeded(store->create_repository("app", 1)));
  ASSERT_TRUE(succeeded(store->put_manifest("app", image("m1"), 2)));
  ASSERT_TRUE(succeeded(store->record_pull("app", digest_of("m1"), 500)));
  ASSERT_TRUE(succeeded(store->record_pull("app", digest_of("m1"), 400)));  // finished late
  EXPECT_EQ(store->get_manifest("app", digest_of("m1"))->last_pulled_at_ms, 500);
}

TEST_F(SqliteMetaStoreTest, ForcedRepositoryDeleteLeavesBlobRecordsForGc) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(succeeded(store->create_repository("app", 1)));
  ASSERT_TRUE(succeeded(store->link_blob("app", digest_of("layer"), 5, 1)));
  ASSERT_TRUE(succeeded(store->put_manifest("app", image("m1", {digest_of("layer")}, "v1"), 2)));
  ASSERT_TRUE(succeeded(store->delete_repository("app", true)));

  SQLite::Database db(db_path(), SQLite::OPEN_READONLY);
  // Nothing hangs off a deleted repository...
  for (const char* table : {"repository_blobs", "manifests", "manifest_blob_refs", "manifest_children", "tags",
                            "uploads"}) {
    EXPECT_EQ(db.execAndGet(std::string("SELECT count(*) FROM ") + table).getInt(), 0) << table;
  }
  // ...but the blob record stays until GC removes it together with the bytes.
  EXPECT_EQ(db.execAndGet("SELECT size FROM blobs").getInt(), 5);
  SQLite::Statement fk(db, "PRAGMA foreign_key_check");
  EXPECT_FALSE(fk.executeStep());
}

TEST_F(SqliteMetaStoreTest, HotReadsUseIndexes) {
  { ASSERT_NE(open(), nullptr); }
  SQLite::Database db(db_path(), SQLite::OPEN_READONLY);
  auto plan = [&](const std::string& sql) {
    SQLite::Statement s(db, "EXPLAIN QUERY PLAN " + sql);
    std::string out;
    while (s.executeStep()) out += s.getColumn(3).getString() + "\n";
    return out;
  };
  const std::string tagged = plan(
      "SELECT m.content FROM repositories r "
      "LEFT JOIN tags t ON t.repository_id = r.id AND t.name = 'x' "
      "LEFT JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.manifest_digest "
      "WHERE r.name = 'a'");
  EXPECT_EQ(tagged.find("SCAN"), std::string::npos) << tagged;
  const std::string referrers = plan(
      "SELECT digest FROM manifests WHERE repository_id = 1 AND subject_digest = 's' "
      "AND ('t' IS NULL OR artifact_type = 't') ORDER BY digest");
  EXPECT_NE(referrers.find("manifests_by_subject"), std::string::npos) << referrers;
  EXPECT_EQ(referrers.find("TEMP B-TREE"), std::string::npos) << referrers;
}

}  // namespace
}  // namespace berth::store
