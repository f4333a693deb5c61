#include "iam/policy.h"

#include <gtest/gtest.h>

#include <string>

#include "iam/fixtures_test_util.h"
#include "iam/match.h"

namespace berth::iam {
namespace {

using nlohmann::json;

// tests/data/iam/policies.json: each case is a policy ("policy" as JSON, or "text" as raw
// text), its kind, an optional "max_chars", and either "error" (a substring the message
// must contain) or the expected number of "statements".
TEST(PolicyFixtures, ParseAndValidate) {
  const json cases = testing::load_fixture("policies.json").at("cases");
  ASSERT_GT(cases.size(), 50u);
  for (const auto& tc : cases) {
    const std::string name = tc.at("name");
    SCOPED_TRACE(name);
    const std::string text = tc.contains("text") ? tc.at("text").get<std::string>() : tc.at("policy").dump(2);
    const PolicyKind kind = testing::kind_from(tc.value("kind", json()), PolicyKind::kIdentity);
    const auto max_chars = tc.value("max_chars", kMaxRepositoryPolicyChars);
    const auto parsed = parse_policy(text, kind, max_chars);
    if (tc.contains("error")) {
      ASSERT_FALSE(parsed) << "accepted an invalid policy";
      EXPECT_EQ(parsed.error().code, ErrorCode::kMalformedPolicy);
      for (const auto& part : tc.at("error").is_array() ? tc.at("error") : json::array({tc.at("error")})) {
        EXPECT_NE(parsed.error().message.find(part.get<std::string>()), std::string::npos)
            << "message: " << parsed.error().message << "\nexpected to contain: " << part.get<std::string>();
      }
    } else {
      ASSERT_TRUE(parsed) << parsed.error().message;
      if (tc.contains("statements")) {
        EXPECT_EQ(parsed->statements.size(), tc.at("statements").get<size_t>());
      }
    }
  }
}

TEST(Policy, SizeLimitCountsCharactersNotBytes) {
  // 4 000 two-byte characters: 8 000+ bytes but well under 10 240 characters.
  std::string sid;
  for (int i = 0; i < 4000; ++i) sid += "\xC3\xA9";  // é
  const std::string text = R"({"Version":"2012-10-17","Statement":{"Sid":")" + sid +
                           R"(","Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}})";
  ASSERT_GT(text.size(), 8000u);
  EXPECT_TRUE(parse_policy(text, PolicyKind::kResource, 4200));
  const auto too_long = parse_policy(text, PolicyKind::kResource, 4000);
  ASSERT_FALSE(too_long);
  EXPECT_NE(too_long.error().message.find("the limit is 4000"), std::string::npos) << too_long.error().message;
}

TEST(Policy, ExactlyAtTheLimitIsAccepted) {
  std::string text =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}})";
  text += std::string(kMaxRepositoryPolicyChars - text.size(), ' ');
  EXPECT_TRUE(parse_policy(text, PolicyKind::kResource, kMaxRepositoryPolicyChars));
  EXPECT_FALSE(parse_policy(text + " ", PolicyKind::kResource, kMaxRepositoryPolicyChars));
}

TEST(Policy, NormalizesPrincipalsAndConditions) {
  const auto p = parse_policy(R"({
    "Version": "2012-10-17",
    "Statement": [{
      "Sid": "Pull",
      "Effect": "Allow",
      "Principal": {"AWS": ["222222222222", "arn:aws:iam::333333333333:root",
                            "arn:aws:iam::444444444444:user/ci", "*"],
                    "Service": "ecr.amazonaws.com"},
      "Action": ["ecr:BatchGetImage", "ecr:Get*"],
      "Condition": {"ForAllValues:StringLikeIfExists": {"AWS:TagKeys": ["team*", "env"]},
                    "NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
                    "Bool": {"aws:SecureTransport": true}}
    }]})",
                              PolicyKind::kResource, kMaxRepositoryPolicyChars);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->statements.size(), 1u);
  const Statement& s = p->statements[0];
  EXPECT_EQ(s.label(), "statement 1 (Sid \"Pull\")");
  EXPECT_FALSE(s.has_resource);
  ASSERT_TRUE(s.principal);
  EXPECT_TRUE(s.principal->everyone);
  EXPECT_EQ(s.principal->accounts, (std::vector<std::string>{"222222222222", "333333333333"}));
  EXPECT_EQ(s.principal->arns, (std::vector<std::string>{"arn:aws:iam::444444444444:user/ci"}));
  EXPECT_EQ(s.principal->services, (std::vector<std::string>{"ecr.amazonaws.com"}));
  ASSERT_EQ(s.conditions.size(), 3u);
  const Condition* tag = nullptr;
  for (const auto& c : s.conditions) {
    if (c.op == ConditionOperator::kStringLike) tag = &c;
    if (c.op == ConditionOperator::kNumericLessThan) {
      EXPECT_EQ(c.values.at(0).number, 3600);
    }
    if (c.op == ConditionOperator::kBool) {
      EXPECT_TRUE(c.values.at(0).flag);
    }
  }
  ASSERT_NE(tag, nullptr);
  EXPECT_EQ(tag->qualifier, SetQualifier::kForAllValues);
  EXPECT_TRUE(tag->if_exists);
  EXPECT_EQ(tag->key, "AWS:TagKeys");
  EXPECT_EQ(tag->key_lower, "aws:tagkeys");
  EXPECT_EQ(tag->values.size(), 2u);
  EXPECT_EQ(p->version, "2012-10-17");
}

