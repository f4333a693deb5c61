#include "core/versioned_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace berth {
namespace {

TEST(VersionedCache, ServesOnlyTheVersionAValueWasLoadedAt) {
  VersionedCache<int> cache;
  cache.put(7, "k", 1);
  EXPECT_EQ(cache.get(7, "k"), 1);
  EXPECT_EQ(cache.get(8, "k"), std::nullopt);
  EXPECT_EQ(cache.get(7, "other"), std::nullopt);
  cache.put(8, "j", 2);  // a newer version: version 7's entries stay for version 7 only
  EXPECT_EQ(cache.get(8, "k"), std::nullopt);
  EXPECT_EQ(cache.get(8, "j"), 2);
  EXPECT_EQ(cache.get(7, "k"), 1);
  EXPECT_EQ(cache.get(7, "j"), std::nullopt);
}

TEST(VersionedCache, RequestsStraddlingACommitKeepBothGenerations) {
  VersionedCache<int> cache;
  cache.put(1, "a", 10);
  cache.put(2, "a", 20);  // a request after a commit
  cache.put(1, "b", 11);  // one that read the version before it and finished after
  cache.put(2, "b", 21);
  EXPECT_EQ(cache.get(1, "a"), 10);
  EXPECT_EQ(cache.get(1, "b"), 11);
  EXPECT_EQ(cache.get(2, "a"), 20);
  EXPECT_EQ(cache.get(2, "b"), 21);
  cache.put(3, "c", 30);  // a third version drops the oldest generation
  EXPECT_EQ(cache.get(1, "a"), std::nullopt);
  EXPECT_EQ(cache.get(2, "a"), 20);
  EXPECT_EQ(cache.get(3, "c"), 30);
  EXPECT_EQ(cache.get(3, "a"), std::nullopt);
}

TEST(VersionedCache, BoundedByEntriesAndBytes) {
  VersionedCache<std::string> by_count(2);
  by_count.put(1, "a", "x");
  by_count.put(1, "b", "x");
  by_count.put(1, "c", "x");  // full: starts over
  EXPECT_EQ(by_count.get(1, "a"), std::nullopt);
  EXPECT_EQ(by_count.get(1, "c"), "x");

  VersionedCache<std::string> by_bytes(100, 10);  // keys weigh too
  by_bytes.put(1, "big", std::string(20, 'x'), 20);
  EXPECT_EQ(by_bytes.get(1, "big"), std::nullopt);  // never kept
  by_bytes.put(1, "a", "1234", 4);  // 5 bytes
  by_bytes.put(1, "b", "1234", 4);  // 10 bytes
  EXPECT_EQ(by_bytes.get(1, "a"), "1234");
  by_bytes.put(1, "b", "12", 2);  // replacing re-weighs: 8 bytes
  by_bytes.put(1, "c", "1", 1);   // 10 bytes, fits
  EXPECT_EQ(by_bytes.get(1, "a"), "1234");
  by_bytes.put(1, "d", "1", 1);  // would be 12: starts over
  EXPECT_EQ(by_bytes.get(1, "a"), std::nullopt);
  EXPECT_EQ(by_bytes.get(1, "d"), "1");
}

}  // namespace
}  // namespace berth
