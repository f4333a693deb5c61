#include "scan/gobinary.h"

#include <cstdlib>
#include <fstream>
#include <iostream>

#include <gtest/gtest.h>

namespace berth::scan {
namespace {

std::string uvarint(size_t n) {
  std::string out;
  while (n >= 0x80) {
    out += static_cast<char>((n & 0x7f) | 0x80);
    n >>= 7;
  }
  return out + static_cast<char>(n);
}

const std::string kModInfo =
    "path\texample.com/app\n"
    "mod\texample.com/app\tv1.2.3\th1:abc=\n"
    "dep\tgolang.org/x/net\tv0.7.0\th1:x=\n"
    "dep\tgithub.com/a/b\tv1.0.0\th1:y=\n"
    "=>\tgithub.com/c/b\tv1.1.0\th1:z=\n"
    "dep\tgithub.com/local/thing\tv0.1.0\th1:w=\n"
    "=>\t../thing\t\t\n"
    "build\t-compiler=gc\n";

// A .go.buildinfo block as the Go 1.18+ linker writes it.
std::string buildinfo(std::string_view version = "go1.21.5", uint8_t flags = 2) {
  std::string out(kGoBuildInfoMagic);
  out += '\x08';
  out += static_cast<char>(flags);
  out.resize(32, '\0');
  std::string mod = std::string(16, '\x30') + kModInfo + std::string(16, '\x31');
  out += uvarint(version.size()) + std::string(version) + uvarint(mod.size()) + mod;
  return out;
}

// A fake ELF: header bytes, then "code" holding a misaligned decoy magic, then the block
// at a 16-aligned offset well past any first chunk, then more data.
std::string fake_elf(const std::string& block, size_t at = 200'000) {
  std::string out = "\x7f" "ELF";
  out.resize(1000, '\x90');
  out += std::string(kGoBuildInfoMagic) + "\x08\x02";  // decoy: a string literal, misaligned
  out.resize(at, '\x90');
  return out + block + std::string(5000, '\0');
}

std::optional<Extracted> scan_in_chunks(const std::string& file, size_t chunk, uint64_t cap = uint64_t{1} << 30) {
  GoBuildInfoScanner s(cap);
  for (size_t pos = 0; pos < file.size(); pos += chunk)
    if (!s.feed(std::string_view(file).substr(pos, chunk))) break;
  return s.finish();
}

void expect_app_packages(const Extracted& ex) {
  EXPECT_TRUE(ex.unreadable.empty()) << ex.unreadable;
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& p : ex.packages) {
    EXPECT_EQ(p.ecosystem, "go");
    got.emplace_back(p.name, p.version);
  }
  std::vector<std::pair<std::string, std::string>> want = {{"stdlib", "1.21.5"},
                                                           {"example.com/app", "v1.2.3"},
                                                           {"golang.org/x/net", "v0.7.0"},
                                                           {"github.com/c/b", "v1.1.0"}};
  EXPECT_EQ(got, want);
}

TEST(GoBuildInfo, ParsesInlineFormatWithReplacements) { expect_app_packages(parse_go_buildinfo(buildinfo())); }

TEST(GoBuildInfo, DevelMainModuleIsLeftOut) {
  std::string block(kGoBuildInfoMagic);
  block += "\x08\x02";
  block.resize(32, '\0');
  std::string mod = std::string(16, 'x') + "path\tcmd/tool\nmod\tcmd/tool\t(devel)\t\n" + std::string(16, 'y');
  block += uvarint(8) + "go1.22.1" + uvarint(mod.size()) + mod;
  auto ex = parse_go_buildinfo(block);
  ASSERT_EQ(ex.packages.size(), 1u);
  EXPECT_EQ(ex.packages[0].name, "stdlib");
  EXPECT_EQ(ex.packages[0].version, "1.22.1");
}

TEST(GoBuildInfo, PointerFormatIsUnreadableAndTruncationIsSafe) {
  auto old = parse_go_buildinfo(buildinfo("go1.17", 0));
  EXPECT_TRUE(old.packages.empty());
  EXPECT_NE(old.unreadable.find("1.18"), std::string::npos);
  auto block = buildinfo();
  for (size_t n = 0; n < block.size(); ++n) {
    auto ex = parse_go_buildinfo(block.substr(0, n));
    EXPECT_FALSE(ex.unreadable.empty()) << n;  // the module string is never complete before the end
  }
}

TEST(GoBuildInfo, StdlibVersionsAsOsvNamesThem) {
  EXPECT_EQ(go_stdlib_version("go1.21.5"), "1.21.5");
  EXPECT_EQ(go_stdlib_version("go1.20"), "1.20.0");
  EXPECT_EQ(go_stdlib_version("go1.21rc2"), "1.21.0-rc.2");
  EXPECT_EQ(go_stdlib_version("go1.22.0 X:boringcrypto"), "1.22.0");
  EXPECT_EQ(go_stdlib_version("devel go1.23-abc Tue"), std::nullopt);
  EXPECT_EQ(go_stdlib_version("go"), std::nullopt);
  EXPECT_EQ(go_stdlib_version("go1."), std::nullopt);
}

TEST(GoBuildInfoScanner, FindsTheBlockWhateverTheChunking) {
  auto file = fake_elf(buildinfo());
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{13}, size_t{14}, size_t{4096}, size_t{65536}, file.size()}) {
    auto ex = scan_in_chunks(file, chunk);
    ASSERT_TRUE(ex) << chunk;
    expect_app_packages(*ex);
  }
}

TEST(GoBuildInfoScanner, StopsAtTheCapAndIgnoresNonGoFiles) {
  auto file = fake_elf(buildinfo());
  EXPECT_FALSE(scan_in_chunks(file, 4096, 100'000));  // the block lies beyond the cap
  EXPECT_FALSE(scan_in_chunks(std::string(300'000, 'x'), 4096));
  // A misaligned magic alone (e.g. the literal inside cmd/go) is not build info.
  std::string decoy = "\x7f" "ELF";
  decoy.resize(1001, '\0');
  decoy += buildinfo();
  EXPECT_FALSE(scan_in_chunks(decoy, 4096));
}

// Not relied on: checks a real Go binary when the machine has one.
TEST(GoBuildInfoScanner, RealGoBinaryIfPresent) {
  const char* path = std::getenv("BERTH_TEST_GO_BINARY");
  if (!path) GTEST_SKIP() << "set BERTH_TEST_GO_BINARY to a Go 1.18+ binary";
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in);
  GoBuildInfoScanner s(uint64_t{1} << 30);
  std::string buf(64 * 1024, '\0');
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0)
    if (!s.feed(std::string_view(buf.data(), static_cast<size_t>(in.gcount())))) break;
  auto ex = s.finish();
  ASSERT_TRUE(ex);
  EXPECT_TRUE(ex->unreadable.empty()) << ex->unreadable;
  ASSERT_FALSE(ex->packages.empty());
  EXPECT_EQ(ex->packages[0].name, "stdlib");
  for (const auto& p : ex->packages) std::cout << p.name << " " << p.version << "\n";
}

}  // namespace
}  // namespace berth::scan