TEST(Policy, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = std::string(4000, '[') + std::string(4000, ']');
  const auto p = parse_policy(R"({"Version": )" + deep + R"(, "Statement": []})", PolicyKind::kIdentity, 100000);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("Version must be"), std::string::npos) << p.error().message;
  const auto q = parse_policy(
      R"({"Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "*", "Condition": )" + deep + "}}",
      PolicyKind::kIdentity, 100000);
  ASSERT_FALSE(q);
}

// Every prefix and every one-byte corruption of the valid fixture policies is either
// accepted or refused with kMalformedPolicy: nothing throws, nothing reads out of bounds.
TEST(Policy, MangledInputIsRefusedCleanly) {
  const json cases = testing::load_fixture("policies.json").at("cases");
  size_t tried = 0;
  for (const auto& tc : cases) {
    if (tc.contains("error") || tc.contains("text")) continue;
    const std::string text = tc.at("policy").dump();
    const PolicyKind kind = testing::kind_from(tc.value("kind", json()), PolicyKind::kIdentity);
    for (size_t i = 0; i < text.size(); ++i) {
      for (const std::string& mangled : {text.substr(0, i), text.substr(0, i) + "\xff" + text.substr(i + 1),
                                         text.substr(0, i) + "\"" + text.substr(i + 1)}) {
        const auto p = parse_policy(mangled, kind, kMaxRepositoryPolicyChars);
        if (!p) {
          EXPECT_EQ(p.error().code, ErrorCode::kMalformedPolicy);
        }
        ++tried;
      }
    }
  }
  EXPECT_GT(tried, 10000u);
}

TEST(Match, Wildcards) {
  EXPECT_TRUE(wildcard_match("ecr:*", "ecr:PutImage", Case::kInsensitive));
  EXPECT_TRUE(wildcard_match("ECR:batch*", "ecr:BatchGetImage", Case::kInsensitive));
  EXPECT_FALSE(wildcard_match("ECR:batch*", "ecr:BatchGetImage", Case::kSensitive));
  EXPECT_TRUE(wildcard_match("ecr:Get?ownloadUrlForLayer", "ecr:GetDownloadUrlForLayer", Case::kInsensitive));
  EXPECT_FALSE(wildcard_match("ecr:Get?ownloadUrlForLayer", "ecr:GetownloadUrlForLayer", Case::kInsensitive));
  EXPECT_TRUE(wildcard_match("a*b*c", "aXXbYYc", Case::kSensitive));
  EXPECT_FALSE(wildcard_match("a*b*c", "aXXbYY", Case::kSensitive));
  EXPECT_TRUE(wildcard_match("**", "", Case::kSensitive));
  EXPECT_FALSE(wildcard_match("?", "", Case::kSensitive));
  EXPECT_TRUE(wildcard_match("", "", Case::kSensitive));
  // A pattern built to make backtracking matchers exponential answers at once.
  const std::string text(5000, 'a');
  std::string pattern;
  for (int i = 0; i < 200; ++i) pattern += "*a";
  EXPECT_FALSE(wildcard_match(pattern + "*b", text, Case::kSensitive));
  EXPECT_TRUE(wildcard_match(pattern + "*", text, Case::kSensitive));
}

TEST(Match, ResourceSegments) {
  const std::string arn = "arn:aws:ecr:us-east-1:111111111111:repository/team/app";
  EXPECT_TRUE(resource_match("arn:aws:ecr:*", arn));  // a segment-ending * crosses colons
  EXPECT_TRUE(resource_match("arn:aws:ecr:*:111111111111:repository/team/*", arn));
  EXPECT_TRUE(resource_match("arn:aws:ecr:us-*-1:111111111111:repository/*", arn));
  EXPECT_FALSE(resource_match("arn:aws:ecr:u*1:repository/team/app", arn));  // a mid-segment * does not
  EXPECT_TRUE(wildcard_match("arn:aws:ecr:u*1:repository/team/app", arn, Case::kSensitive));
  EXPECT_FALSE(resource_match("arn:aws:ecr:us-east-1:111111111111:repository/Team/*", arn));
  EXPECT_TRUE(resource_match("*", arn));
}

