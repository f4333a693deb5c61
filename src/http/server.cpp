#include "http/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <list>
#include <thread>

#include <boost/beast/http/buffer_body.hpp>

#include "core/log.h"

namespace berth::http {
namespace {

using error_code = boost::system::error_code;
using Parser = bhttp::request_parser<bhttp::buffer_body>;

constexpr size_t kReadBufferBytes = 64 * 1024;
constexpr size_t kCopyChunkBytes = 256 * 1024;  // pread/write fallback when there is no fd
constexpr size_t kDrainLimit = 64 * 1024;       // unread body we discard to keep a connection

// An access log field, quoted and escaped as fmt's {:?} does. That consults Unicode
// tables for every character, a few percent of a small request's cost; request paths
// are almost always printable ASCII with nothing to escape, which is copied as it is.
struct Quoted {
  std::string_view text;
};

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool status_has_body(unsigned status) { return !(status < 200 || status == 204 || status == 304); }

std::string serialize_head(const Response& r, uint64_t content_length, bool keep_alive, bool http10 = false) {
  std::string head;
  head.reserve(256);
  head += "HTTP/1.1 ";
  head += std::to_string(r.status);
  head += ' ';
  head += reason_phrase(r.status);
  head += "\r\n";
  for (const auto& [k, v] : r.headers) {
    head += k;
    head += ": ";
    head += v;
    head += "\r\n";
  }
  if (status_has_body(r.status)) {
    head += "Content-Length: ";
    head += std::to_string(content_length);
    head += "\r\n";
  }
  if (!keep_alive) {
    head += "Connection: close\r\n";
  } else if (http10) {
    head += "Connection: keep-alive\r\n";  // HTTP/1.0 closes unless told otherwise
  }
  head += "\r\n";
  return head;
}

// Waits until the socket is writable, giving up after `timeout`.
awaitable<error_code> wait_writable(tcp::socket& socket, std::chrono::seconds timeout) {
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(timeout);
  bool expired = false;
  timer.async_wait([&socket, &expired](error_code ec) {
    if (!ec) {
      expired = true;
      error_code ignored;
      socket.cancel(ignored);
    }
  });
  error_code ec;
  co_await socket.async_wait(tcp::socket::wait_write, with_ec(ec));
  timer.cancel();
  if (expired) ec = asio::error::timed_out;
  co_return ec;
}

}  // namespace
}  // namespace berth::http

template <>
struct fmt::formatter<berth::http::Quoted> : fmt::formatter<std::string_view> {
  auto format(const berth::http::Quoted& q, format_context& ctx) const -> decltype(ctx.out()) {
    const bool plain = std::all_of(q.text.begin(), q.text.end(), [](unsigned char c) {
      return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    });
    if (plain) return fmt::format_to(ctx.out(), "\"{}\"", q.text);
    return fmt::format_to(ctx.out(), "{:?}", q.text);
  }
};

namespace berth::http {

struct Server::Connection {
  beast::tcp_stream* stream = nullptr;
  const beast::flat_buffer* buffer = nullptr;  // bytes received and not yet parsed
  bool idle = true;  // waiting for a request head: safe to close on shutdown
  bool kept = false;  // idle after answering a request: may be closed at the connection limit
  // Nothing of a next request has arrived: closing now loses no request (one sent from
  // now on meets a closed connection, which HTTP clients expect of a kept-alive one).
  bool quiet() const {
    error_code ec;
    return buffer->size() == 0 && stream->socket().available(ec) == 0 && !ec;
  }
};

struct Server::Worker {
  asio::io_context ctx{1};
  uint64_t next_request = 0;  // with the worker's index, names each request in the access log
  unsigned index = 0;
  tcp::acceptor acceptor{ctx};
  std::list<Connection*> connections;
  asio::steady_timer grace{ctx};
  bool stopping = false;
  // At the connection limit with none of this thread's connections idle: the next one to
  // finish a request closes (Connection: close, or at once if it already answered) if a
  // connection still waits for a slot.
  bool reclaim_pending = false;
};

// The Exchange over a live connection. A body with a Content-Length is read straight
// from the socket into the caller's buffer (large reads, one copy); Beast's parser,
// which reads through the connection buffer in 512-byte steps when it is empty, only
// decodes chunked bodies.
class ConnectionExchange final : public Exchange {
 public:
  ConnectionExchange(beast::tcp_stream& stream, beast::flat_buffer& buffer, Parser& parser, Request request,
                     std::chrono::seconds io_timeout, uint64_t max_body_bytes, AsyncSemaphore* upload_slots)
      : stream_(stream), buffer_(buffer), parser_(parser), io_timeout_(io_timeout) {
    upload_slots_ = upload_slots;
    slot_wait_ = io_timeout;
    request_ = std::move(request);
    max_body_bytes_ = max_body_bytes;
    expect_continue_ = request_.header("expect").has_value() &&
                       lowercase(*request_.header("expect")) == "100-continue";
    chunked_ = parser_.chunked();
    remaining_ = chunked_ ? 0 : request_.content_length.value_or(0);
  }

