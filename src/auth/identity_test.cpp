#include "auth/identity.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto/seal.h"
#include "store/meta/sqlite/sqlite_meta_store.h"
#include "support/temp_dir.h"

namespace berth::auth {
namespace {

class MovableClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return t; }
  std::chrono::system_clock::time_point t{std::chrono::milliseconds(1'700'000'000'000)};
};

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    meta_ = std::move(*store::SqliteMetaStore::open((dir_.path() / "meta.db").string()));
  }
  std::unique_ptr<Identity> open(IdentityOptions o = {}) {
    o.data_dir = dir_.path().string();
    auto id = Identity::open(o, *meta_, clock_);
    EXPECT_TRUE(id) << id.error().message;
    return id ? std::move(*id) : nullptr;
  }
  std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  test::TempDir dir_{"berth-identity"};
  MovableClock clock_;
  std::unique_ptr<store::MetaStore> meta_;
};

TEST_F(IdentityTest, GeneratesRootKeyIntoCredentialsFile) {
  auto id = open();
  ASSERT_TRUE(id);
  EXPECT_EQ(id->account_id().size(), 12u);
  const auto creds = dir_.path() / "credentials";
  struct stat st {};
  ASSERT_EQ(::stat(creds.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string text = read_file(creds);
  const auto key_at = text.find("aws_access_key_id = ") + 20;
  const std::string key_id = text.substr(key_at, 20);
  const auto secret_at = text.find("aws_secret_access_key = ") + 24;
  const std::string secret = text.substr(secret_at, 40);
  auto s = id->secret(key_id);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->secret_access_key, secret);
  // Stored sealed, never in the clear.
  EXPECT_EQ(meta_->get_access_key(key_id)->sealed_secret.find(secret), std::string::npos);
  // A restart keeps the same account and key; no second key is generated.
  auto again = open();
  EXPECT_EQ(again->account_id(), id->account_id());
  EXPECT_EQ(meta_->list_access_keys(id->root_arn())->size(), 1u);
}

TEST_F(IdentityTest, RootKeyFromEnvironment) {
  IdentityOptions o;
  o.account_id = "123456789012";
  o.root_access_key_id = "AKIAEXAMPLEROOTKEY01";
  o.root_secret_access_key = "secret/one";
  auto id = open(o);
  ASSERT_TRUE(id);
  EXPECT_EQ(id->secret("AKIAEXAMPLEROOTKEY01")->secret_access_key, "secret/one");
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "credentials"));
  o.root_secret_access_key = "secret/two";  // rotated in the environment
  id = open(o);
  EXPECT_EQ(id->secret("AKIAEXAMPLEROOTKEY01")->secret_access_key, "secret/two");
  o.account_id = "999999999999";
  o.data_dir = dir_.path().string();
  EXPECT_FALSE(Identity::open(o, *meta_, clock_));  // the data dir belongs to another account
}

TEST_F(IdentityTest, TokensExpireAndDieWithTheirKey) {
  auto id = open();
  auto [key, secret] = *id->create_access_key("arn:aws:iam::" + id->account_id() + ":user/ci");
  auto caller = id->caller(key);
  ASSERT_TRUE(caller);
  const auto token = id->issue_token(*caller);
  auto ok = id->verify_token(token.token);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->principal_arn, caller->principal_arn);
  // Forged: one character changed.
  std::string forged = token.token;
  forged[forged.size() / 2] = forged[forged.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(id->verify_token(forged));
  EXPECT_FALSE(id->verify_token("not a token"));
  // Verified tokens are remembered; that must not let through a token that shares the
  // remembered body with another MAC, or the remembered MAC with a later expiry.
  const std::string raw = *crypto::unbase64(token.token);
  const auto dot = raw.rfind('.');
  std::string other_mac = raw;
  other_mac[dot + 1] = other_mac[dot + 1] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(id->verify_token(crypto::base64(other_mac)));
  const std::string body = raw.substr(0, dot);
  const auto expiry_dot = body.rfind('.');
  const std::string later = body.substr(0, expiry_dot + 1) + std::to_string(token.expires_at_ms + 3'600'000);
  EXPECT_FALSE(id->verify_token(crypto::base64(later + raw.substr(dot))));
  EXPECT_TRUE(id->verify_token(token.token));
  // Valid across a restart (the key file persists).
  auto reopened = open();
  EXPECT_TRUE(reopened->verify_token(token.token));
  // Expired after 12 hours.
  clock_.t += std::chrono::hours(12);
  EXPECT_EQ(id->verify_token(token.token).error().code, ErrorCode::kUnauthorized);
  clock_.t -= std::chrono::hours(1);
  EXPECT_TRUE(id->verify_token(token.token));
  // Revoked with its access key.
  ASSERT_TRUE(meta_->delete_access_key(key));
  EXPECT_FALSE(id->verify_token(token.token));
}

