#include "crypto/hash.h"

#include <gtest/gtest.h>

namespace berth::crypto {
namespace {

TEST(Hash, KnownVectors) {
  EXPECT_EQ(sha256("abc").str(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest_of(DigestAlgorithm::kSha512, "abc").hex().substr(0, 16), "ddaf35a193617aba");
}

// FIPS 180-2's long vector: one million 'a'. Fed whole (the update walks it page by
// page, prefetching ahead) and in uneven pieces around the page size, the digest is the same.
TEST(Hash, LongInputWholeOrInPieces) {
  const std::string million(1000000, 'a');
  const std::string want = "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
  Sha256 whole;
  whole.update(million);
  EXPECT_EQ(whole.finish().str(), want);
  Sha256 pieces;
  std::string_view rest(million);
  for (size_t n : {1UL, 4095UL, 4096UL, 4097UL, 8191UL, 65536UL, 123457UL}) {
    pieces.update(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  pieces.update(rest);
  EXPECT_EQ(pieces.finish().str(), want);
}

TEST(Hash, SaveAndRestoreMidStream) {
  Sha256 a;
  a.update("hello ");
  const std::string state = a.save_state();
  auto b = Sha256::restore(state);
  ASSERT_TRUE(b);
  (*b)->update("world");
  EXPECT_EQ((*b)->finish(), sha256("hello world"));
}

TEST(Hash, PeekDoesNotDisturb) {
  Sha256 a;
  a.update("x");
  EXPECT_EQ(a.peek(), sha256("x"));
  a.update("y");
  EXPECT_EQ(a.finish(), sha256("xy"));
}

TEST(Hash, RestoreRejectsGarbage) {
  EXPECT_FALSE(Sha256::restore("nope"));
  std::string bad(4 + 112, '\xff');
  EXPECT_FALSE(Sha256::restore(bad));
}

}  // namespace
}  // namespace berth::crypto
