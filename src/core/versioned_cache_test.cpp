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
  cache.put(8, "j", 2);  // a newer version empties it
  EXPECT_EQ(cache.get(8, "k"), std::nullopt);
  EXPECT_EQ(cache.get(8, "j"), 2);
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
