#include "vuln/matcher.h"

#include <gtest/gtest.h>

#include "vuln/native.h"

namespace berth::vuln {
namespace {

// Excerpts in the Debian security tracker's list format (as in ../shared/vulndata/debian).
constexpr std::string_view kDsaList = R"([05 Apr 2025] DSA-5895-1 xz-utils - security update
	{CVE-2025-31115}
	[bookworm] - xz-utils 5.4.1-1
[11 Oct 2023] DSA-5523-1 curl - security update
	{CVE-2023-38545 CVE-2023-38546}
	[bullseye] - curl 7.74.0-1.3+deb11u10
	[bookworm] - curl 7.88.1-10+deb12u4
)";

constexpr std::string_view kCveList = R"(CVE-2026-34743 (XZ Utils provide a general-purpose data-compression library plus comma ...)
	- xz-utils 5.8.3-1 (bug #1132497)
	[trixie] - xz-utils 5.8.1-1+deb13u1
	[bookworm] - xz-utils 5.4.1-2+deb12u1
	[bullseye] - xz-utils <postponed> (Minor issue)
	NOTE: https://tukaani.org/xz/index-append-overflow.html
CVE-2026-8376 [Buffer overflow in Perl_study_chunk]
	- perl <unfixed> (bug #1137345)
	[bookworm] - perl <no-dsa> (Minor issue; can be fixed in point release)
CVE-2025-31115 (XZ Utils provide a general-purpose data-compression library plus comma ...)
	{DSA-5895-1}
	- xz-utils 5.8.1-1
	[bullseye] - xz-utils <not-affected> (Vulnerable code introduced later)
)";

constexpr std::string_view kSecdb = R"({"distroversion": "v3.20", "reponame": "main", "packages": [
  {"pkg": {"name": "busybox", "secfixes": {"0": ["CVE-2021-42373"], "1.36.1-r16": ["CVE-2023-42363"]}}},
  {"pkg": {"name": "zlib", "secfixes": {"1.2.12-r2": ["CVE-2022-37434"]}}}]})";

Matcher debian_matcher() {
  auto dsa = parse_debian_list(kDsaList);
  auto cve = parse_debian_list(kCveList);
  EXPECT_TRUE(dsa && cve);
  Matcher m;
  for (const auto& a : merge_debian(*dsa, *cve)) m.add(a);
  return m;
}

std::vector<std::string> ids(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f.id);
  std::sort(out.begin(), out.end());
  return out;
}

// DSA-5523-1 fixes two CVEs; a CVE list that knows only one must not hide the other.
TEST(Matcher, DsaCvesTheCveListLacksAreFoundUnderTheirOwnIds) {
  auto dsa = parse_debian_list(kDsaList);
  auto cve = parse_debian_list(R"(CVE-2023-38545 (SOCKS5 heap buffer overflow)
	{DSA-5523-1}
	- curl 8.3.0-3
)");
  ASSERT_TRUE(dsa && cve);
  Matcher m;
  for (const auto& a : merge_debian(*dsa, *cve)) m.add(a);
  const OsInfo bookworm{"debian", "12"};
  const Package before{"dpkg", "libcurl4", "7.88.1-10+deb12u3", "curl", "7.88.1-10+deb12u3"};
  EXPECT_EQ(ids(m.match(bookworm, {before})), (std::vector<std::string>{"CVE-2023-38545", "CVE-2023-38546"}));
  const Package fixed{"dpkg", "libcurl4", "7.88.1-10+deb12u4", "curl", "7.88.1-10+deb12u4"};
  EXPECT_TRUE(m.match(bookworm, {fixed}).empty());
}

