// A counting semaphore for coroutines spread over several io_contexts (one per I/O
// thread): the server-wide caps on open connections and on upload bodies in memory.
// Waiting holds no thread and polls nothing: each waiter sleeps on a timer of its own
// executor, which a release (from any thread) cancels. Slots go to waiters in arrival
// order, handed straight from the releaser, so a newcomer never overtakes a waiter.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "core/result.h"
#include "http/asio.h"
#include "observe/metrics.h"

namespace berth::http {

// What operators see of a semaphore on /metrics; any may be null.
struct SemaphoreMeters {
  observe::Gauge* in_use = nullptr;       // slots held
  observe::Gauge* waiting = nullptr;      // acquire() calls waiting for one
  observe::Counter* waited = nullptr;     // acquisitions that had to wait
  observe::Counter* timed_out = nullptr;  // acquire() calls that gave up at their deadline
};

class AsyncSemaphore {
 public:
  using Meters = SemaphoreMeters;

  // One slot, given back when destroyed (or release()d). Empty (false) when
  // default-constructed or moved from. Must not outlive its semaphore.
  class Permit {
   public:
    Permit() = default;
    ~Permit() { release(); }
    Permit(Permit&& o) noexcept : sem_(std::exchange(o.sem_, nullptr)) {}
    Permit& operator=(Permit&& o) noexcept {
      if (this != &o) {
        release();
        sem_ = std::exchange(o.sem_, nullptr);
      }
      return *this;
    }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    explicit operator bool() const { return sem_ != nullptr; }
    void release();

   private:
    friend class AsyncSemaphore;
    explicit Permit(AsyncSemaphore* sem) : sem_(sem) {}
    AsyncSemaphore* sem_ = nullptr;
  };

  explicit AsyncSemaphore(size_t slots, Meters meters = {});
  ~AsyncSemaphore();
  AsyncSemaphore(const AsyncSemaphore&) = delete;
  AsyncSemaphore& operator=(const AsyncSemaphore&) = delete;

  // A slot if one is free and nobody waits for one.
  std::optional<Permit> try_acquire();
  // A slot, waiting up to `timeout` (duration::max(): no deadline). Fails with
  // kTooManyRequests when none freed in time, kUnavailable once close()d. The calling
  // coroutine's executor must not run handlers concurrently (an io_context run by one
  // thread, or a strand): the wake-up cancels a timer that belongs to it.
  awaitable<Result<Permit>> acquire(std::chrono::steady_clock::duration timeout);
  // Fails every waiter and every later acquire (shutdown). Permits held stay valid.
  void close();

  size_t slots() const { return slots_; }
  size_t in_use() const;
  size_t waiting() const;

 private:
  struct Waiter;
  using Queue = std::list<std::shared_ptr<Waiter>>;
  void release();
  // Called with mu_ held: hands the slot to the first waiter, or frees it.
  void release_locked();
  void publish_locked();
  static void wake(const std::shared_ptr<Waiter>& w);
  // A waiting coroutine destroyed without resuming (its io_context went away).
  void abandon(const std::shared_ptr<Waiter>& w);

  const size_t slots_;
  Meters meters_;
  mutable std::mutex mu_;
  size_t used_ = 0;
  Queue queue_;
  bool closed_ = false;
};

}  // namespace berth::http
