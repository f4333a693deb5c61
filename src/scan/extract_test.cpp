#include "scan/extract.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace berth::scan {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(BERTH_SCAN_TESTDATA) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Extract, DpkgStatusReadsInstalledPackagesAndSources) {
  auto ex = parse_dpkg_status(fixture("dpkg_status"));
  ASSERT_TRUE(ex) << ex.error().message;
  ASSERT_EQ(ex->packages.size(), 3u);
  EXPECT_EQ(ex->packages[0].name, "libc6");
  EXPECT_EQ(ex->packages[0].version, "2.36-9+deb12u4");
  EXPECT_EQ(ex->packages[0].source_name, "glibc");
  EXPECT_EQ(ex->packages[0].source_version, "2.36-9+deb12u4");
  EXPECT_EQ(ex->packages[1].source_name, "openssl");
  EXPECT_EQ(ex->packages[1].source_version, "3.0.11-1~deb12u2");
  EXPECT_EQ(ex->packages[2].name, "base-files");
  EXPECT_EQ(ex->packages[2].source_name, "base-files");
  EXPECT_EQ(ex->skipped, 1);  // broken-no-version
}

TEST(Extract, DpkgStatusDWithoutStatusFieldIsInstalled) {
  auto ex = parse_dpkg_status("Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n");
  ASSERT_TRUE(ex) << ex.error().message;
  ASSERT_EQ(ex->packages.size(), 1u);
  EXPECT_EQ(ex->packages[0].ecosystem, "dpkg");
}

TEST(Extract, DpkgStatusAsDpkgWritesItIsAccepted) {
  // Several blank lines, CRLF, multi-line Conffiles and Description (with " ." lines),
  // tab continuations, a purged package without a Version, and no final newline.
  auto ex = parse_dpkg_status(
      "\n\nPackage: base-files\r\nStatus: install ok installed\r\nVersion: 12.4+deb12u5\r\n"
      "Conffiles:\n /etc/debian_version 1a2b\n /etc/issue 3c4d obsolete\n"
      "Description: Debian base system miscellaneous files\n This package contains the basic\n .\n\tfilesystem.\n"
      "\n\n\nPackage: gone\nStatus: purge ok not-installed\nArchitecture: amd64\n"
      "   \nPackage: zlib1g\nVersion: 1:1.2.13.dfsg-1\nSource: zlib");
  ASSERT_TRUE(ex) << ex.error().message;
  ASSERT_EQ(ex->packages.size(), 2u);
  EXPECT_EQ(ex->packages[0].name, "base-files");
  EXPECT_EQ(ex->packages[1].name, "zlib1g");
  EXPECT_EQ(ex->skipped, 1);  // gone: no Version
}

TEST(Extract, DpkgStatusThatBreaksTheFormatIsRefusedNamingTheLine) {
  auto garbage = parse_dpkg_status(std::string("\x00\x01\xff garbage\n\n:::\n", 16));
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(garbage.error().message.find("line 1:"), std::string::npos) << garbage.error().message;

  auto no_colon = parse_dpkg_status("Package: a\nVersion: 1\n\nPackage: b\nVersion 2\n");
  ASSERT_FALSE(no_colon);
  EXPECT_NE(no_colon.error().message.find("line 5:"), std::string::npos) << no_colon.error().message;

  auto empty_name = parse_dpkg_status("Package: a\n: value\n");
  ASSERT_FALSE(empty_name);
  EXPECT_NE(empty_name.error().message.find("line 2:"), std::string::npos) << empty_name.error().message;

  auto no_package = parse_dpkg_status("Package: a\nVersion: 1\n\nStatus: install ok installed\nVersion: 2\n");
  ASSERT_FALSE(no_package);
  EXPECT_NE(no_package.error().message.find("line 4: the stanza has no Package field"), std::string::npos)
      << no_package.error().message;

  auto empty_package = parse_dpkg_status("Package:\nVersion: 1\n");
  ASSERT_FALSE(empty_package);
  EXPECT_NE(empty_package.error().message.find("line 1:"), std::string::npos) << empty_package.error().message;

  auto leading_continuation = parse_dpkg_status(" orphan\nPackage: a\nVersion: 1\n");
  ASSERT_FALSE(leading_continuation);
  EXPECT_NE(leading_continuation.error().message.find("line 1:"), std::string::npos);
}

