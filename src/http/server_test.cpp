// The server over real sockets on 127.0.0.1:0, with a small handler.
#include "http/server.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <future>
#include <thread>

namespace berth::http {
namespace {

using boost::system::error_code;

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions opts = {}) {
    opts.host = "127.0.0.1";
    opts.port = 0;
    opts.threads = 2;
    opts.access_log = false;
    server_ = std::make_unique<Server>(opts, [this](Exchange& ex) -> awaitable<Response> {
      const auto& path = ex.request().path;
      if (path == "/echo") {
        auto body = co_await ex.read_all(1 << 20);
        if (!body) co_return text_response(400, body.error().message);
        co_return text_response(200, *body);
      }
      if (path == "/slot") {
        // Holds an upload slot until the test releases it.
        auto slot = co_await ex.upload_slot();
        if (!slot) {
          co_return text_response(slot.error().code == ErrorCode::kTooManyRequests ? 429 : 503, slot.error().message);
        }
        slot_holders_.fetch_add(1);
        asio::steady_timer t(co_await asio::this_coro::executor);
        while (!release_.load()) {
          t.expires_after(std::chrono::milliseconds(5));
          co_await t.async_wait(asio::use_awaitable);
        }
        co_return text_response(200, "slot done");
      }
      if (path == "/slow") {
        // Holds the request open until the test releases it, to test graceful shutdown.
        asio::steady_timer t(co_await asio::this_coro::executor);
        while (!release_.load()) {
          t.expires_after(std::chrono::milliseconds(5));
          co_await t.async_wait(asio::use_awaitable);
          entered_.store(true);
        }
        co_return text_response(200, "slow done");
      }
      co_return text_response(200, "hello " + ex.request().method);
    }, &metrics_);
    auto bound = server_->bind();
    ASSERT_TRUE(bound);
    port_ = static_cast<uint16_t>(std::stoi(bound->substr(bound->rfind(':') + 1)));
    thread_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    release_ = true;
    if (server_) server_->shutdown();
    if (thread_.joinable()) thread_.join();
  }

  // Sends raw bytes and reads until the server closes or `until` appears `count` times.
  std::string exchange(const std::string& bytes, const std::string& until = "", int count = 1) {
    asio::io_context io;
    tcp::socket s(io);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    asio::write(s, asio::buffer(bytes));
    std::string out;
    char buf[4096];
    for (;;) {
      error_code ec;
      size_t n = s.read_some(asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec) break;
      if (!until.empty()) {
        int seen = 0;
        for (size_t p = out.find(until); p != std::string::npos; p = out.find(until, p + 1)) ++seen;
        if (seen >= count) break;
      }
    }
    return out;
  }

  // A client connection for tests that hold several open at once.
  struct Conn {
    explicit Conn(uint16_t port) { s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port)); }
    void send(const std::string& bytes) { asio::write(s, asio::buffer(bytes)); }
    // Reads until `marker` arrives; what came, or what came before the connection ended.
    std::string read_until(const std::string& marker) {
      std::string out;
      char buf[4096];
      while (out.find(marker) == std::string::npos) {
        error_code ec;
        size_t n = s.read_some(asio::buffer(buf), ec);
        out.append(buf, n);
        if (ec) break;
      }
      return out;
    }
    bool nothing_to_read() {
      s.non_blocking(true);
      char c;
      error_code ec;
      s.read_some(asio::buffer(&c, 1), ec);
      s.non_blocking(false);
      return ec == asio::error::would_block;
    }
    asio::io_context io;
    tcp::socket s{io};
  };

  // A readiness check on the server's gauges (what /metrics shows).
  template <class F>
  void wait_for(F ready, const char* what) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!ready()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "still waiting for " << what;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  int64_t gauge(const std::string& name) { return metrics_.gauge(name, "").value(); }

  observe::Metrics metrics_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::atomic<bool> release_{false};
  std::atomic<bool> entered_{false};
  std::atomic<int> slot_holders_{0};
};

