// Async HTTP/1.1 on Boost.Beast: one io_context per thread, each with its own
// SO_REUSEPORT acceptor, connections as coroutines. Request bodies are read piece by
// piece through Exchange; response bodies from a BodySource leave by sendfile. Knows
// nothing of registries: it calls one Handler per request. Two server-wide caps keep
// memory and descriptors bounded under many clients: connections served at once, and
// upload bodies in buffers at once (a handler asks Exchange::upload_slot).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "core/result.h"
#include "http/asio.h"
#include "http/request.h"
#include "http/response.h"
#include "http/semaphore.h"
#include "observe/metrics.h"

namespace berth::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 5000;
  unsigned threads = 0;                          // 0: one per core
  size_t max_header_bytes = 16 * 1024;
  uint64_t max_body_bytes = 64ULL << 30;         // largest request body (a blob upload)
  std::chrono::seconds header_timeout{60};       // to send a whole request head, or idle keep-alive
  std::chrono::seconds io_timeout{120};          // a body read or response write with no progress
  std::chrono::seconds shutdown_grace{30};       // in-flight requests get this long on SIGTERM
  bool access_log = true;
  // Connections served at once by all threads together; 0: derived from RLIMIT_NOFILE
  // (connection_limit below). At the limit each thread accepts one more connection,
  // which waits for a slot, and stops accepting: the rest wait in the listen backlog.
  // Meanwhile connections idle between two requests are closed to make room (as nginx
  // reuses keep-alive connections when worker_connections run out).
  size_t max_connections = 0;
  // Descriptors left for files (blobs, staged uploads, SQLite, logs) when deriving or
  // capping max_connections.
  size_t descriptor_reserve = 256;
  // Request bodies received into upload buffers at once (Exchange::upload_slot); 0: no limit.
  size_t max_uploads = 64;
};

struct ConnectionLimit {
  size_t limit = 0;    // what the server enforces
  size_t ceiling = 0;  // the most the descriptors allow
  bool clamped = false;  // the requested limit was above the ceiling
};
// The default when the descriptors allow it: like nginx's worker_connections, a number
// whose worst case (each connection with a full header buffer) still fits in memory.
constexpr size_t kDefaultMaxConnections = 10000;
// The ceiling is the soft RLIMIT_NOFILE minus `reserve` (half the soft limit when the
// reserve would take more than that). `requested` 0 gives half the ceiling (a
// connection sending a blob holds the blob's file as well as its socket), at most
// kDefaultMaxConnections.
ConnectionLimit connection_limit(size_t requested, uint64_t nofile_soft, size_t reserve);
// Raises the soft RLIMIT_NOFILE to the hard one (as Go programs do, and systemd advises
// for programs that never use select()); returns the soft limit now in force.
uint64_t raise_open_file_limit();

// One request in progress: its head, and its body as a stream.
class Exchange {
 public:
  virtual ~Exchange() = default;
  const Request& request() const { return request_; }
  // Reads up to out.size() body bytes; 0 when the body is complete. Errors:
  // kBlobUploadInvalid when the client stops early or the body is malformed.
  virtual awaitable<Result<size_t>> read_some(std::span<char> out) = 0;
  // The whole body, failing with kPayloadTooLarge past `limit` bytes.
  awaitable<Result<std::string>> read_all(size_t limit);
  virtual bool body_done() const = 0;
  // True when the declared body is larger than the server accepts; reading it fails
  // with kPayloadTooLarge, so a handler can refuse before changing anything.
  bool too_large() const { return request_.content_length.value_or(0) > max_body_bytes_; }
  // Whether the body may be over `bytes` (chunked bodies may): a handler about to read
  // such a body whole into memory takes an upload_slot() first.
  bool body_larger_than(uint64_t bytes) const {
    return request_.chunked || request_.content_length.value_or(0) > bytes;
  }

  using Permit = AsyncSemaphore::Permit;
  // One of the server's upload slots (ServerOptions::max_uploads), for a handler about
  // to receive a large body into buffers; hold it until the body is in. Waits reading
  // nothing, so the client's sending stalls (TCP backpressure). kTooManyRequests when
  // no slot frees within the io timeout, kUnavailable when the server shuts down. An
  // empty permit when there is no limit.
  awaitable<Result<Permit>> upload_slot();

 protected:
  Request request_;
  uint64_t max_body_bytes_ = UINT64_MAX;
  AsyncSemaphore* upload_slots_ = nullptr;
  std::chrono::seconds slot_wait_{0};
};

using Handler = std::function<awaitable<Response>(Exchange&)>;

class Server {
 public:
  // `metrics`, when given, gets the connection and upload gauges.
  Server(ServerOptions options, Handler handler, observe::Metrics* metrics = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening sockets; returns "HOST:PORT" actually bound (port 0 picks one).
  Result<std::string> bind();
  // Serves until shutdown() and every connection has finished. Blocks.
  void run();
  // Stops accepting, closes idle connections, lets in-flight requests finish (up to
  // shutdown_grace), then returns from run(). Thread- and signal-handler-safe via post.
  void shutdown();

  uint64_t requests_served() const { return requests_.load(std::memory_order_relaxed); }
  size_t max_connections() const { return connection_slots_->slots(); }

 private:
  struct Worker;
  struct Connection;
  awaitable<void> accept_loop(Worker& w);
  awaitable<void> session(Worker& w, tcp::socket socket, AsyncSemaphore::Permit slot);
  void begin_shutdown(Worker& w);
  // At the connection limit: closes one of `w`'s connections kept alive between requests,
  // or if none is, the next one to answer a request.
  void reclaim_idle(Worker& w);
  // With w.reclaim_pending set, where a connection of `w` could close: clears it, and
  // true (counted as reclaimed) when a connection still waits for a slot.
  bool close_for_waiter(Worker& w);

  ServerOptions options_;
  Handler handler_;
  // Before workers_: connections and their coroutines, which hold permits, go first.
  std::unique_ptr<AsyncSemaphore> connection_slots_;
  std::unique_ptr<AsyncSemaphore> upload_slots_;  // null: no limit
  std::atomic<bool> limit_logged_{false};
  observe::Counter* reclaimed_ = nullptr;  // idle connections closed at the limit; null: not counted
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> requests_{0};
};

}  // namespace berth::http
