#include "registry/tag_mutability.h"

#include <gtest/gtest.h>

namespace berth::registry {
namespace {

TEST(TagMutability, Modes) {
  EXPECT_FALSE(tag_is_immutable("{}", "v1"));
  EXPECT_FALSE(tag_is_immutable(R"({"imageTagMutability":"MUTABLE"})", "v1"));
  EXPECT_TRUE(tag_is_immutable(R"({"imageTagMutability":"IMMUTABLE"})", "v1"));
  const std::string immutable_except_latest =
      R"({"imageTagMutability":"IMMUTABLE_WITH_EXCLUSION","imageTagMutabilityExclusionFilters":[{"filterType":"WILDCARD","filter":"latest*"}]})";
  EXPECT_TRUE(tag_is_immutable(immutable_except_latest, "v1"));
  EXPECT_FALSE(tag_is_immutable(immutable_except_latest, "latest"));
  EXPECT_FALSE(tag_is_immutable(immutable_except_latest, "latest-dev"));
  const std::string mutable_except_release =
      R"({"imageTagMutability":"MUTABLE_WITH_EXCLUSION","imageTagMutabilityExclusionFilters":[{"filterType":"WILDCARD","filter":"release-*"}]})";
  EXPECT_TRUE(tag_is_immutable(mutable_except_release, "release-1.0"));
  EXPECT_FALSE(tag_is_immutable(mutable_except_release, "dev"));
  EXPECT_FALSE(tag_is_immutable("not json", "v1"));
}

}  // namespace
}  // namespace berth::registry
