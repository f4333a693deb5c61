#include <gtest/gtest.h>

#include "http/range.h"
#include "http/request.h"

namespace berth::http {
namespace {

TEST(Range, Forms) {
  ByteRange r;
  EXPECT_EQ(parse_range(std::nullopt, 10, r), RangeParse::kNone);
  ASSERT_EQ(parse_range("bytes=0-4", 10, r), RangeParse::kSatisfiable);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.length, 5u);
  ASSERT_EQ(parse_range("bytes=5-", 10, r), RangeParse::kSatisfiable);
  EXPECT_EQ(r.first, 5u);
  EXPECT_EQ(r.length, 5u);
  ASSERT_EQ(parse_range("bytes=-3", 10, r), RangeParse::kSatisfiable);
  EXPECT_EQ(r.first, 7u);
  EXPECT_EQ(r.length, 3u);
  ASSERT_EQ(parse_range("bytes=8-100", 10, r), RangeParse::kSatisfiable);
  EXPECT_EQ(r.length, 2u);
  EXPECT_EQ(parse_range("bytes=10-", 10, r), RangeParse::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 10, r), RangeParse::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-1,3-4", 10, r), RangeParse::kIgnored);
  EXPECT_EQ(parse_range("items=0-1", 10, r), RangeParse::kIgnored);
  EXPECT_EQ(parse_range("bytes=4-2", 10, r), RangeParse::kIgnored);
  EXPECT_EQ(parse_range("bytes=x-2", 10, r), RangeParse::kIgnored);
}

TEST(Target, SplitsAndDecodes) {
  Request r;
  ASSERT_TRUE(parse_target("/v2/a/tags/list?n=2&last=b%2Bc", r));
  EXPECT_EQ(r.path, "/v2/a/tags/list");
  EXPECT_EQ(r.query_param("n").value(), "2");
  EXPECT_EQ(r.query_param("last").value(), "b+c");
  EXPECT_FALSE(r.query_param("x"));
  EXPECT_FALSE(parse_target("http://x/v2/", r));
  EXPECT_FALSE(parse_target("/v2/?a=%zz", r));
  EXPECT_FALSE(parse_target("/v2/?a=%2", r));
  ASSERT_TRUE(parse_target("/v2/?mount=&from=x", r));
  EXPECT_TRUE(r.has_query_param("mount"));
  EXPECT_EQ(r.query_param("mount").value(), "");
}

}  // namespace
}  // namespace berth::http
