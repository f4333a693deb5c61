#include "store/meta/sqlite/wal_index.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>

#include "support/temp_dir.h"

namespace berth::store::sqlite_detail {
namespace {

class WalIndexWatchTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }

  // A database in WAL mode with one committed table, kept open (as the store keeps its
  // connections) so its -shm file stays initialized.
  std::unique_ptr<SQLite::Database> wal_database() {
    auto db = std::make_unique<SQLite::Database>(path("t.db"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db->exec("PRAGMA journal_mode = WAL");
    db->exec("CREATE TABLE t (x)");
    return db;
  }

  // Overwrites `bytes` at `offset` of `file` through the file, as another process would.
  static void poke(const std::string& file, off_t offset, const std::vector<unsigned char>& bytes) {
    const int fd = ::open(file.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), offset), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }
  static std::vector<unsigned char> peek(const std::string& file, off_t offset, size_t size) {
    std::vector<unsigned char> bytes(size);
    const int fd = ::open(file.c_str(), O_RDONLY);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::pread(fd, bytes.data(), size, offset), static_cast<ssize_t>(size));
    ::close(fd);
    return bytes;
  }

  test::TempDir dir_{"berth-wal"};
};

TEST_F(WalIndexWatchTest, MovesOnEveryCommitOfAnyConnectionAndNotOnReads) {
  auto db = wal_database();
  auto watch = WalIndexWatch::open(db->getHandle());
  ASSERT_NE(watch, nullptr);
  const auto start = watch->fingerprint();
  ASSERT_TRUE(start);

  db->exec("SELECT count(*) FROM t");
  EXPECT_EQ(watch->fingerprint(), start);

  db->exec("INSERT INTO t VALUES (1)");
  const auto after_own = watch->fingerprint();
  ASSERT_TRUE(after_own);
  EXPECT_NE(after_own, start);

  SQLite::Database other(path("t.db"), SQLite::OPEN_READWRITE);  // another process's connection
  other.exec("INSERT INTO t VALUES (2)");
  const auto after_other = watch->fingerprint();
  ASSERT_TRUE(after_other);
  EXPECT_NE(after_other, after_own);
  EXPECT_NE(after_other, start);

  // A checkpoint that restarts the WAL changes nothing readable, and a write after it
  // still moves the fingerprint away from every earlier one.
  db->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const auto after_checkpoint = watch->fingerprint();
  db->exec("INSERT INTO t VALUES (3)");
  const auto after_restart = watch->fingerprint();
  ASSERT_TRUE(after_restart);
  for (const auto& earlier : {start, after_own, after_other, after_checkpoint}) EXPECT_NE(after_restart, earlier);
}

TEST_F(WalIndexWatchTest, NoAnswerWhileTheTwoHeaderCopiesDiffer) {
  auto db = wal_database();
  db->exec("INSERT INTO t VALUES (1)");
  const std::string shm = path("t.db-shm");
  auto watch = WalIndexWatch::open(db->getHandle());
  ASSERT_NE(watch, nullptr);
  const auto before = watch->fingerprint();
  ASSERT_TRUE(before);

  // A writer stopped between storing the second copy and the first: change one field
  // (mxFrame, at 16) of the second copy only.
  const auto original = peek(shm, 48 + 16, 4);
  poke(shm, 48 + 16, {0xff, 0xff, 0xff, 0x7f});
  EXPECT_EQ(watch->fingerprint(), std::nullopt);
  EXPECT_EQ(WalIndexWatch::open(db->getHandle()), nullptr);

  poke(shm, 48 + 16, original);
  EXPECT_EQ(watch->fingerprint(), before);
}

TEST_F(WalIndexWatchTest, RefusesWhatIsNotAWalIndexItKnows) {
  EXPECT_EQ(WalIndexWatch::open(nullptr), nullptr);

  // A database in rollback-journal mode has no wal-index, and asking must not make one.
  {
    SQLite::Database rollback(path("r.db"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    rollback.exec("CREATE TABLE t (x)");
    EXPECT_EQ(WalIndexWatch::open(rollback.getHandle()), nullptr);
  }
  EXPECT_FALSE(std::filesystem::exists(path("r.db-shm")));

  SQLite::Database memory(":memory:", SQLite::OPEN_READWRITE);
  EXPECT_EQ(WalIndexWatch::open(memory.getHandle()), nullptr);

  // Two equal copies of a header of another version (a future SQLite's layout).
  auto db = wal_database();
  const std::string shm = path("t.db-shm");
  const auto original = peek(shm, 0, 4);
  const std::vector<unsigned char> future = {0x00, 0x09, 0x3d, 0x00};  // 4000000, little-endian
  poke(shm, 0, future);
  poke(shm, 48, future);
  EXPECT_EQ(WalIndexWatch::open(db->getHandle()), nullptr);
  poke(shm, 0, original);
  poke(shm, 48, original);
  EXPECT_NE(WalIndexWatch::open(db->getHandle()), nullptr);
}

}  // namespace
}  // namespace berth::store::sqlite_detail