TEST(Matcher, DebianBySourcePackageWithDsaAndCveListsMerged) {
  const auto m = debian_matcher();
  const OsInfo bookworm{"debian", "12"};
  // liblzma5 is built from xz-utils: the tracker speaks of the source package.
  const Package old_xz{"dpkg", "liblzma5", "5.4.1-0.2", "xz-utils", "5.4.1-0.2"};
  EXPECT_EQ(ids(m.match(bookworm, {old_xz})), (std::vector<std::string>{"CVE-2025-31115", "CVE-2026-34743"}));
  // 5.4.1-1 has the DSA fix for CVE-2025-31115 even though the CVE list only names sid's 5.8.1-1.
  const Package dsa_xz{"dpkg", "liblzma5", "5.4.1-1", "xz-utils", "5.4.1-1"};
  const auto found = m.match(bookworm, {dsa_xz});
  ASSERT_EQ(ids(found), std::vector<std::string>{"CVE-2026-34743"});
  EXPECT_EQ(found[0].fixed_versions, std::vector<std::string>{"5.4.1-2+deb12u1"});
  EXPECT_EQ(found[0].package_name, "liblzma5");
  EXPECT_EQ(found[0].severity, Severity::kUndefined);  // the tracker has no CVSS
  EXPECT_TRUE(m.match(bookworm, {{"dpkg", "liblzma5", "5.4.1-2+deb12u1", "xz-utils", "5.4.1-2+deb12u1"}}).empty());
  // <no-dsa> stays open with no fix.
  const auto perl = m.match(bookworm, {{"dpkg", "perl-base", "5.36.0-7+deb12u2", "perl", "5.36.0-7+deb12u2"}});
  ASSERT_EQ(ids(perl), std::vector<std::string>{"CVE-2026-8376"});
  EXPECT_TRUE(perl[0].fixed_versions.empty());
  // DSAs without CVE-list entries keep their own id.
  EXPECT_EQ(ids(m.match(bookworm, {{"dpkg", "curl", "7.88.1-10+deb12u3", "curl", "7.88.1-10+deb12u3"}})),
            std::vector<std::string>{"DSA-5523-1"});
  // Bullseye's <not-affected> is honoured; other distros never match Debian data.
  EXPECT_TRUE(m.match({"debian", "11"}, {{"dpkg", "liblzma5", "5.2.5-2", "xz-utils", "5.2.5-2"}}).size() == 1);  // postponed 34743
  EXPECT_TRUE(m.match({"ubuntu", "22.04"}, {old_xz}).empty());
}

TEST(Matcher, AlpineSecdbPerBranch) {
  auto advs = parse_alpine_secdb_json(kSecdb);
  ASSERT_TRUE(advs);
  Matcher m;
  for (const auto& a : *advs) m.add(a);
  EXPECT_EQ(m.size(), 2u);  // "0" entries are not vulnerabilities
  const auto found = m.match({"alpine", "3.20.3"}, {{"apk", "busybox", "1.36.1-r15", "", ""}, {"apk", "zlib", "1.3.1-r0", "", ""}});
  ASSERT_EQ(ids(found), std::vector<std::string>{"CVE-2023-42363"});
  EXPECT_EQ(found[0].fixed_versions, std::vector<std::string>{"1.36.1-r16"});
  EXPECT_TRUE(m.match({"alpine", "3.19.1"}, {{"apk", "busybox", "1.36.1-r15", "", ""}}).empty());
  // secdb names origins: ssl_client is built from busybox and reported under its own name.
  const auto by_origin = m.match({"alpine", "3.20.3"}, {{"apk", "ssl_client", "1.36.1-r15", "busybox", "1.36.1-r15"}});
  ASSERT_EQ(ids(by_origin), std::vector<std::string>{"CVE-2023-42363"});
  EXPECT_EQ(by_origin[0].package_name, "ssl_client");
  EXPECT_EQ(by_origin[0].package_version, "1.36.1-r15");
  EXPECT_FALSE(parse_alpine_secdb_json("{\"packages\": []}"));
  EXPECT_FALSE(parse_alpine_secdb_json("not json"));
}