  awaitable<Result<size_t>> read_some(std::span<char> out) override {
    if (body_done() || out.empty()) co_return size_t{0};
    if (expect_continue_) {
      expect_continue_ = false;
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      error_code ec;
      stream_.expires_after(io_timeout_);
      co_await asio::async_write(stream_, asio::buffer(kContinue), with_ec(ec));
      if (ec) {
        broken_ = true;
        co_return fail(ErrorCode::kBlobUploadInvalid, "connection lost before the request body");
      }
    }
    if (chunked_) co_return co_await read_chunked(out);
    if (too_large()) {
      co_return fail(ErrorCode::kPayloadTooLarge, "request body of " + std::to_string(remaining_) +
                                                      " bytes exceeds the limit of " + std::to_string(max_body_bytes_));
    }
    const size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), remaining_));
    size_t got = 0;
    if (buffer_.size() > 0) {  // body bytes that arrived with the head
      got = asio::buffer_copy(asio::buffer(out.data(), want), buffer_.data());
      buffer_.consume(got);
    } else {
      error_code ec;
      stream_.expires_after(io_timeout_);
      got = co_await stream_.async_read_some(asio::buffer(out.data(), want), with_ec(ec));
      if (ec) {
        broken_ = true;
        co_return fail(ErrorCode::kBlobUploadInvalid, "request body ended " + std::to_string(remaining_) +
                                                          " bytes short of its Content-Length (" + ec.message() + ")");
      }
    }
    remaining_ -= got;
    co_return got;
  }

  bool body_done() const override { return chunked_ ? parser_.is_done() : remaining_ == 0; }
  bool broken() const { return broken_; }
  bool continue_pending() const { return expect_continue_; }

 private:
  awaitable<Result<size_t>> read_chunked(std::span<char> out) {
    while (!parser_.is_done()) {
      auto& body = parser_.get().body();
      body.data = out.data();
      body.size = out.size();
      error_code ec;
      stream_.expires_after(io_timeout_);
      co_await bhttp::async_read_some(stream_, buffer_, parser_, with_ec(ec));
      if (ec == bhttp::error::need_buffer) ec = {};
      const size_t got = out.size() - body.size;
      if (ec) {
        broken_ = true;
        if (ec == bhttp::error::body_limit) co_return fail(ErrorCode::kPayloadTooLarge, "request body too large");
        co_return fail(ErrorCode::kBlobUploadInvalid, "chunked request body ended early (" + ec.message() + ")");
      }
      if (got > 0) co_return got;
    }
    co_return size_t{0};
  }

  beast::tcp_stream& stream_;
  beast::flat_buffer& buffer_;
  Parser& parser_;
  std::chrono::seconds io_timeout_;
  bool expect_continue_ = false;
  bool broken_ = false;
  bool chunked_ = false;
  uint64_t remaining_ = 0;
};

awaitable<Result<std::string>> Exchange::read_all(size_t limit) {
  std::string out;
  if (request_.content_length) {
    if (*request_.content_length > limit) {
      co_return fail(ErrorCode::kPayloadTooLarge, "request body exceeds " + std::to_string(limit) + " bytes");
    }
    out.reserve(*request_.content_length);
  }
  char buf[kReadBufferBytes];
  for (;;) {
    auto n = co_await read_some(std::span<char>(buf, sizeof buf));
    if (!n) co_return tl::unexpected(n.error());
    if (*n == 0) break;
    if (out.size() + *n > limit) {
      co_return fail(ErrorCode::kPayloadTooLarge, "request body exceeds " + std::to_string(limit) + " bytes");
    }
    out.append(buf, *n);
  }
  co_return out;
}

