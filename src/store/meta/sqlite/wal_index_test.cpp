#include "store/meta/sqlite/wal_index.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>

namespace berth::store::sqlite_detail {
namespace {

class WalIndexWatchTest : public ::testing::Test {
 protected:
  WalIndexWatchTest() {
    std::string pattern = (std::filesystem::temp_directory_path() / "berth-wal-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
    dir_ = pattern;
  }
  ~WalIndexWatchTest() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

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

  std::filesystem::path dir_;
};

TEST_F(WalIndexWatchTest, MovesOnEveryCommitOfAnyConnectionAndNotOnReads) {
  auto db = wal_database();
  auto watch = WalIndexWatch::open(path("t.db-shm"));
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
  auto watch = WalIndexWatch::open(shm);
  ASSERT_NE(watch, nullptr);
  const auto before = watch->fingerprint();
  ASSERT_TRUE(before);

  // A writer stopped between storing the second copy and the first: change one field
  // (mxFrame, at 16) of the second copy only.
  const auto original = peek(shm, 48 + 16, 4);
  poke(shm, 48 + 16, {0xff, 0xff, 0xff, 0x7f});
  EXPECT_EQ(watch->fingerprint(), std::nullopt);
  EXPECT_EQ(WalIndexWatch::open(shm), nullptr);

  poke(shm, 48 + 16, original);
  EXPECT_EQ(watch->fingerprint(), before);
}

TEST_F(WalIndexWatchTest, RefusesWhatIsNotAWalIndex) {
  EXPECT_EQ(WalIndexWatch::open(path("missing-shm")), nullptr);

  {
    std::ofstream(path("short-shm")) << "too short";
  }
  EXPECT_EQ(WalIndexWatch::open(path("short-shm")), nullptr);

  // The right size, two equal copies, but another header version.
  std::vector<unsigned char> fake(32768, 0);
  for (size_t copy : {size_t{0}, size_t{48}}) {
    const uint32_t version = 4000000;
    std::memcpy(&fake[copy], &version, sizeof version);
    fake[copy + 12] = 1;  // isInit
  }
  {
    std::ofstream out(path("fake-shm"), std::ios::binary);
    out.write(reinterpret_cast<const char*>(fake.data()), static_cast<std::streamsize>(fake.size()));
  }
  EXPECT_EQ(WalIndexWatch::open(path("fake-shm")), nullptr);

  // A database never opened in WAL mode has no wal-index at all.
  { SQLite::Database rollback(path("r.db"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE); }
  EXPECT_EQ(WalIndexWatch::open(path("r.db-shm")), nullptr);
}

}  // namespace
}  // namespace berth::store::sqlite_detail