TEST(Matcher, OsvLanguagePackagesAndWithdrawn) {
  Matcher m;
  auto adv = parse_osv(R"({"id":"PYSEC-X","summary":"s","affected":[{"package":{"ecosystem":"PyPI","name":"Zope.Interface"},
    "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"5.0"}]},{"type":"GIT","events":[{"introduced":"abc"}]}]}]})");
  auto gone = parse_osv(R"({"id":"GHSA-W","withdrawn":"2020-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"minimist"},
    "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2.2"}]}]}]})");
  ASSERT_TRUE(adv && gone);
  m.add(*adv);
  m.add(*gone);
  EXPECT_EQ(ids(m.match({}, {{"pypi", "zope_interface", "4.7", "", ""}})), std::vector<std::string>{"PYSEC-X"});
  EXPECT_TRUE(m.match({}, {{"pypi", "zope-interface", "5.0", "", ""}}).empty());
  EXPECT_TRUE(m.match({}, {{"npm", "minimist", "1.2.0", "", ""}}).empty());
}

// As the scanner reports Go binaries: module versions keep Go's "v", the toolchain is
// "stdlib" at a plain semver; OSV's Go records (GO-2021-0067, GO-2022-1059 in vulndata) use neither prefix.
TEST(Matcher, GoModulesAndStdlibFromBuildInfo) {
  Matcher m;
  auto stdlib = parse_osv(R"({"id":"GO-2021-0067","affected":[{"package":{"name":"stdlib","ecosystem":"Go"},
    "ranges":[{"type":"SEMVER","events":[{"introduced":"1.16.0-0"},{"fixed":"1.16.1"}]}]}]})");
  auto text = parse_osv(R"({"id":"GO-2022-1059","affected":[{"package":{"name":"golang.org/x/text","ecosystem":"Go"},
    "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.8"}]}]}]})");
  ASSERT_TRUE(stdlib && text);
  m.add(*stdlib);
  m.add(*text);
  EXPECT_EQ(ids(m.match({}, {{"go", "stdlib", "1.16.0", "", ""}, {"go", "golang.org/x/text", "v0.3.7", "", ""}})),
            (std::vector<std::string>{"GO-2021-0067", "GO-2022-1059"}));
  EXPECT_TRUE(m.match({}, {{"go", "stdlib", "1.16.1", "", ""}, {"go", "golang.org/x/text", "v0.3.8", "", ""}}).empty());
}

TEST(Matcher, Namespaces) {
  EXPECT_EQ(namespace_of("Debian:12"), "debian:12");
  EXPECT_EQ(namespace_of("Alpine:v3.19"), "alpine:3.19");
  EXPECT_EQ(namespace_of("PyPI"), "pypi");
  EXPECT_EQ(namespace_of("Go"), "go");
  EXPECT_EQ(namespace_of("crates.io"), "");
  EXPECT_EQ(namespace_of(Package{"apk", "x", "1", "", ""}, OsInfo{"alpine", "3.19.1"}), "alpine:3.19");
  EXPECT_EQ(namespace_of(Package{"dpkg", "x", "1", "", ""}, OsInfo{"debian", "12"}), "debian:12");
  EXPECT_EQ(namespace_of(Package{"go", "stdlib", "1.21.5", "", ""}, OsInfo{"alpine", "3.19"}), "go");
  EXPECT_EQ(namespace_of("Ubuntu:22.04:LTS"), "ubuntu:22.04");
  EXPECT_EQ(namespace_of("Ubuntu:23.10"), "ubuntu:23.10");
  EXPECT_EQ(namespace_of("Ubuntu:Pro:18.04:LTS"), "");
  EXPECT_EQ(namespace_of(Package{"dpkg", "x", "1", "", ""}, OsInfo{"ubuntu", "22.04"}), "ubuntu:22.04");
  EXPECT_EQ(namespace_of(Package{"dpkg", "x", "1", "", ""}, OsInfo{"linuxmint", "21.2"}), "");
  EXPECT_EQ(namespace_of("AlmaLinux:9"), "almalinux:9");
  EXPECT_EQ(namespace_of("Rocky Linux:8"), "rocky:8");
  EXPECT_EQ(namespace_of("AlmaLinux"), "");  // unscoped: berth matches per release only
  EXPECT_EQ(namespace_of(Package{"rpm", "bash", "5.1.8-6.el9", "", ""}, OsInfo{"almalinux", "9.3"}), "almalinux:9");
  EXPECT_EQ(namespace_of(Package{"rpm", "bash", "5.1.8-6.el9", "", ""}, OsInfo{"rocky", "8.9"}), "rocky:8");
  // No Red Hat or Fedora data is matched (Red Hat's OSV scopes by product CPE): their rpm
  // packages are inventoried but not matched.
  EXPECT_EQ(namespace_of(Package{"rpm", "bash", "5.1.8-6.el9", "", ""}, OsInfo{"rhel", "9.3"}), "");
  EXPECT_EQ(namespace_of(Package{"rpm", "bash", "5.1.8-6.el9", "", ""}, OsInfo{"almalinux", ""}), "");
}