TEST(Extract, ApkInstalled) {
  auto ex = parse_apk_installed(fixture("apk_installed"));
  ASSERT_EQ(ex.packages.size(), 2u);
  EXPECT_EQ(ex.packages[1].name, "libcrypto3");
  EXPECT_EQ(ex.packages[1].version, "3.1.4-r1");
  EXPECT_EQ(ex.packages[1].source_name, "openssl");
  EXPECT_EQ(ex.skipped, 1);
}

TEST(Extract, PythonMetadata) {
  auto ex = parse_python_metadata("Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n\nName: not-this\n");
  ASSERT_EQ(ex.packages.size(), 1u);
  EXPECT_EQ(ex.packages[0].ecosystem, "pypi");
  EXPECT_EQ(ex.packages[0].name, "requests");
  EXPECT_EQ(ex.packages[0].version, "2.31.0");
}

TEST(Extract, NpmPackageJson) {
  auto ex = parse_npm_package_json(R"({"name":"lodash","version":"4.17.15"})");
  ASSERT_EQ(ex.packages.size(), 1u);
  EXPECT_EQ(ex.packages[0].ecosystem, "npm");
  EXPECT_EQ(parse_npm_package_json("{not json").skipped, 1);
  EXPECT_EQ(parse_npm_package_json(R"({"name":1})").skipped, 1);
}

TEST(Extract, NpmLockV1AndV3) {
  auto v1 = parse_npm_lock(R"({"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0",
      "dependencies":{"b":{"version":"2.0.0"}}}}})");
  ASSERT_EQ(v1.packages.size(), 2u);
  EXPECT_EQ(v1.packages[1].name, "b");
  auto v3 = parse_npm_lock(R"({"lockfileVersion":3,"packages":{"":{"name":"app"},
      "node_modules/lodash":{"version":"4.17.15"},
      "node_modules/@scope/x/node_modules/y":{"version":"0.1.0"}}})");
  ASSERT_EQ(v3.packages.size(), 2u);
  // nlohmann orders keys: "node_modules/@scope/..." sorts before "node_modules/lodash".
  EXPECT_EQ(v3.packages[0].name, "y");
  EXPECT_EQ(v3.packages[1].name, "lodash");
  EXPECT_EQ(v3.packages[1].version, "4.17.15");
}

TEST(Extract, OsRelease) {
  auto os = parse_os_release("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n");
  EXPECT_EQ(os.id, "debian");
  EXPECT_EQ(os.version_id, "12");
}

TEST(Extract, Classify) {
  EXPECT_EQ(classify("var/lib/dpkg/status"), SourceKind::kDpkg);
  EXPECT_EQ(classify("var/lib/dpkg/status.d/tzdata"), SourceKind::kDpkg);
  EXPECT_EQ(classify("var/lib/dpkg/status.d/tzdata.md5sums"), SourceKind::kNone);
  EXPECT_EQ(classify("lib/apk/db/installed"), SourceKind::kApk);
  EXPECT_EQ(classify("app/node_modules/lodash/package.json"), SourceKind::kNpmPackage);
  EXPECT_EQ(classify("app/node_modules/@types/node/package.json"), SourceKind::kNpmPackage);
  EXPECT_EQ(classify("app/node_modules/lodash/fp/package.json"), SourceKind::kNone);
  EXPECT_EQ(classify("app/package.json"), SourceKind::kNone);
  EXPECT_EQ(classify("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA"), SourceKind::kPython);
  EXPECT_EQ(classify("etc/os-release"), SourceKind::kOsRelease);
  EXPECT_EQ(classify("usr/bin/ls"), SourceKind::kNone);
}

}  // namespace
}  // namespace berth::scan
