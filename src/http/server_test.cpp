// The server over real sockets on 127.0.0.1:0, with a small handler.
#include "http/server.h"

#include <gtest/gtest.h>

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
    });
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

  std::unique_ptr<Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::atomic<bool> release_{false};
  std::atomic<bool> entered_{false};
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
