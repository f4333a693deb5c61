#include "app/serve.h"

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "auth/authorizer.h"
#include "core/log.h"
#include "ecr/api.h"
#include "gc/collector.h"
#include "oci/api.h"
#include "sts/api.h"

namespace berth::app {
namespace {

Result<std::pair<std::string, uint16_t>> split_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return fail(ErrorCode::kInvalidParameter, "--listen must be HOST:PORT");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = -1;
  try {
    size_t used = 0;
    port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) return fail(ErrorCode::kInvalidParameter, "--listen port must be 0..65535");
  return std::pair{host, static_cast<uint16_t>(port)};
}

// Written to a temp file and renamed, so a reader never sees half an address.
bool write_ready_file(const std::string& path, const std::string& address) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << address << "\n";
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace

int serve(ServeOptions options) {
  auto log = log::get("berth");
  auto listen = split_listen(options.listen);
  if (!listen) {
    std::fprintf(stderr, "berth: %s\n", listen.error().message.c_str());
    return 2;
  }
  auto gc_interval = gc::parse_duration_ms(options.gc_interval);
  auto gc_grace = gc::parse_duration_ms(options.gc_grace);
  if (!gc_interval || !gc_grace) {
    std::fprintf(stderr, "berth: %s %s\n", !gc_interval ? "--gc-interval:" : "--gc-grace:",
                 (!gc_interval ? gc_interval : gc_grace).error().message.c_str());
    return 2;
  }
  auto reg = Registry::open(options.registry);
  if (!reg) {
    std::fprintf(stderr, "berth: %s\n", reg.error().message.c_str());
    return 1;
  }
  Registry& r = **reg;

  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  http::asio::thread_pool pool(options.worker_threads ? options.worker_threads : 2 * cores);
  // One authorizer for both APIs, so /v2/ and the ECR API decide alike.
  auth::Authorizer authorizer(*r.meta, *r.identity, options.region, r.clock);
  const oci::Access access{*r.identity, authorizer, r.clock, r.audit.get()};
  oci::Api api(oci::Services{*r.repositories, *r.blob_service, *r.uploads, *r.manifests}, pool, &access);
  ecr::Api ecr_api(ecr::Services{*r.repositories, *r.manifests, *r.blob_service, *r.uploads, *r.identity, authorizer,
                                 r.clock, options.region, r.audit.get()},
                   pool);

  sts::Api sts_api(sts::Services{*r.meta, *r.identity, authorizer, r.clock, r.audit.get()}, pool);

  options.http.host = listen->first;
  options.http.port = listen->second;
  http::Server server(options.http, [&api, &ecr_api, &sts_api, &r](http::Exchange& ex) -> http::awaitable<http::Response> {
    const auto& path = ex.request().path;
    if (path == "/v2" || path.rfind("/v2/", 0) == 0) co_return co_await api.handle(ex);
    if (ecr::Api::handles(ex.request())) co_return co_await ecr_api.handle(ex);
    if (sts::Api::handles(ex.request())) co_return co_await sts_api.handle(ex);
    if (path == "/healthz") co_return http::text_response(200, "ok\n");
    if (path == "/metrics" && ex.request().method == "GET") {
      co_return http::text_response(200, r.metrics.exposition(), "text/plain; version=0.0.4; charset=utf-8");
    }
    co_return http::text_response(404, "not found\n");
  });
  auto bound = server.bind();
  if (!bound) {
    std::fprintf(stderr, "berth: %s\n", bound.error().message.c_str());
    return 1;
  }

  // Signals arrive on their own io_context so shutdown does not depend on a busy worker.
  http::asio::io_context signal_ctx;
  http::asio::signal_set signals(signal_ctx, SIGTERM, SIGINT);
  std::signal(SIGPIPE, SIG_IGN);
  // Background work, until the jobs scheduler arrives (#4): pull times every 10 s,
  // abandoned uploads every 10 minutes.
  http::asio::steady_timer flush_timer(signal_ctx);
  std::function<void()> schedule_flush = [&] {
    flush_timer.expires_after(std::chrono::seconds(10));
    flush_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      http::asio::post(pool, [&r] { r.pulls->flush(); });
      schedule_flush();
    });
  };
  schedule_flush();
  http::asio::steady_timer expiry_timer(signal_ctx);
  const int64_t ttl_ms = int64_t{options.upload_ttl_hours} * 3'600'000;
  std::function<void(std::chrono::seconds)> schedule_expiry = [&](std::chrono::seconds delay) {
    expiry_timer.expires_after(delay);
    expiry_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      http::asio::post(pool, [&r, &log, ttl_ms] {
        auto n = r.uploads->expire(r.clock.now_ms() - ttl_ms);
        if (!n) {
          log->warn("expiring idle uploads failed: {}", n.error().message);
        } else if (*n > 0) {
          log->info("cancelled {} uploads idle for more than {} ms", *n, ttl_ms);
        }
      });
      schedule_expiry(std::chrono::minutes(10));
    });
  };
  schedule_expiry(std::chrono::seconds(30));
  // Garbage collection in the background, online: pushes and pulls go on meanwhile. One
  // run at a time; the next is scheduled when one finishes.
  http::asio::steady_timer gc_timer(signal_ctx);
  gc::Collector collector(*r.meta, *r.blobs, *r.uploads, r.clock, r.audit.get());
  const gc::Options gc_options{.grace_ms = *gc_grace, .upload_ttl_ms = ttl_ms, .dry_run = false, .batch = 512};
  std::function<void()> schedule_gc = [&] {
    gc_timer.expires_after(std::chrono::milliseconds(*gc_interval));
    gc_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      http::asio::post(pool, [&] {
        auto report = collector.run(gc_options);
        if (!report) log->warn("garbage collection failed: {}", report.error().message);
        http::asio::post(signal_ctx, [&] { schedule_gc(); });
      });
    });
  };
  if (*gc_interval > 0) schedule_gc();
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    log->info("signal {}: finishing in-flight requests and shutting down", sig);
    flush_timer.cancel();
    expiry_timer.cancel();
    gc_timer.cancel();
    server.shutdown();
  });
  std::thread signal_thread([&] { signal_ctx.run(); });

  log->info("berth listening on http://{} (data dir {}, account {}, region {})", *bound, options.registry.data_dir,
            r.identity->account_id(), options.region);
  if (!options.ready_file.empty() && !write_ready_file(options.ready_file, *bound)) {
    log->error("cannot write ready file {}", options.ready_file);
  }
  server.run();

  signals.cancel();
  flush_timer.cancel();
  expiry_timer.cancel();
  gc_timer.cancel();
  signal_ctx.stop();
  signal_thread.join();
  pool.join();
  r.pulls->flush();
  log->info("stopped after {} requests", server.requests_served());
  return 0;
}

}  // namespace berth::app
