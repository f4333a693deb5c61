#include <gtest/gtest.h>

#include "vulndb/codec.h"
#include "vulndb/formats.h"

namespace berth::vulndb {
namespace {

using Status = ParsedFile::Status;

constexpr char kOsv[] = R"({"id": "GHSA-test-0001", "modified": "2024-01-02T00:00:00Z", "aliases": ["CVE-2020-1"],
  "summary": "Prototype pollution", "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
  "references": [{"type": "ADVISORY", "url": "https://example.test/a"}],
  "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.20"}]}],
                "versions": ["4.17.19"]}]})";

TEST(Codec, RoundTripsEveryFieldTheMatcherUses) {
  vuln::Advisory a;
  a.id = "CVE-2024-1";
  a.modified = "2024-05-01T00:00:00Z";
  a.withdrawn = true;
  a.aliases = {"DSA-1-1"};
  a.summary = "s";
  a.details = "d\nmore";
  a.uri = "https://example.test";
  a.severity = vuln::Severity::kHigh;
  a.cvss_score = 7.5;
  a.affected.push_back(vuln::OsvAffected{"Debian:12", "glibc",
                                         {vuln::OsvRange{"ECOSYSTEM",
                                                         {{vuln::OsvEvent::Kind::kIntroduced, "0"},
                                                          {vuln::OsvEvent::Kind::kLastAffected, "2.36-9"},
                                                          {vuln::OsvEvent::Kind::kLimit, "3"},
                                                          {vuln::OsvEvent::Kind::kFixed, "2.36-9+deb12u3"}}}},
                                         {"2.36-8"},
                                         true});
  const auto doc = encode_advisory(a);
  auto back = decode_advisory(doc);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(encode_advisory(*back), doc);
  EXPECT_EQ(back->id, a.id);
  EXPECT_TRUE(back->withdrawn);
  EXPECT_EQ(back->severity, vuln::Severity::kHigh);
  ASSERT_TRUE(back->cvss_score);
  EXPECT_DOUBLE_EQ(*back->cvss_score, 7.5);
  ASSERT_EQ(back->affected.size(), 1u);
  EXPECT_TRUE(back->affected[0].from_unstable);
  ASSERT_EQ(back->affected[0].ranges[0].events.size(), 4u);
  EXPECT_EQ(back->affected[0].ranges[0].events[1].kind, vuln::OsvEvent::Kind::kLastAffected);
  EXPECT_EQ(back->affected[0].ranges[0].events[3].version, "2.36-9+deb12u3");
  EXPECT_EQ(back->affected[0].versions, std::vector<std::string>{"2.36-8"});
  EXPECT_EQ(content_hash(doc), content_hash(encode_advisory(*back)));
  EXPECT_EQ(ecosystem_families(a), "Debian");
  EXPECT_FALSE(decode_advisory("{\"id\": 1}"));
  EXPECT_FALSE(decode_advisory("nope"));
}

TEST(Formats, OsvRecordAndArray) {
  auto one = parse_file("x/GHSA-test-0001.json", kOsv);
  ASSERT_EQ(one.status, Status::kOk) << one.reason;
  EXPECT_EQ(one.format, Format::kOsv);
  ASSERT_EQ(one.advisories.size(), 1u);
  EXPECT_EQ(one.advisories[0].id, "GHSA-test-0001");
  EXPECT_EQ(one.advisories[0].severity, vuln::Severity::kCritical);

  auto many = parse_file("dump", std::string("[") + kOsv + "," + kOsv + "]");
  ASSERT_EQ(many.status, Status::kOk) << many.reason;
  EXPECT_EQ(many.advisories.size(), 2u);

  auto bad_element = parse_file("dump.json", std::string("[") + kOsv + ", 3]");
  EXPECT_EQ(bad_element.status, Status::kMalformed);
  EXPECT_NE(bad_element.reason.find("element 1"), std::string::npos) << bad_element.reason;
}