awaitable<Result<Exchange::Permit>> Exchange::upload_slot() {
  if (!upload_slots_) co_return Permit{};
  auto slot = co_await upload_slots_->acquire(slot_wait_);
  if (slot) co_return slot;
  if (slot.error().code == ErrorCode::kTooManyRequests) {
    co_return fail(ErrorCode::kTooManyRequests,
                   fmt::format("too many uploads in progress: the server receives at most {} upload {} at once "
                               "and none finished within {} s; retry later",
                               upload_slots_->slots(), upload_slots_->slots() == 1 ? "body" : "bodies",
                               slot_wait_.count()));
  }
  co_return fail(ErrorCode::kUnavailable, "the server is shutting down; retry later");
}

ConnectionLimit connection_limit(size_t requested, uint64_t nofile_soft, size_t reserve) {
  ConnectionLimit out;
  const uint64_t ceiling = nofile_soft > 2 * uint64_t{reserve} ? nofile_soft - reserve : nofile_soft / 2;
  out.ceiling = static_cast<size_t>(std::clamp<uint64_t>(ceiling, 1, std::numeric_limits<size_t>::max()));
  out.limit = requested == 0 ? std::clamp<size_t>(out.ceiling / 2, 1, kDefaultMaxConnections)
                             : std::min(requested, out.ceiling);
  out.clamped = requested > out.ceiling;
  return out;
}

namespace {

// RLIM_INFINITY (or no answer): what Linux's nr_open allows by default.
constexpr uint64_t kNrOpen = 1U << 20;

// The soft RLIMIT_NOFILE in force.
uint64_t open_file_limit() {
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == RLIM_INFINITY) return kNrOpen;
  return nofile.rlim_cur;
}

}  // namespace

uint64_t raise_open_file_limit() {
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY &&
      nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max == RLIM_INFINITY ? kNrOpen : nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);  // refused: the limit stays, and is what we report
  }
  return open_file_limit();
}

Server::Server(ServerOptions options, Handler handler, observe::Metrics* metrics)
    : options_(std::move(options)), handler_(std::move(handler)) {
  if (options_.threads == 0) options_.threads = std::max(1U, std::thread::hardware_concurrency());
  const uint64_t soft = open_file_limit();
  const auto limit = connection_limit(options_.max_connections, soft, options_.descriptor_reserve);
  if (limit.clamped) {
    log::get("http")->warn(
        "max connections lowered from {} to {}: the file descriptor limit is {} and {} are kept for files "
        "(raise it with ulimit -n or LimitNOFILE=)",
        options_.max_connections, limit.limit, soft, options_.descriptor_reserve);
  }
  options_.max_connections = limit.limit;
  AsyncSemaphore::Meters connections;
  AsyncSemaphore::Meters uploads;
  if (metrics) {
    connections.in_use = &metrics->gauge("berth_http_connections", "Client connections being served");
    connections.waiting = &metrics->gauge(
        "berth_http_connections_waiting",
        "Accepted connections waiting for a slot at the connection limit (more may wait in the listen backlog)");
    connections.waited =
        &metrics->counter("berth_http_connections_delayed_total", "Connections that waited at the connection limit");
    reclaimed_ = &metrics->counter("berth_http_connections_reclaimed_total",
                                   "Keep-alive connections closed to make room at the connection limit (idle, or after their answer)");
    metrics->gauge("berth_http_connections_max", "The connection limit (--max-connections)")
        .set(static_cast<int64_t>(limit.limit));
    uploads.in_use = &metrics->gauge("berth_uploads_receiving", "Upload request bodies being received");
    uploads.waiting = &metrics->gauge("berth_uploads_waiting", "Upload requests waiting for a slot to receive their body");
    uploads.waited = &metrics->counter("berth_uploads_delayed_total", "Upload requests that waited for a slot");
    uploads.timed_out = &metrics->counter("berth_uploads_refused_total",
                                          "Upload requests refused with 429 because no slot freed in time");
    metrics->gauge("berth_uploads_receiving_max", "Upload bodies received at once at most (--max-uploads)")
        .set(static_cast<int64_t>(options_.max_uploads));
  }
  connection_slots_ = std::make_unique<AsyncSemaphore>(limit.limit, connections);
  if (options_.max_uploads > 0) upload_slots_ = std::make_unique<AsyncSemaphore>(options_.max_uploads, uploads);
}

