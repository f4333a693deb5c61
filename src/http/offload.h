// Runs blocking work (stores, fsync, SQLite writes) on the worker pool so an I/O thread
// never waits on a disk or a lock, then resumes the coroutine on its own executor.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#include "http/asio.h"

namespace berth::http {

template <class F>
auto offload(asio::thread_pool& pool, F fn) -> awaitable<std::invoke_result_t<F&>> {
  using R = std::invoke_result_t<F&>;
  // co_spawn needs a default-constructible value type; Result<T> often is not.
  std::optional<R> out = co_await asio::co_spawn(
      pool, [&fn]() -> awaitable<std::optional<R>> { co_return std::optional<R>(fn()); }, asio::use_awaitable);
  co_return std::move(*out);
}

}  // namespace berth::http
