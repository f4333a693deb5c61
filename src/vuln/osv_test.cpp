#include "vuln/osv.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace berth::vuln {
namespace {

Advisory load(const std::string& name) {
  const auto path = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "tests" / "data" /
                    "vuln" / "osv" / name;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  auto adv = parse_osv(text.str());
  EXPECT_TRUE(adv) << path << ": " << (adv ? "" : adv.error().message);
  return adv ? *adv : Advisory{};
}

const OsvAffected& package(const Advisory& adv, const std::string& name) {
  for (const auto& a : adv.affected)
    if (a.name == name) return a;
  static const OsvAffected none;
  ADD_FAILURE() << "no affected entry for " << name;
  return none;
}

TEST(Osv, FixedAndLastAffected) {
  const auto adv = load("GHSA-29mw-wpgm-hmr9.json");
  EXPECT_EQ(adv.id, "GHSA-29mw-wpgm-hmr9");
  EXPECT_EQ(adv.aliases, std::vector<std::string>{"CVE-2020-28500"});
  EXPECT_FALSE(adv.withdrawn);
  ASSERT_TRUE(adv.cvss_score);
  EXPECT_DOUBLE_EQ(*adv.cvss_score, 5.3);
  EXPECT_EQ(adv.severity, Severity::kMedium);
  EXPECT_FALSE(adv.uri.empty());

  const auto& lodash = package(adv, "lodash");
  const auto hit = evaluate(lodash, "npm", "4.17.15");
  EXPECT_TRUE(hit.affected);
  EXPECT_EQ(hit.fixed, std::vector<std::string>{"4.17.21"});
  EXPECT_FALSE(evaluate(lodash, "npm", "4.17.21").affected);
  EXPECT_FALSE(evaluate(lodash, "npm", "5.0.0").affected);

  const auto& trim = package(adv, "lodash.trim");
  EXPECT_TRUE(evaluate(trim, "npm", "4.5.1").affected);  // last_affected is inclusive
  EXPECT_FALSE(evaluate(trim, "npm", "4.5.2").affected);
}

TEST(Osv, WithdrawnIsFlagged) { EXPECT_TRUE(load("GHSA-7fhm-mqm4-2wp7.json").withdrawn); }

TEST(Osv, UnsortedEventsAreSortedByVersion) {
  const auto adv = load("PYSEC-2023-192.json");
  const auto& urllib3 = package(adv, "urllib3");
  EXPECT_EQ(adv.severity, Severity::kHigh);  // CVSS 8.1
  EXPECT_TRUE(evaluate(urllib3, "pypi", "1.26.16").affected);
  EXPECT_FALSE(evaluate(urllib3, "pypi", "1.26.17").affected);
  EXPECT_FALSE(evaluate(urllib3, "pypi", "1.26.18").affected);
  EXPECT_TRUE(evaluate(urllib3, "pypi", "2.0.5").affected);
  EXPECT_FALSE(evaluate(urllib3, "pypi", "2.0.6").affected);
}

TEST(Osv, IntroducedWithoutFixAffectsEverythingAfter) {
  const auto adv = load("GHSA-jj78-5fmv-mv28.json");
  const auto& express = package(adv, "express");
  EXPECT_FALSE(evaluate(express, "npm", "3.4.4").affected);
  EXPECT_TRUE(evaluate(express, "npm", "3.4.5").affected);
  EXPECT_TRUE(evaluate(express, "npm", "4.21.0").affected);
  EXPECT_TRUE(evaluate(express, "npm", "4.21.0").fixed.empty());
}

OsvAffected ranges(std::vector<OsvEvent> events, std::vector<std::string> versions = {}) {
  return OsvAffected{"npm", "x", {OsvRange{"SEMVER", std::move(events)}}, std::move(versions)};
}

TEST(Osv, EventTable) {
  using K = OsvEvent::Kind;
  struct Case {
    std::vector<OsvEvent> events;
    std::string version;
    bool affected;
  };
  const std::vector<Case> cases = {
      {{{K::kIntroduced, "0"}}, "0.0.1", true},
      {{{K::kIntroduced, "1.0.0"}, {K::kFixed, "1.2.0"}}, "0.9.0", false},
      {{{K::kIntroduced, "1.0.0"}, {K::kFixed, "1.2.0"}}, "1.0.0", true},
      {{{K::kIntroduced, "1.0.0"}, {K::kFixed, "1.2.0"}}, "1.2.0-rc.1", true},
      {{{K::kIntroduced, "1.0.0"}, {K::kFixed, "1.2.0"}}, "1.2.0", false},
      {{{K::kFixed, "2.0.0"}, {K::kIntroduced, "1.5.0"}, {K::kFixed, "1.2.0"}, {K::kIntroduced, "0"}}, "1.3.0", false},
      {{{K::kFixed, "2.0.0"}, {K::kIntroduced, "1.5.0"}, {K::kFixed, "1.2.0"}, {K::kIntroduced, "0"}}, "1.1.0", true},
      {{{K::kFixed, "2.0.0"}, {K::kIntroduced, "1.5.0"}, {K::kFixed, "1.2.0"}, {K::kIntroduced, "0"}}, "1.6.0", true},
      {{{K::kIntroduced, "0"}, {K::kLastAffected, "1.0.0"}}, "1.0.0", true},
      {{{K::kIntroduced, "0"}, {K::kLastAffected, "1.0.0"}}, "1.0.1", false},
      {{{K::kIntroduced, "0"}, {K::kLimit, "2.0.0"}}, "1.9.0", true},
      {{{K::kIntroduced, "0"}, {K::kLimit, "2.0.0"}}, "2.0.0", false},
  };
  for (const auto& tc : cases) {
    EXPECT_EQ(evaluate(ranges(tc.events), "npm", tc.version).affected, tc.affected) << tc.version;
  }
  EXPECT_TRUE(evaluate(OsvAffected{"npm", "x", {}, {"1.0.0", "1.0.1"}}, "npm", "1.0.1").affected);
  EXPECT_FALSE(evaluate(OsvAffected{"npm", "x", {}, {"1.0.0", "1.0.1"}}, "npm", "1.0.2").affected);
}

TEST(Osv, Cvss3BaseScores) {
  EXPECT_EQ(cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), 9.8);
  EXPECT_EQ(cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"), 10.0);
  EXPECT_EQ(cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:N/A:N"), 4.7);
  EXPECT_EQ(cvss3_base_score("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"), 7.8);
  EXPECT_EQ(cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"), 0.0);
  EXPECT_FALSE(cvss3_base_score("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"));
  EXPECT_FALSE(cvss3_base_score("CVSS:4.0/AV:N"));
  EXPECT_FALSE(cvss3_base_score("garbage"));
  EXPECT_EQ(severity_from_score(9.0), Severity::kCritical);
  EXPECT_EQ(severity_from_score(3.9), Severity::kLow);
  EXPECT_EQ(severity_from_name("MODERATE"), Severity::kMedium);
}

TEST(Osv, MalformedInputIsAnError) {
  EXPECT_FALSE(parse_osv("{not json"));
  EXPECT_FALSE(parse_osv("[]"));
  EXPECT_FALSE(parse_osv(R"({"summary":"no id"})"));
  EXPECT_FALSE(parse_osv(R"({"id":"X","affected":[42]})"));
  EXPECT_TRUE(parse_osv(R"({"id":"X"})"));
}

}  // namespace
}  // namespace berth::vuln
