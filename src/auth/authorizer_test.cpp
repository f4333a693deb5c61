#include "auth/authorizer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "store/meta/sqlite/sqlite_meta_store.h"
#include "support/temp_dir.h"

namespace berth::auth {
namespace {

class FixedClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return t; }
  std::chrono::system_clock::time_point t{std::chrono::milliseconds(1'700'000'000'000)};
};

constexpr char kPullOnly[] = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
  "Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:GetAuthorizationToken"],"Resource":"*"}]})";
constexpr char kDenyPush[] = R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny",
  "Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/secret/*"}]})";
constexpr char kAllowAll[] = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]})";
constexpr char kPublicPull[] = R"({"Version":"2012-10-17","Statement":[{"Sid":"Public","Effect":"Allow",
  "Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]})";

class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    meta_ = std::move(*store::SqliteMetaStore::open((dir_.path() / "meta.db").string()));
    IdentityOptions o;
    o.data_dir = dir_.path().string();
    o.account_id = "123456789012";
    identity_ = std::move(*Identity::open(o, *meta_, clock_));
    authz_ = std::make_unique<Authorizer>(*meta_, *identity_, "us-east-1", clock_);
    ASSERT_TRUE(meta_->create_repository("team/app", 1));
    ASSERT_TRUE(meta_->create_repository("secret/app", 1));
  }

  Caller user(const std::string& name, std::initializer_list<const char*> policies) {
    const std::string arn = "arn:aws:iam::123456789012:user/" + name;
    EXPECT_TRUE(meta_->create_principal({.arn = arn, .account_id = "123456789012", .kind = "user", .name = name,
                                         .created_at_ms = 1}));
    int i = 0;
    for (const char* p : policies) EXPECT_TRUE(meta_->put_principal_policy(arn, "p" + std::to_string(i++), p));
    return Caller{"AKIAX", "123456789012", arn};
  }
  Result<void> check(const Caller* c, const std::string& action, const std::string& repo) {
    return authz_->authorize(AccessRequest{.caller = c, .action = action, .repository = repo, .resource = {},
                                           .source_ip = "127.0.0.1"});
  }

  test::TempDir dir_{"berth-authz"};
  FixedClock clock_;
  std::unique_ptr<store::MetaStore> meta_;
  std::unique_ptr<Identity> identity_;
  std::unique_ptr<Authorizer> authz_;
};

TEST_F(AuthorizerTest, RootIsAllowedEverything) {
  const Caller root{"AKIAROOT", "123456789012", identity_->root_arn()};
  EXPECT_TRUE(check(&root, "ecr:PutImage", "team/app"));
  EXPECT_TRUE(check(&root, "ecr:DescribeRepositories", ""));
}

TEST_F(AuthorizerTest, PullOnlyUserCanPullButNotPush) {
  const auto c = user("puller", {kPullOnly});
  EXPECT_TRUE(check(&c, "ecr:BatchGetImage", "team/app"));
  auto denied = check(&c, "ecr:PutImage", "team/app");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, ErrorCode::kDenied);
  EXPECT_EQ(denied.error().message,
            "User: arn:aws:iam::123456789012:user/puller is not authorized to perform: ecr:PutImage on resource: "
            "arn:aws:ecr:us-east-1:123456789012:repository/team/app because no identity-based policy allows the "
            "ecr:PutImage action");
  EXPECT_TRUE(authz_->authorize(AccessRequest{.caller = &c, .action = "ecr:GetAuthorizationToken", .repository = {},
                                              .resource = "*", .source_ip = {}}));
}

TEST_F(AuthorizerTest, NoPolicyDenies) {
  const auto c = user("nobody", {});
  EXPECT_FALSE(check(&c, "ecr:BatchGetImage", "team/app"));
  EXPECT_FALSE(check(&c, "ecr:DescribeRepositories", ""));
}

TEST_F(AuthorizerTest, ExplicitDenyWins) {
  const auto c = user("mixed", {kAllowAll, kDenyPush});
  EXPECT_TRUE(check(&c, "ecr:PutImage", "team/app"));
  auto denied = check(&c, "ecr:BatchGetImage", "secret/app");
  ASSERT_FALSE(denied);
  EXPECT_NE(denied.error().message.find("explicit deny"), std::string::npos) << denied.error().message;
}