TEST(Formats, MalformedAndIgnoredFilesSayWhy) {
  auto truncated = parse_file("GHSA-x.json", std::string(kOsv).substr(0, 40));
  EXPECT_EQ(truncated.status, Status::kMalformed);
  EXPECT_NE(truncated.reason.find("invalid JSON"), std::string::npos) << truncated.reason;

  auto no_id = parse_file("x.json", R"({"affected": []})");
  EXPECT_EQ(no_id.status, Status::kMalformed);
  EXPECT_FALSE(no_id.reason.empty());

  EXPECT_EQ(parse_file("README.md", "# data\n").status, Status::kIgnored);
  EXPECT_EQ(parse_file("vuln-list.json", R"({"Header": {"ID": "DSA-1"}})").status, Status::kIgnored);
  EXPECT_EQ(parse_file("notes.txt", "[not json").status, Status::kIgnored);
}

TEST(Formats, DebianListsAreRecognisedByContent) {
  auto dsa = parse_file("DSA/list",
                        "[03 Oct 2023] DSA-5514-1 glibc - security update\n"
                        "\t{CVE-2023-4911}\n"
                        "\t[bookworm] - glibc 2.36-9+deb12u3\n");
  ASSERT_EQ(dsa.status, Status::kOk) << dsa.reason;
  EXPECT_EQ(dsa.format, Format::kDebianList);
  ASSERT_EQ(dsa.advisories.size(), 1u);
  EXPECT_EQ(dsa.advisories[0].id, "DSA-5514-1");

  auto cve = parse_file("CVE-list", "CVE-2023-4911 (buffer overflow)\n\t- glibc <unfixed>\n");
  ASSERT_EQ(cve.status, Status::kOk) << cve.reason;
  EXPECT_EQ(cve.format, Format::kDebianList);
}

TEST(Formats, OsvYamlAsPyPAWritesIt) {
  auto yaml = parse_file("vulns/jinja2/PYSEC-2019-217.yaml",
                         "id: PYSEC-2019-217\nmodified: 2021-07-05T00:01:22.043149Z\n"
                         "affected:\n- package:\n    name: Jinja2\n    ecosystem: PyPI\n"
                         "  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: \"0\"\n"
                         "    - fixed: 2.10.1\n  versions:\n  - \"2.10\"\n");
  ASSERT_EQ(yaml.status, Status::kOk) << yaml.reason;
  EXPECT_EQ(yaml.format, Format::kOsv);
  ASSERT_EQ(yaml.advisories.size(), 1u);
  const auto& af = yaml.advisories[0].affected.at(0);
  EXPECT_EQ(af.ecosystem, "PyPI");
  EXPECT_EQ(af.ranges.at(0).events.at(1).version, "2.10.1");
  EXPECT_EQ(af.versions, std::vector<std::string>{"2.10"});
}

TEST(Formats, AlpineSecdbJsonAndYaml) {
  auto json = parse_file("v3.20/main.json", R"({"distroversion": "v3.20", "reponame": "main",
    "packages": [{"pkg": {"name": "musl", "secfixes": {"1.2.5-r1": ["CVE-2025-26519"], "0": ["CVE-2000-1"]}}}]})");
  ASSERT_EQ(json.status, Status::kOk) << json.reason;
  EXPECT_EQ(json.format, Format::kAlpineSecdb);
  ASSERT_EQ(json.advisories.size(), 1u);
  EXPECT_EQ(json.advisories[0].affected[0].ecosystem, "Alpine:v3.20");

  // Versions stay strings: "1.10" must not turn into the number 1.1.
  auto yaml = parse_file("v3.11/main.yaml",
                         "---\ndistroversion: v3.11\nreponame: main\npackages:\n"
                         "  - pkg:\n      name: foo\n      secfixes:\n        1.10-r0:\n          - CVE-2019-1\n");
  ASSERT_EQ(yaml.status, Status::kOk) << yaml.reason;
  EXPECT_EQ(yaml.format, Format::kAlpineSecdb);
  ASSERT_EQ(yaml.advisories.size(), 1u);
  EXPECT_EQ(yaml.advisories[0].affected[0].ranges[0].events[1].version, "1.10-r0");

  auto no_fixes = parse_file("v3.3/community.yaml", "---\ndistroversion: v3.3\nreponame: community\npackages:\n");
  EXPECT_EQ(no_fixes.status, Status::kOk) << no_fixes.reason;
  EXPECT_TRUE(no_fixes.advisories.empty());

  EXPECT_EQ(parse_file("broken.yaml", "a: [1, 2\n").status, Status::kMalformed);
  EXPECT_EQ(parse_file("compose.yml", "services: {}\n").status, Status::kIgnored);
}

}  // namespace
}  // namespace berth::vulndb