TEST_F(IdentityTest, RoleSessionsCarryTheirTokenAndExpire) {
  auto id = open();
  ASSERT_TRUE(id);
  const std::string role = "arn:aws:iam::" + id->account_id() + ":role/deploy";
  const store::PrincipalRecord deploy{.arn = role, .account_id = id->account_id(), .kind = "role", .name = "deploy",
                                      .created_at_ms = clock_.now_ms()};
  auto s = id->create_session(deploy, "run-7", 900'000);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->access_key_id.substr(0, 4), "ASIA");
  EXPECT_EQ(s->assumed_role_arn, "arn:aws:sts::" + id->account_id() + ":assumed-role/deploy/run-7");
  EXPECT_EQ(s->assumed_role_id, principal_unique_id(deploy) + ":run-7");
  EXPECT_EQ(role_of_session(s->assumed_role_arn), role);
  EXPECT_EQ(role_of_session(role), "");

  auto secret = id->secret(s->access_key_id);
  ASSERT_TRUE(secret);
  EXPECT_EQ(secret->secret_access_key, s->secret_access_key);
  EXPECT_EQ(secret->session_token, s->session_token);
  EXPECT_EQ(secret->expires_at_ms, clock_.now_ms() + 900'000);

  auto c = id->caller(s->access_key_id);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->principal_arn, s->assumed_role_arn);
  EXPECT_EQ(c->policies_of(), role);
  EXPECT_EQ(c->expires_at_ms, s->expires_at_ms);

  // A login token from a session lasts no longer than the session.
  const auto token = id->issue_token(*c);
  EXPECT_EQ(token.expires_at_ms, s->expires_at_ms);
  EXPECT_TRUE(id->verify_token(token.token));
  clock_.t += std::chrono::seconds(901);
  EXPECT_FALSE(id->verify_token(token.token));
}

// PREFIX and 17 characters of A-Z2-7, as IAM's ids.
bool iam_id(const std::string& id, std::string_view prefix) {
  return id.size() == prefix.size() + 17 && id.starts_with(prefix) &&
         std::all_of(id.begin() + static_cast<std::ptrdiff_t>(prefix.size()), id.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'); });
}

TEST_F(IdentityTest, ExpiredSessionKeysAreSwept) {
  auto id = open();
  ASSERT_TRUE(id);
  const store::PrincipalRecord role{.arn = "arn:aws:iam::" + id->account_id() + ":role/deploy",
                                    .account_id = id->account_id(), .kind = "role", .name = "deploy",
                                    .created_at_ms = clock_.now_ms()};
  auto short_lived = id->create_session(role, "short", 900'000);
  auto long_lived = id->create_session(role, "long", 3'600'000);
  auto role_key = id->create_access_key(role.arn);  // a role's long-term key never expires
  ASSERT_TRUE(short_lived && long_lived && role_key);

  auto none = id->delete_expired_sessions(/*dry_run=*/false);
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(*none, 0u);
  clock_.t += std::chrono::milliseconds(900'000);  // the short session's last moment has passed
  auto counted = id->delete_expired_sessions(/*dry_run=*/true);
  ASSERT_TRUE(counted);
  EXPECT_EQ(*counted, 1u);
  EXPECT_TRUE(meta_->get_access_key(short_lived->access_key_id));  // a dry run deletes nothing
  auto swept = id->delete_expired_sessions(/*dry_run=*/false);
  ASSERT_TRUE(swept);
  EXPECT_EQ(*swept, 1u);
  EXPECT_FALSE(meta_->get_access_key(short_lived->access_key_id));
  EXPECT_TRUE(meta_->get_access_key(long_lived->access_key_id));
  EXPECT_TRUE(meta_->get_access_key(role_key->first));
  auto again = id->delete_expired_sessions(/*dry_run=*/false);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u);
}

TEST(PrincipalUniqueId, HasIamsShapeAndNamesOnePrincipalOfOneName) {
  const store::PrincipalRecord alice{.arn = "arn:aws:iam::123456789012:user/alice", .account_id = "123456789012",
                                     .kind = "user", .name = "alice", .created_at_ms = 1000};
  const std::string id = principal_unique_id(alice);
  EXPECT_TRUE(iam_id(id, "AIDA")) << id;
  EXPECT_EQ(principal_unique_id(alice), id);
  store::PrincipalRecord again = alice;  // deleted and created again under the same name
  again.created_at_ms = 2000;
  EXPECT_NE(principal_unique_id(again), id);
  store::PrincipalRecord bob = alice;
  bob.arn = "arn:aws:iam::123456789012:user/bob";
  EXPECT_NE(principal_unique_id(bob), id);
  const store::PrincipalRecord role{.arn = "arn:aws:iam::123456789012:role/deploy", .account_id = "123456789012",
                                    .kind = "role", .name = "deploy", .created_at_ms = 1000};
  EXPECT_TRUE(iam_id(principal_unique_id(role), "AROA")) << principal_unique_id(role);
}

TEST_F(IdentityTest, UserIdIsTheAccountTheUsersIdOrTheRoleIdWithTheSession) {
  auto id = open();
  ASSERT_TRUE(id);
  const std::string account = id->account_id();
  auto root_keys = meta_->list_access_keys(id->root_arn());
  ASSERT_TRUE(root_keys && root_keys->size() == 1u);
  auto root = id->caller(root_keys->front().id);
  ASSERT_TRUE(root);
  EXPECT_EQ(id->user_id(*root), account);

  const store::PrincipalRecord user{.arn = "arn:aws:iam::" + account + ":user/ci", .account_id = account,
                                    .kind = "user", .name = "ci", .created_at_ms = clock_.now_ms()};
  ASSERT_TRUE(meta_->create_principal(user));
  auto key = id->create_access_key(user.arn);
  ASSERT_TRUE(key);
  auto ci = id->caller(key->first);
  ASSERT_TRUE(ci);
  EXPECT_EQ(id->user_id(*ci), principal_unique_id(user));

  const store::PrincipalRecord role{.arn = "arn:aws:iam::" + account + ":role/deploy", .account_id = account,
                                    .kind = "role", .name = "deploy", .created_at_ms = clock_.now_ms()};
  ASSERT_TRUE(meta_->create_principal(role));
  auto s = id->create_session(role, "run-7", 900'000);
  ASSERT_TRUE(s);
  auto session = id->caller(s->access_key_id);
  ASSERT_TRUE(session);
  EXPECT_EQ(id->user_id(*session), s->assumed_role_id);
  // The role deleted and created again: the session still names the role it assumed.
  ASSERT_TRUE(meta_->delete_principal(role.arn));
  clock_.t += std::chrono::seconds(1);
  store::PrincipalRecord again = role;
  again.created_at_ms = clock_.now_ms();
  ASSERT_TRUE(meta_->create_principal(again));
  EXPECT_EQ(id->user_id(*session), s->assumed_role_id);
  EXPECT_NE(principal_unique_id(again) + ":run-7", s->assumed_role_id);
}

}  // namespace
}  // namespace berth::auth
