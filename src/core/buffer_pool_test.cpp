#include "core/buffer_pool.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

namespace berth {
namespace {

constexpr size_t kMiB = 1024 * 1024;

TEST(BufferPool, BuffersAreWritableAndAlignedForDirectIo) {
  BufferPool pool(2 * kMiB, 2);
  auto b = pool.take();
  ASSERT_TRUE(b);
  EXPECT_EQ(b.size(), 2 * kMiB);
  // 2 MiB alignment is what lets the kernel back the buffer with one huge page.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % (2 * kMiB), 0u);
  std::memset(b.data(), 0xab, b.size());
  EXPECT_EQ(static_cast<unsigned char>(b.data()[b.size() - 1]), 0xab);
}

TEST(BufferPool, RoundsTheSizeUpToWholePages) {
  BufferPool pool(5000, 1);
  EXPECT_EQ(pool.buffer_bytes() % 4096, 0u);
  EXPECT_GE(pool.buffer_bytes(), 5000u);
  auto b = pool.take();
  EXPECT_EQ(b.size(), pool.buffer_bytes());
  std::memset(b.data(), 1, b.size());
}

TEST(BufferPool, ReleasedBuffersAreReusedUpToKeep) {
  BufferPool pool(64 * 1024, 2);
  std::set<char*> first;
  {
    auto a = pool.take(), b = pool.take(), c = pool.take();
    first = {a.data(), b.data(), c.data()};
    EXPECT_EQ(first.size(), 3u);
    EXPECT_EQ(pool.kept(), 0u);
  }
  EXPECT_EQ(pool.kept(), 2u);  // the third went back to the system
  auto x = pool.take(), y = pool.take();
  EXPECT_TRUE(first.count(x.data()));
  EXPECT_TRUE(first.count(y.data()));
  EXPECT_EQ(pool.kept(), 0u);
}

TEST(BufferPool, ReserveKeepsWarmBuffersUpToKeep) {
  BufferPool pool(64 * 1024, 2);
  pool.reserve(3);
  EXPECT_EQ(pool.kept(), 2u);
  auto a = pool.take();
  EXPECT_EQ(pool.kept(), 1u);
}

TEST(BufferPool, KeepZeroKeepsNothing) {
  BufferPool pool(64 * 1024, 0);
  { auto a = pool.take(); }
  EXPECT_EQ(pool.kept(), 0u);
}

TEST(BufferPool, MovedBufferReturnsOnce) {
  BufferPool pool(64 * 1024, 4);
  {
    auto a = pool.take();
    BufferPool::Buffer b = std::move(a);
    EXPECT_FALSE(a);
    EXPECT_TRUE(b);
    BufferPool::Buffer c;
    c = std::move(b);
    EXPECT_TRUE(c);
    c.reset();
    EXPECT_FALSE(c);
    EXPECT_EQ(pool.kept(), 1u);
  }
  EXPECT_EQ(pool.kept(), 1u);
}

TEST(BufferPool, ThreadsTakeAndReturnConcurrently) {
  BufferPool pool(64 * 1024, 3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, t] {
      for (int i = 0; i < 200; ++i) {
        auto b = pool.take();
        std::memset(b.data(), t, 4096);  // each buffer is this thread's alone while held
        ASSERT_EQ(b.data()[4095], static_cast<char>(t));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(pool.kept(), 3u);
  EXPECT_GE(pool.kept(), 1u);
}

}  // namespace
}  // namespace berth
