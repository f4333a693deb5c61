#include <gtest/gtest.h>

#include <vector>

#include "core/digest.h"
#include "core/ids.h"
#include "core/names.h"

namespace berth {
namespace {

TEST(Digest, ParsesValid) {
  auto d = Digest::parse("sha256:" + std::string(64, 'a'));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->algorithm(), DigestAlgorithm::kSha256);
  EXPECT_TRUE(Digest::parse("sha512:" + std::string(128, '0')));
}

TEST(Digest, RejectsInvalid) {
  for (const std::string& bad : std::vector<std::string>{"", "sha256", "sha256:", "sha256:abc", "md5:" + std::string(32, 'a'),
                                "sha256:" + std::string(64, 'A'), "sha256:" + std::string(63, 'a') + "/",
                                "sha256:../../" + std::string(58, 'a'), "sha512:" + std::string(64, 'a')}) {
    auto d = Digest::parse(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error().code, ErrorCode::kDigestInvalid);
  }
}

TEST(Names, RepositoryGrammar) {
  for (const char* ok : {"a", "app", "team/app/api", "a.b_c__d-e--f", "x0/y1", "library/ubuntu"}) {
    EXPECT_TRUE(validate_repository_name(ok)) << ok;
  }
  for (const std::string& bad : std::vector<std::string>{"", "../x", "A", "app/", "/app", "a//b", "a..b", "a___b", "-a", "a-", "a/../b",
                                "a b", "a:b", std::string(257, 'a')}) {
    auto r = validate_repository_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kNameInvalid);
  }
  EXPECT_TRUE(validate_repository_name(std::string(256, 'a')));
}

TEST(Names, TagGrammar) {
  EXPECT_TRUE(is_tag("latest"));
  EXPECT_TRUE(is_tag("_x"));
  EXPECT_TRUE(is_tag("v1.0.0-rc.1_B"));
  EXPECT_TRUE(is_tag(std::string(128, 'a')));
  EXPECT_FALSE(is_tag(std::string(129, 'a')));
  EXPECT_FALSE(is_tag(".x"));
  EXPECT_FALSE(is_tag("-x"));
  EXPECT_FALSE(is_tag("a/b"));
  EXPECT_FALSE(is_tag("sha256:abc"));
  EXPECT_FALSE(is_tag(""));
}

TEST(Ids, UuidShape) {
  const auto a = new_uuid();
  EXPECT_TRUE(is_uuid(a));
  EXPECT_NE(a, new_uuid());
  EXPECT_FALSE(is_uuid("../../etc/passwd"));
}

}  // namespace
}  // namespace berth
