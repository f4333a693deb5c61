#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "lifecycle/evaluator.h"
#include "lifecycle/policy.h"

namespace berth::lifecycle {
namespace {

using nlohmann::json;

constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;
constexpr int64_t kNowMs = 20000 * kDayMs;

json load_fixture(const std::string& name) {
  const auto path = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "tests" / "data" /
                    "lifecycle" / name;
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot open fixture " << path;
    return json::object();
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return json::parse(buffer.str());
}

// tests/data/lifecycle/policies.json: a policy ("policy" as JSON or "text" raw, with an
// optional "pad_description" to push it past the size limit) and either "error" (substrings
// the message must contain) or the number of "rules".
TEST(LifecyclePolicy, Fixtures) {
  const json cases = load_fixture("policies.json").at("cases");
  ASSERT_GT(cases.size(), 30u);
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.at("name").get<std::string>());
    json policy = tc.value("policy", json());
    if (tc.contains("pad_description")) {
      policy["rules"][0]["description"] = std::string(tc.at("pad_description").get<size_t>(), 'x');
    }
    const std::string text = tc.contains("text") ? tc.at("text").get<std::string>() : policy.dump(2);
    const auto parsed = parse_policy(text);
    if (tc.contains("error")) {
      ASSERT_FALSE(parsed) << "accepted an invalid policy";
      EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidParameter);
      for (const auto& part : tc.at("error").is_array() ? tc.at("error") : json::array({tc.at("error")})) {
        EXPECT_NE(parsed.error().message.find(part.get<std::string>()), std::string::npos)
            << "message: " << parsed.error().message << "\nexpected to contain: " << part.get<std::string>();
      }
    } else {
      ASSERT_TRUE(parsed) << parsed.error().message;
      EXPECT_EQ(parsed->rules.size(), tc.at("rules").get<size_t>());
      for (size_t i = 1; i < parsed->rules.size(); ++i) EXPECT_LT(parsed->rules[i - 1].priority, parsed->rules[i].priority);
    }
  }
}

TEST(LifecyclePolicy, PatternMatching) {
  EXPECT_TRUE(pattern_matches("prod*", "prod"));
  EXPECT_TRUE(pattern_matches("prod*", "prod-1"));
  EXPECT_FALSE(pattern_matches("prod*", "xprod"));
  EXPECT_TRUE(pattern_matches("*test*1*2*3", "mytest-1-2-3"));
  EXPECT_FALSE(pattern_matches("*test*1*2*3", "mytest-1-2-3-4"));
  EXPECT_TRUE(pattern_matches("*", ""));
  EXPECT_TRUE(pattern_matches("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(pattern_matches("exact", "exactly"));
}

// tests/data/lifecycle/evaluate.json: a policy, images (ages in days before "now") and the
// digests expected to expire; "rule_of" pins the rule that decided selected images.
TEST(LifecycleEvaluate, Fixtures) {
  const json cases = load_fixture("evaluate.json").at("cases");
  ASSERT_GT(cases.size(), 15u);
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.at("name").get<std::string>());
    const auto policy = parse_policy(tc.at("policy").dump());
    ASSERT_TRUE(policy) << policy.error().message;
    std::vector<Image> images;
    for (const auto& j : tc.at("images")) {
      Image image;
      image.digest = j.at("digest");
      image.tags = j.at("tags").get<std::vector<std::string>>();
      image.pushed_at_ms = kNowMs - j.at("pushed_days_ago").get<int64_t>() * kDayMs;
      if (j.contains("pulled_days_ago")) image.last_pulled_ms = kNowMs - j.at("pulled_days_ago").get<int64_t>() * kDayMs;
      image.children = j.value("children", std::vector<std::string>{});
      image.subject = j.value("subject", "");
      image.media_type = j.value("media_type", "");
      images.push_back(std::move(image));
    }
    const auto decisions = evaluate(*policy, images, kNowMs);
    ASSERT_EQ(decisions.size(), images.size());
    const auto want = tc.at("expired").get<std::set<std::string>>();
    std::set<std::string> got;
    for (const auto& d : decisions) {
      if (d.expired) got.insert(d.digest);
    }
    EXPECT_EQ(got, want);
    const json rule_of = tc.value("rule_of", json::object());
    for (const auto& [digest, priority] : rule_of.items()) {
      bool found = false;
      for (const auto& d : decisions) {
        if (d.digest != digest) continue;
        found = true;
        ASSERT_TRUE(d.rule_priority.has_value()) << digest;
        EXPECT_EQ(*d.rule_priority, priority.get<int64_t>()) << digest;
      }
      EXPECT_TRUE(found) << digest;
    }
  }
}

TEST(LifecycleEvaluate, ReasonsNameHowAnImageWasDecided) {
  const auto policy = parse_policy(
      R"({"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}]})");
  ASSERT_TRUE(policy);
  std::vector<Image> images(4);
  images[0].digest = "idx";
  images[0].children = {"child"};
  images[1].digest = "child";
  images[2].digest = "sig";
  images[2].pushed_at_ms = kNowMs;
  images[2].subject = "idx";
  images[3].digest = "tagged";
  images[3].tags = {"t"};
  const auto d = evaluate(*policy, images, kNowMs);
  EXPECT_EQ(d[0].reason, Reason::kRule);
  EXPECT_EQ(d[1].reason, Reason::kIndex);
  EXPECT_EQ(d[2].reason, Reason::kSubject);
  EXPECT_EQ(d[3].reason, Reason::kUnmatched);
  EXPECT_FALSE(d[3].expired);
  EXPECT_FALSE(d[3].rule_priority.has_value());
}

}  // namespace
}  // namespace berth::lifecycle