// As Ubuntu's OSV records (canonical/ubuntu-security-notices) read: source package names,
// Debian version order, one affected entry per release.
TEST(Matcher, UbuntuBySourcePackagePerRelease) {
  Matcher m;
  auto usn = parse_osv(R"({"id":"USN-6694-1","summary":"Expat vulnerabilities","affected":[
    {"package":{"ecosystem":"Ubuntu:22.04:LTS","name":"expat"},
     "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.4.7-1ubuntu0.3"}]}]},
    {"package":{"ecosystem":"Ubuntu:Pro:18.04:LTS","name":"expat"},
     "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.2.5-3ubuntu0.9+esm1"}]}]}]})");
  ASSERT_TRUE(usn);
  m.add(*usn);
  const OsInfo jammy{"ubuntu", "22.04"};
  const Package lib{"dpkg", "libexpat1", "2.4.7-1ubuntu0.2", "expat", "2.4.7-1ubuntu0.2"};
  auto found = m.match(jammy, {lib});
  ASSERT_EQ(ids(found), std::vector<std::string>{"USN-6694-1"});
  EXPECT_EQ(found[0].package_name, "libexpat1");
  EXPECT_TRUE(m.match(jammy, {{"dpkg", "libexpat1", "2.4.7-1ubuntu0.3", "expat", "2.4.7-1ubuntu0.3"}}).empty());
  // A fix only Ubuntu Pro ships does not apply to an image.
  auto pro = parse_osv(R"({"id":"USN-7000-1","affected":[{"package":{"ecosystem":"Ubuntu:Pro:22.04:LTS","name":"tar"},
     "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.34+dfsg-1ubuntu0.1.22.04.2+esm1"}]}]}]})");
  ASSERT_TRUE(pro);
  m.add(*pro);
  EXPECT_TRUE(m.match(jammy, {{"dpkg", "tar", "1.34+dfsg-1ubuntu0.1.22.04.2", "tar", "1.34+dfsg-1ubuntu0.1.22.04.2"}}).empty());
  // Another release, Pro-only fixes, and Debian are other namespaces.
  EXPECT_TRUE(m.match(OsInfo{"ubuntu", "24.04"}, {lib}).empty());
  EXPECT_TRUE(m.match(OsInfo{"ubuntu", "18.04"}, {{"dpkg", "libexpat1", "2.2.5-3", "expat", "2.2.5-3"}}).empty());
  EXPECT_TRUE(m.match(OsInfo{"debian", "12"}, {lib}).empty());
}

