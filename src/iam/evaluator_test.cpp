#include "iam/evaluator.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>

#include "iam/fixtures_test_util.h"

namespace berth::iam {
namespace {

using nlohmann::json;

Policy must_parse(const json& policy, PolicyKind kind, const std::string& name = "") {
  auto parsed = parse_policy(policy.dump(), kind, kMaxRepositoryPolicyChars);
  if (!parsed) {
    ADD_FAILURE() << "fixture policy " << name << " does not parse: " << parsed.error().message;
    return Policy{};
  }
  parsed->name = name;
  return std::move(*parsed);
}

json merged(json base, const json& patch) {
  base.merge_patch(patch);
  return base;
}

// tests/data/iam/conditions.json: one condition block per case.
TEST(EvaluatorFixtures, Conditions) {
  const json file = testing::load_fixture("conditions.json");
  ASSERT_GT(file.at("cases").size(), 100u);
  for (const auto& tc : file.at("cases")) {
    const std::string name = tc.at("name");
    SCOPED_TRACE(name);
    const json policy = {
        {"Version", "2012-10-17"},
        {"Statement", {{{"Effect", "Allow"}, {"Action", "*"}, {"Resource", "*"}, {"Condition", tc.at("condition")}}}}};
    const Policy p = must_parse(policy, PolicyKind::kIdentity);
    json ctx = {{"action", "ecr:BatchGetImage"},
                {"resource", "arn:aws:ecr:us-east-1:111111111111:repository/app"},
                {"principal_arn", tc.value("principal_arn", "arn:aws:iam::111111111111:user/alice")},
                {"keys", tc.at("keys")}};
    if (tc.value("anonymous", false)) {
      ctx["anonymous"] = true;
      ctx["principal_arn"] = "";
    }
    const Effect got = evaluate(p, testing::context_from(ctx));
    const Effect want = tc.at("expect").get<bool>() ? Effect::kAllow : Effect::kNotApplicable;
    EXPECT_EQ(got, want) << "got " << testing::to_cstr(got) << ", want " << testing::to_cstr(want);
  }
}

// The same condition blocks under Deny: a condition that holds makes the deny apply.
TEST(EvaluatorFixtures, ConditionsUnderDeny) {
  const json file = testing::load_fixture("conditions.json");
  for (const auto& tc : file.at("cases")) {
    SCOPED_TRACE(tc.at("name").get<std::string>());
    const json policy = {
        {"Version", "2012-10-17"},
        {"Statement",
         {{{"Effect", "Allow"}, {"Action", "*"}, {"Resource", "*"}},
          {{"Effect", "Deny"}, {"Action", "*"}, {"Resource", "*"}, {"Condition", tc.at("condition")}}}}};
    const Policy p = must_parse(policy, PolicyKind::kIdentity);
    json ctx = {{"action", "ecr:PutImage"},
                {"resource", "arn:aws:ecr:us-east-1:111111111111:repository/app"},
                {"principal_arn", tc.value("principal_arn", "arn:aws:iam::111111111111:user/alice")},
                {"keys", tc.at("keys")}};
    if (tc.value("anonymous", false)) {
      ctx["anonymous"] = true;
      ctx["principal_arn"] = "";
    }
    const Effect want = tc.at("expect").get<bool>() ? Effect::kExplicitDeny : Effect::kAllow;
    EXPECT_EQ(evaluate(p, testing::context_from(ctx)), want);
  }
}

// tests/data/iam/evaluate.json: one policy, many requests.
TEST(EvaluatorFixtures, Evaluate) {
  const json file = testing::load_fixture("evaluate.json");
  size_t count = 0;
  for (const auto& group : file.at("groups")) {
    const std::string group_name = group.at("name");
    const Policy p =
        must_parse(group.at("policy"), testing::kind_from(group.at("kind"), PolicyKind::kIdentity), group_name);
    for (const auto& tc : group.at("cases")) {
      SCOPED_TRACE(group_name + " / " + tc.at("name").get<std::string>());
      const json ctx = merged(merged(file.at("defaults"), group.value("context", json::object())),
                              tc.value("context", json::object()));
      const Evaluation e = evaluate_detailed(p, testing::context_from(ctx));
      const Effect want = testing::effect_from(tc.at("expect"));
      EXPECT_EQ(e.effect, want) << "got " << testing::to_cstr(e.effect) << ", want " << testing::to_cstr(want);
      if (tc.contains("statement")) {
        ASSERT_NE(e.statement, nullptr);
        EXPECT_EQ(e.statement->label(), tc.at("statement").get<std::string>());
      }
      ++count;
    }
  }
  EXPECT_GT(count, 60u);
}

// tests/data/iam/authorize.json: identity + repository + registry policies together.
TEST(EvaluatorFixtures, Authorize) {
  const json file = testing::load_fixture("authorize.json");
  const json& named = file.at("policies");
  std::deque<Policy> storage;  // stable addresses for AuthorizationInput's pointers
  // Identity policies keep their fixture name; repository and registry policies stay
  // unnamed, as the server leaves them, so decisions say "repository policy".
  auto resolve = [&](const json& ref, bool keep_name = false) -> const Policy* {
    if (ref.is_null()) return nullptr;
    const std::string name = ref.is_string() ? ref.get<std::string>() : "";
    const json& spec = ref.is_string() ? named.at(name) : ref;
    storage.push_back(must_parse(spec.at("policy"), testing::kind_from(spec.at("kind"), PolicyKind::kIdentity),
                                 keep_name ? name : ""));
    return &storage.back();
  };
  size_t count = 0;
  for (const auto& tc : file.at("cases")) {
    const std::string name = tc.at("name");
    SCOPED_TRACE(name);
    AuthorizationInput in;
    for (const auto& ref : tc.value("identity_policies", json::array()))
      in.identity_policies.push_back(resolve(ref, true));
    in.repository_policy = resolve(tc.value("repository_policy", json()));
    in.registry_policy = resolve(tc.value("registry_policy", json()));
    in.caller_is_root = tc.value("caller_is_root", false);
    const RequestContext ctx = testing::context_from(merged(file.at("defaults"), tc.value("context", json::object())));
    in.caller_account = tc.value("caller_account", "");
    in.resource_account = tc.value("resource_account", "111111111111");
    const Decision d = authorize(in, ctx);
    EXPECT_EQ(to_string(d.verdict), tc.at("expect").get<std::string>()) << "reason: " << d.reason;
    if (tc.contains("policy")) {
      EXPECT_EQ(d.policy, tc.at("policy").get<std::string>());
    }
    if (tc.contains("statement")) {
      EXPECT_EQ(d.statement, tc.at("statement").get<std::string>());
    }
    for (const auto& part : tc.value("reason", json::array())) {
      EXPECT_NE(d.reason.find(part.get<std::string>()), std::string::npos)
          << "reason: " << d.reason << "\nexpected to contain: " << part.get<std::string>();
    }
    ++count;
  }
  EXPECT_GT(count, 45u);
}

TEST(Evaluator, AccessDeniedMessage) {
  RequestContext ctx;
  ctx.action = "ecr:PutImage";
  ctx.resource = "arn:aws:ecr:us-east-1:111111111111:repository/app";
  ctx.principal_arn = "arn:aws:iam::111111111111:user/ci";
  ctx.principal_account = "111111111111";
  AuthorizationInput in;
  in.resource_account = "111111111111";
  const Decision d = authorize(in, ctx);
  EXPECT_EQ(d.verdict, Verdict::kImplicitDeny);
  EXPECT_EQ(access_denied_message(ctx, d),
            "User: arn:aws:iam::111111111111:user/ci is not authorized to perform: ecr:PutImage on resource: "
            "arn:aws:ecr:us-east-1:111111111111:repository/app because no identity-based policy allows the "
            "ecr:PutImage action");
  ctx.anonymous = true;
  ctx.principal_arn.clear();
  EXPECT_EQ(access_denied_message(ctx, authorize(in, ctx)).rfind("User: anonymous is not authorized", 0), 0u);
}

TEST(Evaluator, NullPoliciesAreSkipped) {
  RequestContext ctx;
  ctx.action = "ecr:PutImage";
  ctx.resource = "arn:aws:ecr:us-east-1:111111111111:repository/app";
  ctx.principal_arn = "arn:aws:iam::111111111111:user/ci";
  ctx.principal_account = "111111111111";
  AuthorizationInput in;
  in.identity_policies = {nullptr};
  in.resource_account = "111111111111";
  EXPECT_EQ(authorize(in, ctx).verdict, Verdict::kImplicitDeny);
}

TEST(Evaluator, FirstDirectAllowIsReported) {
  // An account-wide grant first and a grant naming the user second: the decision names the second.
  const Policy p = must_parse(json::parse(R"({"Version": "2012-10-17", "Statement": [
      {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "ecr:*"},
      {"Sid": "Alice", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:user/alice"}, "Action": "ecr:*"}]})"),
                              PolicyKind::kResource);
  RequestContext ctx;
  ctx.action = "ecr:PutImage";
  ctx.resource = "arn:aws:ecr:us-east-1:111111111111:repository/app";
  ctx.principal_arn = "arn:aws:iam::111111111111:user/alice";
  ctx.principal_account = "111111111111";
  const Evaluation e = evaluate_detailed(p, ctx);
  ASSERT_EQ(e.effect, Effect::kAllow);
  EXPECT_FALSE(e.via_account);
  EXPECT_EQ(e.statement->sid, "Alice");
  AuthorizationInput in;
  in.repository_policy = &p;
  in.resource_account = "111111111111";
  EXPECT_EQ(authorize(in, ctx).verdict, Verdict::kAllow);
  ctx.principal_arn = "arn:aws:iam::111111111111:user/bob";
  EXPECT_TRUE(evaluate_detailed(p, ctx).via_account);
  EXPECT_EQ(authorize(in, ctx).verdict, Verdict::kImplicitDeny);
}

}  // namespace
}  // namespace berth::iam