TEST_F(ServerTest, KeepAliveAndPipelining) {
  start();
  // Two requests in one write: both answered, in order, on one connection.
  const std::string out = exchange(
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
      "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const auto first = out.find("hello GET");
  const auto second = out.find("\r\n\r\nhello", first + 1);
  const auto third = out.find("hello GET", first + 1);
  EXPECT_NE(first, std::string::npos) << out;
  EXPECT_NE(second, std::string::npos) << out;
  EXPECT_NE(third, std::string::npos) << out;
  EXPECT_LT(second, third);
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
}

TEST_F(ServerTest, ChunkedBodyIsStreamed) {
  start();
  const std::string out = exchange(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_NE(out.find("200 OK"), std::string::npos);
  EXPECT_NE(out.find("abcde"), std::string::npos);
}

TEST_F(ServerTest, ExpectContinue) {
  start();
  const std::string out = exchange(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nhi");
  EXPECT_EQ(out.find("HTTP/1.1 100 Continue"), 0u) << out;
  EXPECT_NE(out.find("200 OK"), std::string::npos);
}

TEST_F(ServerTest, OversizedHeaderGets431) {
  ServerOptions o;
  o.max_header_bytes = 1024;
  start(o);
  const std::string out = exchange("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.1 431"), 0u) << out;
}

TEST_F(ServerTest, GarbageGets400) {
  start();
  const std::string out = exchange("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.1 400"), 0u) << out;
}

TEST_F(ServerTest, ShortBodyIsAnErrorForTheHandler) {
  start();
  // The client promises 100 bytes, sends 3 and half-closes: the handler sees an error.
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
  asio::write(s, asio::buffer(std::string("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")));
  s.shutdown(tcp::socket::shutdown_send);
  std::string out;
  char buf[1024];
  error_code ec;
  while (!ec) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
  }
  EXPECT_EQ(out.find("HTTP/1.1 400"), 0u) << out;
  EXPECT_NE(out.find("short of its Content-Length"), std::string::npos) << out;
}

TEST_F(ServerTest, IdleClientIsDisconnected) {
  ServerOptions o;
  o.header_timeout = std::chrono::seconds(1);
  start(o);
  // A slowloris client: half a request head, then nothing. The server hangs up.
  const std::string out = exchange("GET / HTTP/1.1\r\nHost: x\r\n");
  EXPECT_EQ(out, "");
}

TEST_F(ServerTest, ShutdownFinishesInFlightRequest) {
  start();
  auto reply = std::async(std::launch::async, [this] { return exchange("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", "slow done"); });
  while (!entered_.load()) std::this_thread::yield();
  server_->shutdown();
  release_ = true;
  const std::string out = reply.get();
  EXPECT_NE(out.find("slow done"), std::string::npos) << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
  thread_.join();
  // And nothing listens any more.
  asio::io_context io;
  tcp::socket s(io);
  error_code ec;
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
  EXPECT_TRUE(ec);
}

}  // namespace
}  // namespace berth::http

namespace berth::http {
namespace {

TEST_F(ServerTest, LargeBodyArrivesWholeAndNextRequestStillParses) {
  start();
  const std::string body(300 * 1024, 'z');
  const std::string out = exchange("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                                   "\r\n\r\n" + body + "GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("Content-Length: " + std::to_string(body.size())), std::string::npos);
  EXPECT_NE(out.find(body), std::string::npos);
  EXPECT_NE(out.find("hello GET"), std::string::npos);
}

TEST_F(ServerTest, BodyOverLimitIsAnErrorForTheHandler) {
  ServerOptions o;
  o.max_body_bytes = 1000;
  start(o);
  // The handler sees the error and answers in its own terms.
  const std::string out = exchange("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.1 400"), 0u) << out;
  EXPECT_NE(out.find("exceeds the limit of 1000"), std::string::npos) << out;
  const std::string chunked = exchange(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + std::string(2000, 'x') + "\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.find("HTTP/1.1 400"), 0u) << chunked;
}

}  // namespace
}  // namespace berth::http