TEST(Match, ArnLikeComponents) {
  EXPECT_TRUE(arn_like("arn:aws:iam::*:root", "arn:aws:iam::222222222222:root"));
  EXPECT_TRUE(arn_like("arn:aws:iam::111111111111:role/*", "arn:aws:iam::111111111111:role/path/deploy"));
  EXPECT_FALSE(arn_like("arn:aws:iam::111111111111:role/*", "arn:aws:iam::111111111111:user/deploy"));
  EXPECT_FALSE(arn_like("arn:aws:iam::*", "arn:aws:iam::111111111111:root"));  // five components
  EXPECT_FALSE(arn_like("arn:aws:iam::1*1:root", "arn:aws:iam::1:2:root"));
  EXPECT_FALSE(arn_like("arn:aws:iam::111111111111:root", "not-an-arn"));
}

TEST(Match, IpRanges) {
  const auto net = parse_ip_range("203.0.113.0/24");
  ASSERT_TRUE(net);
  EXPECT_TRUE(ip_in_range(*parse_ip_range("203.0.113.255"), *net));
  EXPECT_FALSE(ip_in_range(*parse_ip_range("203.0.114.0"), *net));
  EXPECT_TRUE(ip_in_range(*parse_ip_range("::ffff:203.0.113.9"), *net));
  EXPECT_TRUE(ip_in_range(*parse_ip_range("10.9.9.9"), *parse_ip_range("10.1.2.3/8")));  // host bits ignored
  EXPECT_TRUE(ip_in_range(*parse_ip_range("1.2.3.4"), *parse_ip_range("0.0.0.0/0")));
  EXPECT_FALSE(ip_in_range(*parse_ip_range("2001:db8::1"), *parse_ip_range("0.0.0.0/0")));
  EXPECT_TRUE(ip_in_range(*parse_ip_range("2001:db8:ffff::1"), *parse_ip_range("2001:DB8::/32")));
  EXPECT_FALSE(ip_in_range(*parse_ip_range("2001:db9::1"), *parse_ip_range("2001:db8::/32")));
  EXPECT_TRUE(ip_in_range(*parse_ip_range("2001:db8::7"), *parse_ip_range("2001:db8::/125")));
  EXPECT_FALSE(ip_in_range(*parse_ip_range("2001:db8::8"), *parse_ip_range("2001:db8::/125")));
  for (const char* bad : {"", "10.0.0.0/33", "300.1.1.1", "10.0.0", "10.0.0.0/", "10.0.0.0/-1", "::1/129", "x"}) {
    EXPECT_FALSE(parse_ip_range(bad)) << bad;
  }
}

TEST(Match, Dates) {
  EXPECT_EQ(parse_time_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_time_ms("2024-06-01T12:00:00Z"), 1717243200000);
  EXPECT_EQ(parse_time_ms("2024-06-01T14:00:00+02:00"), 1717243200000);
  EXPECT_EQ(parse_time_ms("2024-06-01T07:30:00-0430"), 1717243200000);
  EXPECT_EQ(parse_time_ms("2024-06-01T12:00Z"), 1717243200000);
  EXPECT_EQ(parse_time_ms("2024-06-01T12:00:00.250Z"), 1717243200250);
  EXPECT_EQ(parse_time_ms("2024-06-01"), 1717200000000);
  EXPECT_EQ(parse_time_ms("1717243200"), 1717243200000);
  EXPECT_EQ(parse_time_ms("2024-02-29"), parse_time_ms("2024-03-01").value() - 86400000);
  for (const char* bad : {"", "yesterday", "2024-13-01", "2023-02-29", "2024-06-01T25:00Z", "2024-06-01 12:00",
                          "2024-6-1", "2024-06-01T12:00:00X", "99999999999999"}) {
    EXPECT_FALSE(parse_time_ms(bad)) << bad;
  }
}

TEST(Match, Numbers) {
  EXPECT_EQ(parse_number("42"), 42.0);
  EXPECT_EQ(parse_number("-1.5"), -1.5);
  EXPECT_EQ(parse_number("1e3"), 1000.0);
  for (const char* bad : {"", "abc", "1.5x", "inf", "nan", " 1"}) EXPECT_FALSE(parse_number(bad)) << bad;
}

}  // namespace
}  // namespace berth::iam
