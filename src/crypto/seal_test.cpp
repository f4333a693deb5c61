#include "crypto/seal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "support/temp_dir.h"

namespace berth::crypto {
namespace {

TEST(Seal, RoundTripAndTamper) {
  const std::string key = random_bytes(kKeyBytes);
  auto sealed = seal(key, "secret", "AKID1");
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->find("secret"), std::string::npos);
  auto opened = unseal(key, *sealed, "AKID1");
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, "secret");
  EXPECT_FALSE(unseal(key, *sealed, "AKID2"));             // moved to another row
  EXPECT_FALSE(unseal(random_bytes(kKeyBytes), *sealed, "AKID1"));  // wrong key
  std::string bad = *sealed;
  bad[bad.size() / 2] ^= 1;
  EXPECT_FALSE(unseal(key, bad, "AKID1"));
  EXPECT_FALSE(unseal(key, "short", "AKID1"));
}

TEST(Seal, Encodings) {
  EXPECT_EQ(hex("\x01\xab"), "01ab");
  EXPECT_EQ(base64("AWS:token"), "QVdTOnRva2Vu");
  EXPECT_EQ(*unbase64("QVdTOnRva2Vu"), "AWS:token");
  EXPECT_EQ(*unbase64(base64("ab")), "ab");
  EXPECT_FALSE(unbase64("abc"));
  // RFC 4231 test case 2.
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
}

TEST(Seal, KeyFileIsCreatedOnceWithMode0600) {
  const test::TempDir dir("berth-key");
  const std::string path = (dir.path() / "k").string();
  auto a = load_or_create_key(path);
  ASSERT_TRUE(a);
  auto b = load_or_create_key(path);
  ASSERT_TRUE(b);
  EXPECT_EQ(*a, *b);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace berth::crypto