// Decisions are cached, but a write by another process (`berth admin`, a second store
// on the same file) is seen by the very next decision.
TEST_F(AuthorizerTest, CachedDecisionsFollowWritesFromAnotherProcess) {
  const auto c = user("cached", {kPullOnly});
  EXPECT_TRUE(check(&c, "ecr:BatchGetImage", "team/app"));
  EXPECT_TRUE(check(&c, "ecr:BatchGetImage", "team/app"));  // from the cache
  auto other = std::move(*store::SqliteMetaStore::open((dir_.path() / "meta.db").string()));
  ASSERT_TRUE(other->put_principal_policy(c.principal_arn, "p1", kDenyPush));
  ASSERT_TRUE(other->put_principal_policy(c.principal_arn, "p0", kDenyPush));  // the pull Allow is gone
  EXPECT_FALSE(check(&c, "ecr:BatchGetImage", "team/app"));
  EXPECT_FALSE(check(nullptr, "ecr:BatchGetImage", "team/app"));
  ASSERT_TRUE(other->set_repository_policy("team/app", kPublicPull));
  EXPECT_TRUE(check(nullptr, "ecr:BatchGetImage", "team/app"));
  ASSERT_TRUE(other->delete_repository_policy("team/app"));
  EXPECT_FALSE(check(nullptr, "ecr:BatchGetImage", "team/app"));
}

TEST_F(AuthorizerTest, ResourceAndRequestTagsAndTheRegistryPolicy) {
  const std::string before = meta_->get_repository("team/app")->settings_json;
  ASSERT_TRUE(meta_->update_repository_settings("team/app", before, R"({"tags":[{"Key":"Team","Value":"blue"}]})"));
  const auto c = user("tagged", {R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*",
    "Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"blue"}}}]})"});
  EXPECT_TRUE(check(&c, "ecr:ListImages", "team/app"));
  EXPECT_FALSE(check(&c, "ecr:ListImages", "secret/app"));
  const auto creator = user("creator", {R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
    "Action":"ecr:CreateRepository","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/env":"dev"}}}]})"});
  AccessRequest create{.caller = &creator, .action = "ecr:CreateRepository", .repository = "new/repo", .resource = {},
                       .source_ip = {}, .request_tags = {{"env", "dev"}}, .tag_keys = {}};
  EXPECT_TRUE(authz_->authorize(create));
  create.request_tags = {{"env", "prod"}};
  EXPECT_FALSE(authz_->authorize(create));
  // The registry policy: a Deny there beats the identity Allow.
  ASSERT_TRUE(meta_->put_setting(store::kRegistryPolicySetting,
                                 R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",
    "Action":"ecr:ListImages","Resource":"*"}]})"));
  EXPECT_FALSE(check(&c, "ecr:ListImages", "team/app"));
}

TEST_F(AuthorizerTest, AnonymousOnlyThroughAPublicRepositoryPolicy) {
  EXPECT_FALSE(check(nullptr, "ecr:BatchGetImage", "team/app"));
  ASSERT_TRUE(meta_->set_repository_policy("team/app", kPublicPull));
  EXPECT_TRUE(check(nullptr, "ecr:BatchGetImage", "team/app"));
  EXPECT_TRUE(check(nullptr, "ecr:GetDownloadUrlForLayer", "team/app"));
  auto push = check(nullptr, "ecr:PutImage", "team/app");
  ASSERT_FALSE(push);
  EXPECT_EQ(push.error().message.rfind("User: anonymous is not authorized to perform: ecr:PutImage", 0), 0u);
  EXPECT_FALSE(check(nullptr, "ecr:BatchGetImage", "secret/app"));
}

TEST_F(AuthorizerTest, RepositoryPolicyNamingTheUserAllows) {
  const auto c = user("named", {});
  ASSERT_TRUE(meta_->set_repository_policy(
      "team/app", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/named"},"Action":"ecr:BatchGetImage"}]})"));
  EXPECT_TRUE(check(&c, "ecr:BatchGetImage", "team/app"));
  EXPECT_FALSE(check(&c, "ecr:PutImage", "team/app"));
}

TEST_F(AuthorizerTest, UnparsableStoredPolicyDenies) {
  const auto c = user("broken", {kAllowAll});
  ASSERT_TRUE(meta_->put_principal_policy(c.principal_arn, "zz", "not json"));
  EXPECT_FALSE(check(&c, "ecr:BatchGetImage", "team/app"));
}

}  // namespace
}  // namespace berth::auth
