#include "http/semaphore.h"

namespace berth::http {

struct AsyncSemaphore::Waiter {
  enum class State { kWaiting, kGranted, kClosed, kDone };
  explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;  // expires at the deadline; cancelled to wake the waiter early
  State state = State::kWaiting;
  Queue::iterator pos;  // valid while kWaiting
};

// The timer belongs to the waiter's executor and is not thread-safe: wake it there.
// The handler keeps the waiter alive, since the waiter may have resumed (its deadline
// passed at the same moment) and gone before the handler runs.
void AsyncSemaphore::wake(const std::shared_ptr<Waiter>& w) {
  asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
}

void AsyncSemaphore::Permit::release() {
  if (sem_) std::exchange(sem_, nullptr)->release();
}

AsyncSemaphore::AsyncSemaphore(size_t slots, Meters meters) : slots_(slots), meters_(meters) {
  std::lock_guard lock(mu_);
  publish_locked();
}

AsyncSemaphore::~AsyncSemaphore() = default;

std::optional<AsyncSemaphore::Permit> AsyncSemaphore::try_acquire() {
  std::lock_guard lock(mu_);
  if (closed_ || used_ >= slots_ || !queue_.empty()) return std::nullopt;
  ++used_;
  publish_locked();
  return Permit(this);
}

awaitable<Result<AsyncSemaphore::Permit>> AsyncSemaphore::acquire(std::chrono::steady_clock::duration timeout) {
  using Clock = std::chrono::steady_clock;
  using State = Waiter::State;
  auto w = std::make_shared<Waiter>(co_await asio::this_coro::executor);
  {
    std::lock_guard lock(mu_);
    if (closed_) co_return fail(ErrorCode::kUnavailable, "shutting down");
    if (used_ < slots_ && queue_.empty()) {
      ++used_;
      publish_locked();
      co_return Permit(this);
    }
    // Armed before the waiter is visible: a release may post its wake-up at once.
    const auto now = Clock::now();
    w->timer.expires_at(timeout >= Clock::time_point::max() - now ? Clock::time_point::max() : now + timeout);
    w->pos = queue_.insert(queue_.end(), w);
    if (meters_.waited) meters_.waited->inc();
    publish_locked();
  }
  // Runs when the coroutine frame goes, also when it is destroyed while suspended.
  struct Abandon {
    AsyncSemaphore* sem;
    std::shared_ptr<Waiter> w;
    ~Abandon() { sem->abandon(w); }
  } abandon{this, w};
  for (;;) {
    boost::system::error_code ec;
    co_await w->timer.async_wait(with_ec(ec));
    std::lock_guard lock(mu_);
    switch (w->state) {
      case State::kGranted:  // the releaser passed its slot on: used_ already counts it
        w->state = State::kDone;
        co_return Permit(this);
      case State::kClosed:
        w->state = State::kDone;
        co_return fail(ErrorCode::kUnavailable, "shutting down");
      case State::kWaiting:
        if (ec) continue;  // cancelled by something else than a wake-up: the deadline stands
        queue_.erase(w->pos);
        w->state = State::kDone;
        if (meters_.timed_out) meters_.timed_out->inc();
        publish_locked();
        co_return fail(ErrorCode::kTooManyRequests, "no slot freed in time");
      case State::kDone: break;
    }
    co_return fail(ErrorCode::kInternal, "semaphore waiter resumed twice");
  }
}

void AsyncSemaphore::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  for (auto& w : queue_) {
    w->state = Waiter::State::kClosed;
    wake(w);
  }
  queue_.clear();
  publish_locked();
}

size_t AsyncSemaphore::in_use() const {
  std::lock_guard lock(mu_);
  return used_;
}

size_t AsyncSemaphore::waiting() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void AsyncSemaphore::release() {
  std::lock_guard lock(mu_);
  release_locked();
}

void AsyncSemaphore::release_locked() {
  if (queue_.empty()) {
    --used_;
  } else {
    auto w = std::move(queue_.front());
    queue_.pop_front();
    w->state = Waiter::State::kGranted;
    wake(w);
  }
  publish_locked();
}

void AsyncSemaphore::publish_locked() {
  if (meters_.in_use) meters_.in_use->set(static_cast<int64_t>(used_));
  if (meters_.waiting) meters_.waiting->set(static_cast<int64_t>(queue_.size()));
}

void AsyncSemaphore::abandon(const std::shared_ptr<Waiter>& w) {
  std::lock_guard lock(mu_);
  switch (w->state) {
    case Waiter::State::kWaiting:
      queue_.erase(w->pos);
      w->state = Waiter::State::kDone;
      publish_locked();
      break;
    case Waiter::State::kGranted:  // granted but never taken: pass the slot on
      w->state = Waiter::State::kDone;
      release_locked();
      break;
    case Waiter::State::kClosed:
    case Waiter::State::kDone: break;
  }
}

}  // namespace berth::http
