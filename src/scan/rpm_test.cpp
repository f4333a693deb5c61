#include "scan/rpm.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace berth::scan {
namespace {

struct Entry {
  uint32_t tag;
  uint32_t type;
  std::string data;  // already encoded: NUL-terminated string or 4 big-endian bytes
};

void put32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

std::string be(uint32_t v) {
  std::string s;
  put32(s, v);
  return s;
}

std::string str(std::string_view s) { return std::string(s) + '\0'; }

// An rpm header blob as rpmdb.sqlite stores it: il, dl, index entries, data store.
std::string header_blob(const std::vector<Entry>& entries) {
  std::string index, data;
  for (const auto& e : entries) {
    if (e.type == 4) data.resize((data.size() + 3) & ~size_t{3}, '\0');  // int32 alignment, as rpm does
    put32(index, e.tag);
    put32(index, e.type);
    put32(index, static_cast<uint32_t>(data.size()));
    put32(index, 1);
    data += e.data;
  }
  std::string out;
  put32(out, static_cast<uint32_t>(entries.size()));
  put32(out, static_cast<uint32_t>(data.size()));
  return out + index + data;
}

std::string openssl_blob() {
  return header_blob({{63, 7, std::string(16, '\x01')},  // a region tag, ignored
                      {1000, 6, str("openssl-libs")},
                      {1001, 6, str("3.0.7")},
                      {1002, 6, str("27.el9")},
                      {1003, 4, be(1)},
                      {1044, 6, str("openssl-3.0.7-27.el9.src.rpm")}});
}

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(RpmHeader, ReadsNameEpochVersionReleaseAndSource) {
  auto blob = openssl_blob();
  auto p = parse_rpm_header(bytes(blob));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->ecosystem, "rpm");
  EXPECT_EQ(p->name, "openssl-libs");
  EXPECT_EQ(p->version, "1:3.0.7-27.el9");
  EXPECT_EQ(p->source_name, "openssl");
  EXPECT_EQ(p->source_version, "1:3.0.7-27.el9");
}

TEST(RpmHeader, NoEpochNoSource) {
  auto blob = header_blob({{1000, 6, str("bash")}, {1001, 6, str("5.1.8")}, {1002, 6, str("6.el9")}});
  auto p = parse_rpm_header(bytes(blob));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->version, "5.1.8-6.el9");
  EXPECT_TRUE(p->source_name.empty());
}

TEST(RpmHeader, MalformedBlobsAreRejected) {
  // String without a terminator inside the data store.
  auto unterminated = header_blob({{1000, 6, "bash"}, {1001, 6, str("1")}, {1002, 6, str("1")}});
  unterminated.pop_back();
  unterminated[7] = static_cast<char>(unterminated[7] - 1);  // dl shrinks with it
  EXPECT_FALSE(parse_rpm_header(bytes(unterminated)));
  // Offset beyond the data store.
  auto blob = openssl_blob();
  auto far = blob;
  far[8 + 16 + 8] = '\x7f';  // NAME entry's offset, high byte
  EXPECT_FALSE(parse_rpm_header(bytes(far)));
  // Index count claiming more entries than the blob holds.
  auto many = blob;
  many[0] = '\x00';
  many[1] = '\xff';
  EXPECT_FALSE(parse_rpm_header(bytes(many)));
  // Epoch offset at the very end of the data store: no room for an int32.
  auto epoch = header_blob({{1000, 6, str("a")}, {1001, 6, str("1")}, {1002, 6, str("1")}, {1003, 4, ""}});
  auto p = parse_rpm_header(bytes(epoch));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->version, "1-1");  // the unreadable epoch is left out, not read out of bounds
  // Missing NAME.
  auto nameless = header_blob({{1001, 6, str("1")}, {1002, 6, str("1")}});
  EXPECT_FALSE(parse_rpm_header(bytes(nameless)));
}

TEST(RpmHeader, EveryTruncationAndRandomCorruptionIsSafe) {
  auto blob = openssl_blob();
  for (size_t n = 0; n < blob.size(); ++n) EXPECT_FALSE(parse_rpm_header(bytes(blob.substr(0, n)))) << n;
  std::mt19937 rng(5);
  for (int i = 0; i < 20000; ++i) {
    auto bad = blob;
    for (int k = 0; k < 3; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    (void)parse_rpm_header(bytes(bad));  // ASan is the check
  }
}

class RpmDb : public ::testing::Test {
 protected:
  test::TempDir dir_{"berth-rpm-test"};
};

TEST_F(RpmDb, ReadsPackagesSkipsCorruptRowsAndKeys) {
  auto file = dir_.path() / "rpmdb.sqlite";
  {
    SQLite::Database db(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)");
    SQLite::Statement ins(db, "INSERT INTO Packages (blob) VALUES (?)");
    auto add = [&](const std::string& b) {
      ins.bind(1, b.data(), static_cast<int>(b.size()));
      ins.exec();
      ins.reset();
    };
    add(openssl_blob());
    auto corrupt = openssl_blob();
    corrupt.resize(corrupt.size() / 2);
    add(corrupt);
    add(header_blob({{1000, 6, str("gpg-pubkey")}, {1001, 6, str("fd431d51")}, {1002, 6, str("4ae0493b")}}));
    db.exec("INSERT INTO Packages (blob) VALUES ('text, not a blob')");
  }
  auto ex = parse_rpmdb_sqlite(file);
  EXPECT_TRUE(ex.unreadable.empty()) << ex.unreadable;
  ASSERT_EQ(ex.packages.size(), 1u);
  EXPECT_EQ(ex.packages[0].name, "openssl-libs");
  EXPECT_EQ(ex.skipped, 2);
}

TEST_F(RpmDb, NotAnRpmDatabaseIsUnreadableNotFatal) {
  auto garbage = dir_.path() / "garbage";
  { std::ofstream(garbage) << "this is not sqlite"; }
  EXPECT_FALSE(parse_rpmdb_sqlite(garbage).unreadable.empty());
  auto other = dir_.path() / "other.sqlite";
  { SQLite::Database(other.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE).exec("CREATE TABLE t (x)"); }
  EXPECT_EQ(parse_rpmdb_sqlite(other).unreadable, "not an rpm sqlite database (no Packages table)");
  auto view = dir_.path() / "view.sqlite";
  {
    SQLite::Database db(view.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    // A view that never ends must not hang the scan.
    db.exec("CREATE VIEW Packages AS WITH RECURSIVE c(blob) AS (SELECT 1 UNION ALL SELECT blob + 1 FROM c) "
            "SELECT blob FROM c");
  }
  EXPECT_FALSE(parse_rpmdb_sqlite(view).unreadable.empty());
}

}  // namespace
}  // namespace berth::scan