Server::~Server() = default;

Result<std::string> Server::bind() {
  error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec) {  // a host name such as localhost: its first address
    asio::io_context io;
    tcp::resolver resolver(io);
    auto results = resolver.resolve(options_.host, "", ec);
    if (ec || results.empty()) {
      return fail(ErrorCode::kInvalidParameter, "cannot resolve listen host " + options_.host);
    }
    address = results.begin()->endpoint().address();
  }
  uint16_t port = options_.port;
  for (unsigned i = 0; i < options_.threads; ++i) {
    auto w = std::make_unique<Worker>();
    w->index = i;
    const tcp::endpoint endpoint(address, port);
    w->acceptor.open(endpoint.protocol(), ec);
    if (!ec) w->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (::setsockopt(w->acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        ec = error_code(errno, boost::system::system_category());
      }
    }
    if (!ec) w->acceptor.bind(endpoint, ec);
    if (!ec) w->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return fail(ErrorCode::kUnavailable,
                  "cannot listen on " + options_.host + ":" + std::to_string(port) + ": " + ec.message());
    }
    port = w->acceptor.local_endpoint().port();  // the rest share the port picked by the first
    workers_.push_back(std::move(w));
  }
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(port);
}

void Server::run() {
  std::vector<std::thread> threads;
  for (auto& w : workers_) {
    asio::co_spawn(w->ctx, accept_loop(*w), asio::detached);
  }
  for (size_t i = 1; i < workers_.size(); ++i) {
    threads.emplace_back([w = workers_[i].get()] { w->ctx.run(); });
  }
  if (!workers_.empty()) workers_[0]->ctx.run();
  for (auto& t : threads) t.join();
}

void Server::shutdown() {
  draining_.store(true);
  for (auto& w : workers_) {
    asio::post(w->ctx, [this, w = w.get()] { begin_shutdown(*w); });
  }
}

void Server::begin_shutdown(Worker& w) {
  if (w.stopping) return;
  w.stopping = true;
  error_code ignored;
  w.acceptor.close(ignored);
  // Waiters go at once: accepted connections waiting for a slot close, requests
  // waiting for an upload slot are answered (503).
  connection_slots_->close();
  if (upload_slots_) upload_slots_->close();
  for (Connection* c : w.connections) {
    if (c->idle) c->stream->socket().shutdown(tcp::socket::shutdown_receive, ignored);
  }
  if (w.connections.empty()) return;
  w.grace.expires_after(options_.shutdown_grace);
  w.grace.async_wait([&w](error_code ec) {
    if (ec) return;
    error_code ignored2;
    for (Connection* c : w.connections) c->stream->socket().close(ignored2);
  });
}

void Server::reclaim_idle(Worker& w) {
  for (Connection* c : w.connections) {
    if (!c->idle || !c->kept || !c->quiet()) continue;
    c->kept = false;
    error_code ec;
    c->stream->socket().shutdown(tcp::socket::shutdown_receive, ec);  // the session reads the end and closes
    if (reclaimed_) reclaimed_->inc();
    return;
  }
  w.reclaim_pending = true;
}

bool Server::close_for_waiter(Worker& w) {
  w.reclaim_pending = false;
  if (connection_slots_->waiting() == 0) return false;
  if (reclaimed_) reclaimed_->inc();
  return true;
}

