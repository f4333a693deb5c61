#include "http/semaphore.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace berth::http {
namespace {

using namespace std::chrono_literals;
constexpr auto kForever = std::chrono::steady_clock::duration::max();

// Runs `io` until `done` holds, one handler at a time.
template <class F>
void run_until(asio::io_context& io, F done) {
  while (!done()) {
    if (io.run_one() == 0) {
      io.restart();
      ASSERT_TRUE(done()) << "the io_context ran out of work before the condition held";
    }
  }
}

TEST(AsyncSemaphore, PermitsCountAndReleaseOnDestruction) {
  observe::Gauge in_use;
  AsyncSemaphore sem(2, {.in_use = &in_use});
  {
    auto a = sem.try_acquire();
    auto b = sem.try_acquire();
    ASSERT_TRUE(a && b);
    EXPECT_TRUE(*a);
    EXPECT_FALSE(sem.try_acquire());
    EXPECT_EQ(sem.in_use(), 2u);
    EXPECT_EQ(in_use.value(), 2);
    AsyncSemaphore::Permit moved = std::move(*a);
    EXPECT_FALSE(*a);  // moved from: its destruction gives nothing back
    a.reset();
    EXPECT_EQ(sem.in_use(), 2u);
    moved.release();
    moved.release();  // twice is once
    EXPECT_EQ(sem.in_use(), 1u);
  }
  EXPECT_EQ(sem.in_use(), 0u);
  EXPECT_EQ(in_use.value(), 0);
}

TEST(AsyncSemaphore, WaitersAreServedInArrivalOrderAndNoNewcomerOvertakes) {
  asio::io_context io;
  observe::Gauge waiting;
  observe::Counter waited;
  AsyncSemaphore sem(1, {.waiting = &waiting, .waited = &waited});
  auto held = sem.try_acquire();
  ASSERT_TRUE(held);
  std::vector<int> order;
  std::vector<AsyncSemaphore::Permit> permits;
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(io, [&, i]() -> awaitable<void> {
      auto p = co_await sem.acquire(kForever);
      EXPECT_TRUE(p);
      order.push_back(i);
      if (p) permits.push_back(std::move(*p));
    }, asio::detached);
  }
  run_until(io, [&] { return sem.waiting() == 3; });
  EXPECT_EQ(waiting.value(), 3);
  EXPECT_EQ(waited.value(), 3u);
  held->release();
  // The slot went to the first waiter, not to whoever asks next.
  EXPECT_FALSE(sem.try_acquire());
  run_until(io, [&] { return order.size() == 1; });
  EXPECT_EQ(sem.in_use(), 1u);
  permits.clear();
  run_until(io, [&] { return order.size() == 2; });
  permits.clear();
  run_until(io, [&] { return order.size() == 3; });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(sem.waiting(), 0u);
  EXPECT_EQ(waiting.value(), 0);
  permits.clear();
  EXPECT_EQ(sem.in_use(), 0u);
}

TEST(AsyncSemaphore, TimesOutWithTooManyRequestsAndLeavesNoTrace) {
  asio::io_context io;
  observe::Counter timed_out;
  AsyncSemaphore sem(1, {.timed_out = &timed_out});
  auto held = sem.try_acquire();
  ASSERT_TRUE(held);
  auto f = asio::co_spawn(io, sem.acquire(1ms), asio::use_future);
  io.run();
  auto r = f.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTooManyRequests);
  EXPECT_EQ(timed_out.value(), 1u);
  EXPECT_EQ(sem.waiting(), 0u);
  EXPECT_EQ(sem.in_use(), 1u);
  // The slot the waiter gave up on is not handed to it later.
  held->release();
  EXPECT_EQ(sem.in_use(), 0u);
  EXPECT_TRUE(sem.try_acquire());
}

TEST(AsyncSemaphore, ReleaseOnAnotherThreadWakesTheWaiterOnItsOwn) {
  // As in the server: each I/O thread has its own io_context; a connection closing on
  // one wakes an acceptor waiting on another.
  asio::io_context waiter_io;
  AsyncSemaphore sem(1);
  auto held = sem.try_acquire();
  ASSERT_TRUE(held);
  std::thread::id woke_on;
  auto f = asio::co_spawn(
      waiter_io,
      [&]() -> awaitable<bool> {
        auto p = co_await sem.acquire(kForever);
        woke_on = std::this_thread::get_id();
        co_return static_cast<bool>(p);
      },
      asio::use_future);
  run_until(waiter_io, [&] { return sem.waiting() == 1; });
  std::thread waiter([&] { waiter_io.run(); });
  const auto waiter_id = waiter.get_id();
  std::thread releaser([&] { held->release(); });
  releaser.join();
  waiter.join();
  EXPECT_TRUE(f.get());
  EXPECT_EQ(woke_on, waiter_id);
  EXPECT_EQ(sem.in_use(), 0u);  // the waiter's permit went with its coroutine
}

TEST(AsyncSemaphore, CloseFailsWaitersAndLaterAcquires) {
  asio::io_context io;
  AsyncSemaphore sem(1);
  auto held = sem.try_acquire();
  ASSERT_TRUE(held);
  auto f = asio::co_spawn(io, sem.acquire(kForever), asio::use_future);
  run_until(io, [&] { return sem.waiting() == 1; });
  sem.close();
  io.run();
  auto r = f.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(sem.try_acquire());
  io.restart();
  auto later = asio::co_spawn(io, sem.acquire(kForever), asio::use_future);
  io.run();
  EXPECT_FALSE(later.get());
  held->release();  // a permit held across close() is still given back
  EXPECT_EQ(sem.in_use(), 0u);
}

TEST(AsyncSemaphore, AWaiterDestroyedWhileWaitingLeavesTheQueue) {
  AsyncSemaphore sem(1);
  auto held = sem.try_acquire();
  ASSERT_TRUE(held);
  {
    asio::io_context io;
    asio::co_spawn(io, [&]() -> awaitable<void> { co_await sem.acquire(kForever); }, asio::detached);
    run_until(io, [&] { return sem.waiting() == 1; });
  }  // the io_context goes with the suspended coroutine
  EXPECT_EQ(sem.waiting(), 0u);
  held->release();
  EXPECT_EQ(sem.in_use(), 0u);
}

TEST(AsyncSemaphore, ASlotGrantedToAWaiterThatNeverRunsIsPassedOn) {
  AsyncSemaphore sem(1);
  auto held = sem.try_acquire();
  ASSERT_TRUE(held);
  asio::io_context next_io;
  auto next = asio::co_spawn(next_io, sem.acquire(kForever), asio::use_future);
  {
    asio::io_context io;
    asio::co_spawn(io, [&]() -> awaitable<void> { co_await sem.acquire(kForever); }, asio::detached);
    run_until(io, [&] { return sem.waiting() == 1; });
    run_until(next_io, [&] { return sem.waiting() == 2; });
    held->release();  // granted to the first waiter, whose io_context never runs again
    EXPECT_EQ(sem.waiting(), 1u);
  }
  next_io.run();
  auto r = next.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(sem.in_use(), 1u);
  r->release();
  EXPECT_EQ(sem.in_use(), 0u);
}

}  // namespace
}  // namespace berth::http