namespace berth::http {
namespace {

TEST_F(ServerTest, Http10KeepAliveIsAnnounced) {
  start();
  const std::string out = exchange("GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "hello GET");
  EXPECT_NE(out.find("Connection: keep-alive"), std::string::npos) << out;
  const std::string closed = exchange("GET /a HTTP/1.0\r\n\r\n");
  EXPECT_NE(closed.find("Connection: close"), std::string::npos) << closed;
}

}  // namespace
}  // namespace berth::http

namespace berth::http {
namespace {

const std::string kGet = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";

TEST(ConnectionLimitTest, FollowsTheDescriptorLimit) {
  auto l = connection_limit(0, 1024, 200);
  EXPECT_EQ(l.ceiling, 824u);
  EXPECT_EQ(l.limit, 412u);  // a connection sending a blob holds two descriptors
  EXPECT_FALSE(l.clamped);
  l = connection_limit(100, 1024, 200);
  EXPECT_EQ(l.limit, 100u);
  EXPECT_FALSE(l.clamped);
  l = connection_limit(5000, 1024, 200);
  EXPECT_EQ(l.limit, 824u);
  EXPECT_TRUE(l.clamped);
  l = connection_limit(0, 300, 200);  // the reserve would leave next to nothing
  EXPECT_EQ(l.ceiling, 150u);
  EXPECT_EQ(l.limit, 75u);
  l = connection_limit(0, 1, 200);
  EXPECT_EQ(l.limit, 1u);
  l = connection_limit(0, 1U << 20, 200);  // plenty of descriptors: the default cap
  EXPECT_EQ(l.limit, kDefaultMaxConnections);
  l = connection_limit(50000, 1U << 20, 200);  // asked for explicitly: allowed
  EXPECT_EQ(l.limit, 50000u);
  EXPECT_FALSE(l.clamped);
}

TEST(ConnectionLimitTest, RaisesTheSoftOpenFileLimitToTheHardOne) {
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  rlimit lowered = before;
  lowered.rlim_cur = std::min<rlim_t>(before.rlim_max, 512);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
  const uint64_t now = raise_open_file_limit();
  rlimit after{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(now, after.rlim_cur);
  if (before.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(after.rlim_cur, before.rlim_max);
  }
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &before), 0);
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitWaitUntilOneCloses) {
  ServerOptions o;
  o.max_connections = 2;
  start(o);
  EXPECT_EQ(server_->max_connections(), 2u);
  EXPECT_EQ(gauge("berth_http_connections_max"), 2);
  // Connected, first request not sent: not idle between requests, so never reclaimed.
  Conn a(port_);
  auto b = std::make_unique<Conn>(port_);
  wait_for([&] { return gauge("berth_http_connections") == 2; }, "both connections to be served");

  Conn c(port_);  // the kernel completes the handshake; berth holds the connection unread
  c.send(kGet);
  wait_for([&] { return gauge("berth_http_connections_waiting") == 1; }, "the third connection to wait");
  EXPECT_TRUE(c.nothing_to_read());
  b.reset();  // closing one lets the waiting one in
  EXPECT_NE(c.read_until("hello GET").find("hello GET"), std::string::npos);
  EXPECT_EQ(gauge("berth_http_connections_waiting"), 0);
  EXPECT_EQ(gauge("berth_http_connections"), 2);
  EXPECT_EQ(metrics_.counter("berth_http_connections_delayed_total", "").value(), 1u);

  // c is idle between requests now: a newcomer takes its place at once.
  Conn d(port_);
  d.send(kGet);
  EXPECT_NE(d.read_until("hello GET").find("hello GET"), std::string::npos);
  EXPECT_EQ(c.read_until("\r\n"), "");
  EXPECT_EQ(metrics_.counter("berth_http_connections_reclaimed_total", "").value(), 1u);
}

TEST_F(ServerTest, AtTheLimitTheNextConnectionToAnswerClosesForAWaitingOne) {
  ServerOptions o;
  o.max_connections = 2;
  // Were answered connections kept, the waiting one would be let in only when they time
  // out (--header-timeout).
  o.header_timeout = std::chrono::seconds(30);
  start(o);
  Conn a(port_);  // neither idle between requests: nothing to reclaim when c arrives
  Conn b(port_);
  wait_for([&] { return gauge("berth_http_connections") == 2; }, "both connections to be served");
  Conn c(port_);
  c.send(kGet);
  wait_for([&] { return gauge("berth_http_connections_waiting") == 1; }, "the third connection to wait");
  EXPECT_TRUE(c.nothing_to_read());

  a.send(kGet);  // still served; its answer says it closes, and it does
  const std::string answer = a.read_until("hello GET");
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
  EXPECT_EQ(a.read_until("\r\n"), "");
  EXPECT_NE(c.read_until("hello GET").find("hello GET"), std::string::npos);
  EXPECT_EQ(metrics_.counter("berth_http_connections_reclaimed_total", "").value(), 1u);
  EXPECT_TRUE(b.nothing_to_read());  // still open

  // With nobody waiting, an answered connection stays open.
  b.send(kGet);
  const std::string kept = b.read_until("hello GET");
  EXPECT_EQ(kept.find("Connection: close"), std::string::npos) << kept;
  EXPECT_TRUE(b.nothing_to_read());
}

TEST_F(ServerTest, AtTheLimitAConnectionIdleBetweenRequestsMakesRoom) {
  ServerOptions o;
  o.max_connections = 2;
  // Were the idle connections kept, the waiting one would be let in only when they time
  // out, with nothing reclaimed.
  o.header_timeout = std::chrono::seconds(5);
  start(o);
  Conn kept(port_);  // a client's pooled connection, idle after its request
  kept.send(kGet);
  EXPECT_NE(kept.read_until("hello GET").find("hello GET"), std::string::npos);
  Conn fresh(port_);  // connected, its first request not sent yet: never taken
  wait_for([&] { return gauge("berth_http_connections") == 2; }, "both connections to be served");

  Conn c(port_);
  c.send(kGet);
  EXPECT_NE(c.read_until("hello GET").find("hello GET"), std::string::npos);
  EXPECT_EQ(metrics_.counter("berth_http_connections_reclaimed_total", "").value(), 1u);
  EXPECT_EQ(kept.read_until("\r\n"), "");  // closed, with nothing sent
  EXPECT_TRUE(fresh.nothing_to_read());    // still open
}

TEST_F(ServerTest, ShutdownClosesAConnectionWaitingForASlot) {
  ServerOptions o;
  o.max_connections = 1;
  start(o);
  Conn a(port_);
  wait_for([&] { return gauge("berth_http_connections") == 1; }, "the first connection to be served");
  Conn c(port_);
  c.send(kGet);
  wait_for([&] { return gauge("berth_http_connections_waiting") == 1; }, "the second connection to wait");
  server_->shutdown();
  thread_.join();
  EXPECT_EQ(c.read_until("hello GET"), "");  // closed unanswered
}

TEST_F(ServerTest, UploadSlotWaitsThenRefusesWithTooManyRequests) {
  ServerOptions o;
  o.max_uploads = 1;
  o.io_timeout = std::chrono::seconds(1);
  start(o);
  const std::string request = "POST /slot HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
  Conn a(port_);
  a.send(request);
  wait_for([&] { return slot_holders_.load() == 1; }, "the first request to hold the slot");
  Conn b(port_);
  b.send(request);
  const std::string refused = b.read_until("retry later");
  EXPECT_EQ(refused.find("HTTP/1.1 429"), 0u) << refused;
  EXPECT_NE(refused.find("at most 1 upload body at once and none finished within 1 s"), std::string::npos) << refused;
  EXPECT_EQ(metrics_.counter("berth_uploads_refused_total", "").value(), 1u);
  EXPECT_EQ(gauge("berth_uploads_receiving"), 1);
  EXPECT_EQ(gauge("berth_uploads_waiting"), 0);

  release_ = true;
  EXPECT_NE(a.read_until("slot done").find("slot done"), std::string::npos);
  // The slot came back when the first request ended: the next one gets it.
  b.send(request);
  EXPECT_NE(b.read_until("slot done").find("slot done"), std::string::npos);
  EXPECT_EQ(slot_holders_.load(), 2);
}

}  // namespace
}  // namespace berth::http
