// Time is injected so tests (and later lifecycle rules) can move it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace berth {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
  int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
  }
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
};

// The system clock moved by a fixed offset. Integration tests start processes with
// BERTH_TEST_CLOCK_OFFSET_MS to make what they push look old (app/wiring.cpp).
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(std::chrono::milliseconds offset = {}) : offset_(offset) {}
  void set_offset(std::chrono::milliseconds offset) { offset_ = offset; }
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now() + offset_; }

 private:
  std::chrono::milliseconds offset_;
};

// A clock that only moves when told to: for tests, and for `--dry-run` evaluations "as of"
// a given time.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::chrono::system_clock::time_point t = std::chrono::system_clock::now()) : t_(t.time_since_epoch().count()) {}
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::system_clock::duration(t_.load()));
  }
  void set(std::chrono::system_clock::time_point t) { t_.store(t.time_since_epoch().count()); }
  void advance(std::chrono::system_clock::duration d) { t_.fetch_add(d.count()); }

 private:
  std::atomic<std::chrono::system_clock::duration::rep> t_;
};

}  // namespace berth
