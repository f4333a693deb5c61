#include "scan/layer_reader.h"

#include "scan/gobinary.h"
#include "scan/testing.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <SQLiteCpp/SQLiteCpp.h>

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace berth::scan {
namespace {

using File = fixtures::TarEntry;
using fixtures::make_layer;

Result<LayerInventory> scan(const std::string& bytes, const Limits& limits = {}) {
  size_t pos = 0;
  ReadChunk read = [&](std::span<char> out) -> Result<size_t> {
    size_t n = std::min(out.size(), bytes.size() - pos);
    std::memcpy(out.data(), bytes.data() + pos, n);
    pos += n;
    return n;
  };
  return read_layer(read, limits);
}

const std::vector<File> kDebianish = {
    {"./etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"},
    {"./var/lib/dpkg/status", "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nSource: glibc\n"},
    {"./usr/bin/big", std::string(1 << 20, 'x')},
    {"./app/node_modules/lodash/package.json", R"({"name":"lodash","version":"4.17.15"})"},
};

class EveryCompression : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryCompression, ReadsPackageSourcesByContent) {
  auto inv = scan(make_layer(kDebianish, GetParam()));
  ASSERT_TRUE(inv) << inv.error().message;
  ASSERT_EQ(inv->sources.size(), 2u);
  EXPECT_EQ(inv->sources[0].path, "var/lib/dpkg/status");
  EXPECT_EQ(inv->sources[0].packages.at(0).source_name, "glibc");
  EXPECT_EQ(inv->sources[1].packages.at(0).name, "lodash");
  EXPECT_EQ(inv->os_releases.at("etc/os-release").id, "debian");
}

INSTANTIATE_TEST_SUITE_P(Layers, EveryCompression, ::testing::Values("none", "gzip", "zstd"));

TEST(LayerReader, RecordsWhiteoutsAndOpaqueDirs) {
  auto inv = scan(make_layer({{"app/node_modules/.wh.lodash", ""},
                              {"var/lib/dpkg/.wh..wh..opq", ""},
                              {".wh.opt", ""}},
                             "gzip"));
  ASSERT_TRUE(inv) << inv.error().message;
  EXPECT_EQ(inv->whiteouts, (std::vector<std::string>{"app/node_modules/lodash", "opt"}));
  EXPECT_EQ(inv->opaque_dirs, std::vector<std::string>{"var/lib/dpkg"});
  EXPECT_TRUE(inv->sources.empty());
}

TEST(LayerReader, NotATarFails) {
  auto inv = scan(std::string(4096, 'z') + "this is no archive");
  ASSERT_FALSE(inv);
  EXPECT_EQ(inv.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(inv.error().message.find("not a tar"), std::string::npos) << inv.error().message;
}

TEST(LayerReader, EmptyBlobFails) {
  EXPECT_FALSE(scan(""));
}

TEST(LayerReader, TruncatedGzipFails) {
  std::vector<File> files = kDebianish;
  files.push_back({"var/lib/dpkg/status.d/zz", std::string(200000, 'q')});
  std::string layer = make_layer(files, "gzip");
  auto inv = scan(layer.substr(0, layer.size() / 2));
  ASSERT_FALSE(inv);
  EXPECT_EQ(inv.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(inv.error().message.find("truncated"), std::string::npos) << inv.error().message;
}

TEST(LayerReader, TooManyEntriesFails) {
  std::vector<File> files;
  for (int i = 0; i < 200; ++i) files.push_back({"f" + std::to_string(i), "x"});
  auto inv = scan(make_layer(files, "gzip"), Limits{.max_entries = 100});
  ASSERT_FALSE(inv);
  EXPECT_EQ(inv.error().code, ErrorCode::kPayloadTooLarge);
  EXPECT_NE(inv.error().message.find("entries"), std::string::npos);
}

TEST(LayerReader, TooManyBytesFails) {
  std::vector<File> files;
  for (int i = 0; i < 8; ++i) files.push_back({"f" + std::to_string(i), std::string(1 << 20, 'a')});
  auto inv = scan(make_layer(files, "zstd"), Limits{.max_bytes = 2 << 20});
  ASSERT_FALSE(inv);
  EXPECT_EQ(inv.error().code, ErrorCode::kPayloadTooLarge);
}

TEST(LayerReader, DeepPathFails) {
  std::string deep;
  for (int i = 0; i < 300; ++i) deep += "d/";
  auto inv = scan(make_layer({{deep + "f", "x"}}));
  ASSERT_FALSE(inv);
  EXPECT_EQ(inv.error().code, ErrorCode::kPayloadTooLarge);
}

TEST(LayerReader, OversizedManifestIsSkippedAndCounted) {
  auto inv = scan(make_layer({{"var/lib/dpkg/status", std::string(4096, 'P')}}, "gzip"),
                  Limits{.max_file_bytes = 1024});
  ASSERT_TRUE(inv) << inv.error().message;
  EXPECT_TRUE(inv->sources.empty());
  EXPECT_EQ(inv->skipped_records, 1);
}

TEST(LayerReader, SymlinksAreNeverFollowed) {
  auto inv = scan(make_layer({{"a", "", AE_IFLNK, "b"},
                              {"b", "", AE_IFLNK, "a"},
                              {"var/lib/dpkg/status", "", AE_IFLNK, "../../../var/lib/dpkg/status"},
                              {"etc/os-release", "", AE_IFLNK, "../usr/lib/os-release"}}));
  ASSERT_TRUE(inv) << inv.error().message;
  EXPECT_TRUE(inv->sources.empty());
  EXPECT_TRUE(inv->os_releases.empty());
}

TEST(LayerReader, MalformedStatusFailsNamingTheFileAndLine) {
  auto inv = scan(make_layer({{"var/lib/dpkg/status",
                               "Package: ok\nVersion: 1\nStatus: install ok installed\n\nPackage: bad\n\n\x01\x02\n"}}));
  ASSERT_FALSE(inv);
  EXPECT_EQ(inv.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(inv.error().message.find("var/lib/dpkg/status line 7:"), std::string::npos) << inv.error().message;
}

// A fake ELF whose data segment holds a Go 1.18+ build info block.
std::string go_binary() {
  std::string mod = std::string(16, 'a') + "path\tex.com/app\nmod\tex.com/app\tv1.0.0\t\ndep\tgolang.org/x/text\tv0.3.7\th1:x=\n" +
                    std::string(16, 'b');
  std::string block(kGoBuildInfoMagic);
  block += "\x08\x02";
  block.resize(32, '\0');
  block += std::string(1, '\x08') + "go1.19.3" + static_cast<char>(mod.size()) + mod;
  std::string elf = "\x7f" "ELF";
  elf.resize(300'000, '\x90');
  return elf + block + std::string(1000, '\0');
}

TEST(LayerReader, GoBuildInfoFromExecutablesOnly) {
  auto inv = scan(make_layer({{"usr/local/bin/app", go_binary(), AE_IFREG, "", 0755},
                              {"usr/share/doc/app.bin", go_binary()},  // not executable
                              {"usr/bin/script", "#!/bin/sh\n" + std::string(100, '#'), AE_IFREG, "", 0755}},
                             "gzip"));
  ASSERT_TRUE(inv) << inv.error().message;
  ASSERT_EQ(inv->sources.size(), 1u);
  EXPECT_EQ(inv->sources[0].path, "usr/local/bin/app");
  const auto& pk = inv->sources[0].packages;
  ASSERT_EQ(pk.size(), 3u);
  EXPECT_EQ(pk[0].name, "stdlib");
  EXPECT_EQ(pk[0].version, "1.19.3");
  EXPECT_EQ(pk[1].name, "ex.com/app");
  EXPECT_EQ(pk[2].name, "golang.org/x/text");
  EXPECT_EQ(pk[2].version, "v0.3.7");
  auto capped = scan(make_layer({{"app", go_binary(), AE_IFREG, "", 0755}}), Limits{.max_binary_scan_bytes = 4096});
  ASSERT_TRUE(capped);
  EXPECT_TRUE(capped->sources.empty());
}

TEST(LayerReader, BerkeleyRpmdbIsRecordedAsUnreadable) {
  auto inv = scan(make_layer({{"var/lib/rpm/Packages", std::string(8192, '\0')}}));
  ASSERT_TRUE(inv) << inv.error().message;
  ASSERT_EQ(inv->sources.size(), 1u);
  EXPECT_TRUE(inv->sources[0].packages.empty());
  EXPECT_NE(inv->sources[0].unreadable.find("BerkeleyDB"), std::string::npos);
}

class RpmLayer : public ::testing::Test {
 protected:
  // A WAL-mode rpmdb.sqlite, as rpm leaves it, with one bash header.
  std::string rpmdb() {
    auto file = src_.path() / "rpmdb.sqlite";
    {
      SQLite::Database db(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      db.exec("PRAGMA journal_mode=WAL");
      db.exec("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)");
      std::string blob;
      auto put32 = [&](uint32_t v) {
        for (int sh = 24; sh >= 0; sh -= 8) blob += static_cast<char>((v >> sh) & 0xff);
      };
      std::string data = std::string("bash") + '\0' + "5.1.8" + '\0' + "6.el9" + '\0';
      put32(3);
      put32(static_cast<uint32_t>(data.size()));
      uint32_t offsets[] = {0, 5, 11};
      for (uint32_t i = 0; i < 3; ++i) {
        put32(1000 + i);
        put32(6);
        put32(offsets[i]);
        put32(1);
      }
      blob += data;
      SQLite::Statement ins(db, "INSERT INTO Packages (blob) VALUES (?)");
      ins.bind(1, blob.data(), static_cast<int>(blob.size()));
      ins.exec();
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    std::ifstream in(file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  test::TempDir src_{"berth-rpmlayer"}, tmp_{"berth-rpmlayer"};
};

TEST_F(RpmLayer, SqliteRpmdbIsReadFromAPrivateTempCopyThenRemoved) {
  auto db = rpmdb();
  ASSERT_EQ(db[18], 2);  // really a WAL-mode header
  auto inv = scan(make_layer({{"usr/lib/sysimage/rpm/rpmdb.sqlite", db}}, "zstd"), Limits{.temp_dir = tmp_.path()});
  ASSERT_TRUE(inv) << inv.error().message;
  ASSERT_EQ(inv->sources.size(), 1u);
  EXPECT_TRUE(inv->sources[0].unreadable.empty()) << inv->sources[0].unreadable;
  ASSERT_EQ(inv->sources[0].packages.size(), 1u);
  EXPECT_EQ(inv->sources[0].packages[0].ecosystem, "rpm");
  EXPECT_EQ(inv->sources[0].packages[0].version, "5.1.8-6.el9");
  EXPECT_TRUE(std::filesystem::is_empty(tmp_.path()));
}

TEST_F(RpmLayer, OversizedRpmdbIsUnreadableNotFatal) {
  auto inv = scan(make_layer({{"var/lib/rpm/rpmdb.sqlite", rpmdb()}}), Limits{.max_rpmdb_bytes = 1024, .temp_dir = tmp_.path()});
  ASSERT_TRUE(inv) << inv.error().message;
  ASSERT_EQ(inv->sources.size(), 1u);
  EXPECT_NE(inv->sources[0].unreadable.find("larger than"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_empty(tmp_.path()));
}

TEST_F(RpmLayer, CorruptRpmdbIsUnreadableNotFatal) {
  auto db = rpmdb();
  for (size_t i = 100; i < db.size(); i += 7) db[i] = static_cast<char>(db[i] ^ 0x5a);
  auto inv = scan(make_layer({{"var/lib/rpm/rpmdb.sqlite", db}}), Limits{.temp_dir = tmp_.path()});
  ASSERT_TRUE(inv) << inv.error().message;
  ASSERT_EQ(inv->sources.size(), 1u);
  EXPECT_TRUE(std::filesystem::is_empty(tmp_.path()));
}

}  // namespace
}  // namespace berth::scan
