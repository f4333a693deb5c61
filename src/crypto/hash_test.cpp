#include "crypto/hash.h"

#include <gtest/gtest.h>

namespace berth::crypto {
namespace {

TEST(Hash, KnownVectors) {
  EXPECT_EQ(sha256("abc").str(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest_of(DigestAlgorithm::kSha512, "abc").hex().substr(0, 16), "ddaf35a193617aba");
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