// As AlmaLinux's and Rocky Linux's OSV records read: rpm versions with the epoch when it
// is not 0, one record per release; names of source rpms (the schema's rule) or, as in
// AlmaLinux's own data, of the binary rpms an advisory updates.
TEST(Matcher, RpmBySourcePackageOnAlmaLinuxAndRocky) {
  Matcher m;
  auto openssl = parse_osv(R"({"id":"ALSA-2023:1405","summary":"Important: openssl security update",
    "affected":[{"package":{"ecosystem":"AlmaLinux:9","name":"openssl"},
      "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:3.0.1-47.el9_1"}]}]}]})");
  auto bash = parse_osv(R"({"id":"RLSA-2022:8434","summary":"bash security update",
    "affected":[{"package":{"ecosystem":"Rocky Linux:9","name":"bash"},
      "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"5.1.8-6.el9"}]}]}]})");
  auto krb5 = parse_osv(R"({"id":"ALSA-2022:8637","summary":"Moderate: krb5 security update",
    "affected":[{"package":{"ecosystem":"AlmaLinux:9","name":"krb5-libs"},
      "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.19.1-24.el9_1"}]}]},
     {"package":{"ecosystem":"AlmaLinux:9","name":"krb5-devel"},
      "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.19.1-24.el9_1"}]}]}]})");
  ASSERT_TRUE(openssl && bash && krb5);
  m.add(*openssl);
  m.add(*bash);
  m.add(*krb5);
  const OsInfo alma{"almalinux", "9.1"};
  // openssl-libs comes from openssl's source rpm; its epoch is the binary's.
  const Package libs{"rpm", "openssl-libs", "1:3.0.1-43.el9_0", "openssl", "1:3.0.1-43.el9_0"};
  auto found = m.match(alma, {libs});
  ASSERT_EQ(ids(found), std::vector<std::string>{"ALSA-2023:1405"});
  EXPECT_EQ(found[0].package_name, "openssl-libs");
  EXPECT_EQ(found[0].fixed_versions, std::vector<std::string>{"1:3.0.1-47.el9_1"});
  // Fixed (el9_1 release of the fixed version), or a later version; or no epoch, which is
  // epoch 0 and so older than any 1:.
  EXPECT_TRUE(m.match(alma, {{"rpm", "openssl-libs", "1:3.0.1-47.el9_1", "openssl", "1:3.0.1-47.el9_1"}}).empty());
  EXPECT_TRUE(m.match(alma, {{"rpm", "openssl-libs", "1:3.0.7-6.el9", "openssl", "1:3.0.7-6.el9"}}).empty());
  EXPECT_EQ(m.match(alma, {{"rpm", "openssl-libs", "3.0.9-1.el9", "openssl", "3.0.9-1.el9"}}).size(), 1u);
  // Listed under its binary name only (no "krb5" entry): found by that.
  EXPECT_EQ(ids(m.match(alma, {{"rpm", "krb5-libs", "1.19.1-22.el9", "krb5", "1.19.1-22.el9"}})),
            std::vector<std::string>{"ALSA-2022:8637"});
  EXPECT_TRUE(m.match(alma, {{"rpm", "krb5-libs", "1.19.1-24.el9_1", "krb5", "1.19.1-24.el9_1"}}).empty());
  EXPECT_TRUE(m.match(alma, {{"rpm", "krb5-workstation", "1.19.1-22.el9", "krb5", "1.19.1-22.el9"}}).empty());
  // An advisory found under both names is one finding.
  auto both = parse_osv(R"({"id":"ALSA-2023:9999","affected":[
    {"package":{"ecosystem":"AlmaLinux:9","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:3.0.7-20.el9"}]}]},
    {"package":{"ecosystem":"AlmaLinux:9","name":"openssl-libs"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:3.0.7-20.el9"}]}]}]})");
  ASSERT_TRUE(both);
  m.add(*both);
  EXPECT_EQ(ids(m.match(alma, {libs})), (std::vector<std::string>{"ALSA-2023:1405", "ALSA-2023:9999"}));
  // Another release, or another rebuild, is another namespace.
  EXPECT_TRUE(m.match(OsInfo{"almalinux", "8.9"}, {libs}).empty());
  EXPECT_TRUE(m.match(OsInfo{"rocky", "9.1"}, {libs}).empty());
  EXPECT_EQ(ids(m.match(OsInfo{"rocky", "9.1"}, {{"rpm", "bash", "5.1.8-5.el9", "bash", "5.1.8-5.el9"}})),
            std::vector<std::string>{"RLSA-2022:8434"});
  EXPECT_TRUE(m.match(OsInfo{"rocky", "9.1"}, {{"rpm", "bash", "5.1.8-6.el9", "bash", "5.1.8-6.el9"}}).empty());
}

}  // namespace
}  // namespace berth::vuln
