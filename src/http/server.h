// Async HTTP/1.1 on Boost.Beast: one io_context per thread, each with its own
// SO_REUSEPORT acceptor, connections as coroutines. Request bodies are read piece by
// piece through Exchange; response bodies from a BodySource leave by sendfile. Knows
// nothing of registries: it calls one Handler per request.
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
};

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

 protected:
  Request request_;
  uint64_t max_body_bytes_ = UINT64_MAX;
};

using Handler = std::function<awaitable<Response>(Exchange&)>;

class Server {
 public:
  Server(ServerOptions options, Handler handler);
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

 private:
  struct Worker;
  struct Connection;
  awaitable<void> accept_loop(Worker& w);
  awaitable<void> session(Worker& w, tcp::socket socket);
  void begin_shutdown(Worker& w);

  ServerOptions options_;
  Handler handler_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> requests_{0};
};

}  // namespace berth::http