awaitable<void> Server::accept_loop(Worker& w) {
  auto log = log::get("http");
  for (;;) {
    error_code ec;
    tcp::socket socket = co_await w.acceptor.async_accept(with_ec(ec));
    if (ec) {
      if (!w.acceptor.is_open()) co_return;
      log->warn("accept failed: {}", ec.message());
      if (ec == asio::error::no_descriptors) {  // EMFILE: back off instead of spinning
        asio::steady_timer t(w.ctx);
        t.expires_after(std::chrono::milliseconds(100));
        co_await t.async_wait(with_ec(ec));
      }
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    // At the limit this thread holds the connection it just accepted until a slot
    // frees, and accepts nothing meanwhile: later clients wait in the listen backlog.
    auto slot = connection_slots_->try_acquire();
    if (!slot) {
      if (!limit_logged_.exchange(true)) {
        log->warn("connection limit of {} reached: new connections wait until one closes (logged once)",
                  connection_slots_->slots());
      }
      // Clients keep idle connections pooled for minutes: without this the waiting one
      // would wait out --header-timeout. Each thread gives up at most one.
      for (auto& other : workers_) asio::post(other->ctx, [this, o = other.get()] { reclaim_idle(*o); });
      auto waited = co_await connection_slots_->acquire(std::chrono::steady_clock::duration::max());
      if (!waited) co_return;  // shutting down; the socket closes with this frame
      slot = std::move(*waited);
    }
    asio::co_spawn(w.ctx, session(w, std::move(socket), std::move(*slot)), asio::detached);
  }
}

awaitable<void> Server::session(Worker& w, tcp::socket socket, AsyncSemaphore::Permit slot) {
  auto log = log::get("http");
  auto access = log::get_buffered("access");
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  Connection conn;
  conn.stream = &stream;
  conn.buffer = &buffer;
  auto self_it = w.connections.insert(w.connections.end(), &conn);
  std::string remote;
  {
    error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string();
  }
  try {
    for (;;) {
      Parser parser;
      parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
      // The body limit is enforced by the Exchange, so the handler answers in its own
      // protocol (OCI SIZE_INVALID) instead of Beast failing the head.
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      conn.idle = true;
      if (draining_.load()) break;
      // Asked to make room while this connection was still answering (after its keep-alive
      // was decided): it is idle now, so it goes, as reclaim_idle would have closed it
      // (unless its next request is already here; then its answer closes it).
      if (conn.kept && w.reclaim_pending && conn.quiet() && close_for_waiter(w)) break;
      stream.expires_after(options_.header_timeout);
      error_code ec;
      co_await bhttp::async_read_header(stream, buffer, parser, with_ec(ec));
      conn.idle = false;
      const auto started = std::chrono::steady_clock::now();
      if (ec) {
        std::optional<Response> r;
        if (ec == bhttp::error::header_limit) {
          r = text_response(431, "request header too large\n");
        } else if (ec != bhttp::error::end_of_stream && ec != asio::error::eof && ec != beast::error::timeout &&
                   ec != asio::error::operation_aborted && ec != asio::error::connection_reset &&
                   buffer.size() > 0) {
          r = text_response(400, "malformed HTTP request\n");
        }
        if (r) {
          const std::string head = serialize_head(*r, r->body.size(), false);
          stream.expires_after(options_.io_timeout);
          co_await asio::async_write(stream, std::array<asio::const_buffer, 2>{asio::buffer(head), asio::buffer(r->body)},
                                     with_ec(ec));
          if (options_.access_log) {
            access->info("request_id={}-{} remote={} status={} error=\"{}\"", w.index, ++w.next_request, remote,
                         r->status, r->status == 431 ? "header too large" : "malformed request");
          }
        }
        break;
      }

      auto& msg = parser.get();
      Request req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      req.remote_address = remote;
      req.request_id = std::to_string(w.index) + "-" + std::to_string(++w.next_request);
      req.headers.reserve(16);
      for (const auto& f : msg) req.headers.emplace_back(lowercase(f.name_string()), std::string(f.value()));
      if (auto cl = parser.content_length()) req.content_length = *cl;
      req.chunked = parser.chunked();
      const bool head_request = msg.method() == bhttp::verb::head;
      bool keep_alive = msg.keep_alive();
      const bool http10 = msg.version() == 10;

      Response resp;
      const bool target_ok = parse_target(req.target, req);
      if (req.chunked) parser.body_limit(options_.max_body_bytes);
      ConnectionExchange ex(stream, buffer, parser, std::move(req), options_.io_timeout, options_.max_body_bytes,
                            upload_slots_.get());
      if (!target_ok) {
        resp = text_response(400, "malformed request target\n");
      } else {
        try {
          resp = co_await handler_(ex);
        } catch (const std::exception& e) {
          log->error("handler threw: {}", e.what());
          resp = text_response(500, "internal error\n");
        }
      }
      requests_.fetch_add(1, std::memory_order_relaxed);

      // Keep the connection only if the request body is fully consumed (or is small
      // enough to discard); otherwise the next request would start mid-body.
      if (ex.broken()) keep_alive = false;
      if (keep_alive && !ex.body_done()) {
        if (ex.continue_pending() ||
            (ex.request().content_length.value_or(kDrainLimit + 1) > kDrainLimit && !parser.chunked())) {
          keep_alive = false;
        } else {
          char sink[8192];
          size_t drained = 0;
          while (keep_alive && !ex.body_done()) {
            auto n = co_await ex.read_some(std::span<char>(sink, sizeof sink));
            if (!n || (drained += *n) > kDrainLimit) keep_alive = false;
            if (n && *n == 0) break;
          }
        }
      }
      if (draining_.load()) keep_alive = false;
      // A connection that would stay open while another waits at the limit closes instead,
      // as soon as it has answered (the waiter would otherwise wait for --header-timeout).
      if (keep_alive && w.reclaim_pending && close_for_waiter(w)) keep_alive = false;

      const bool send_body = !head_request && !resp.omit_body && status_has_body(resp.status);
      uint64_t length = resp.source ? resp.source_length : resp.body.size();
      if ((head_request || resp.omit_body) && resp.head_length) length = *resp.head_length;
      const std::string head = serialize_head(resp, length, keep_alive, http10);
      stream.expires_after(options_.io_timeout);
      if (!send_body || (!resp.source && resp.body.empty())) {
        co_await asio::async_write(stream, asio::buffer(head), with_ec(ec));
      } else if (!resp.source) {
        co_await asio::async_write(stream, std::array<asio::const_buffer, 2>{asio::buffer(head), asio::buffer(resp.body)}, with_ec(ec));
      } else {
        const int fd = resp.source->native_handle();
        // Cork while the head and the file go out, as nginx's tcp_nopush: full segments
        // instead of a small one per write (TCP_NODELAY is on for the small answers).
        const int cork = fd >= 0 ? 1 : 0;
        if (cork) ::setsockopt(stream.socket().native_handle(), IPPROTO_TCP, TCP_CORK, &cork, sizeof cork);
        co_await asio::async_write(stream, asio::buffer(head), with_ec(ec));
        uint64_t remaining = resp.source_length;
        if (!ec && fd >= 0) {
          auto& sock = stream.socket();
          sock.native_non_blocking(true, ec);
          off_t off = static_cast<off_t>(resp.source_offset);
          while (!ec && remaining > 0) {
            const size_t want = static_cast<size_t>(std::min<uint64_t>(remaining, 1ULL << 30));
            const ssize_t n = ::sendfile(sock.native_handle(), fd, &off, want);
            if (n > 0) {
              remaining -= static_cast<uint64_t>(n);
            } else if (n < 0 && errno == EINTR) {
              continue;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
              ec = co_await wait_writable(sock, options_.io_timeout);
            } else {
              ec = asio::error::broken_pipe;  // the file shrank under us, or the peer went away
            }
          }
        } else if (!ec) {
          std::vector<char> chunk(std::min<uint64_t>(kCopyChunkBytes, std::max<uint64_t>(remaining, 1)));
          uint64_t off = resp.source_offset;
          while (!ec && remaining > 0) {
            auto n = resp.source->read(off, std::span<char>(chunk.data(), std::min<uint64_t>(chunk.size(), remaining)));
            if (!n || *n == 0) {
              ec = asio::error::broken_pipe;
              break;
            }
            stream.expires_after(options_.io_timeout);
            co_await asio::async_write(stream, asio::buffer(chunk.data(), *n), with_ec(ec));
            off += *n;
            remaining -= *n;
          }
        }
        if (cork) {
          const int off_flag = 0;
          ::setsockopt(stream.socket().native_handle(), IPPROTO_TCP, TCP_CORK, &off_flag, sizeof off_flag);
        }
        if (remaining > 0) keep_alive = false;
      }
      if (options_.access_log) {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
        const auto& r = ex.request();
        access->info("request_id={} remote={} method={} path={} status={} bytes={} duration_ms={:.3f}",
                     r.request_id, r.remote_address, r.method, Quoted{r.path}, resp.status, send_body ? length : 0,
                     static_cast<double>(us.count()) / 1000.0);
      }
      if (ec || !keep_alive) break;
      conn.kept = true;
    }
  } catch (const std::exception& e) {
    log->error("connection failed: {}", e.what());
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
  slot.release();  // after the close: the limit counts descriptors too
  w.connections.erase(self_it);
  if (w.stopping && w.connections.empty()) w.grace.cancel();
}

}  // namespace berth::http
