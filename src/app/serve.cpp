#include "app/serve.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "auth/authorizer.h"
#include "core/log.h"
#include "ecr/api.h"
#include "expiry/expirer.h"
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

// A job run on `pool` after `first` and then `every` after each run ends. Timers live on
// `timers` (the signal context), so a busy pool never delays shutdown.
class Periodic {
 public:
  Periodic(http::asio::io_context& timers, http::asio::thread_pool& pool, std::function<void()> job)
      : timer_(timers), timers_(timers), pool_(pool), job_(std::move(job)) {}
  void start(std::chrono::milliseconds first, std::chrono::milliseconds every) {
    every_ = every;
    arm(first);
  }
  void cancel() {
    stopped_ = true;
    http::asio::post(timers_, [this] { timer_.cancel(); });
  }

 private:
  void arm(std::chrono::milliseconds delay) {
    if (stopped_) return;
    timer_.expires_after(delay);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopped_) return;
      http::asio::post(pool_, [this] {
        job_();
        http::asio::post(timers_, [this] { arm(every_); });
      });
    });
  }

  http::asio::steady_timer timer_;
  http::asio::io_context& timers_;
  http::asio::thread_pool& pool_;
  std::function<void()> job_;
  std::chrono::milliseconds every_{0};
  std::atomic<bool> stopped_{false};
};

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
  auto lifecycle_interval = gc::parse_duration_ms(options.lifecycle_interval);
  auto rescan_interval = gc::parse_duration_ms(options.rescan_interval);
  for (const auto& [flag, parsed] : {std::pair{"--gc-interval", &gc_interval}, std::pair{"--gc-grace", &gc_grace},
                                     std::pair{"--lifecycle-interval", &lifecycle_interval},
                                     std::pair{"--rescan-interval", &rescan_interval}}) {
    if (!*parsed) {
      std::fprintf(stderr, "berth: %s: %s\n", flag, parsed->error().message.c_str());
      return 2;
    }
  }
  auto reg = Registry::open(options.registry);
  if (!reg) {
    std::fprintf(stderr, "berth: %s\n", reg.error().message.c_str());
    return 1;
  }
  Registry& r = **reg;

  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  const unsigned pool_threads = options.worker_threads ? options.worker_threads : 2 * cores;
  http::asio::thread_pool pool(pool_threads);
  // One authorizer for both APIs, so /v2/ and the ECR API decide alike.
  auth::Authorizer authorizer(*r.meta, *r.identity, options.region, r.clock);
  const oci::Access access{*r.identity, authorizer, r.clock, r.audit.get()};
  oci::Api api(oci::Services{*r.repositories, *r.blob_service, *r.uploads, *r.manifests}, pool, &access);
  expiry::Expirer expirer(*r.meta, *r.repositories, *r.manifests, r.clock,
                          expiry::Options{.repository_arn_prefix = authorizer.repository_arn(""), .page = 1000},
                          r.audit.get(), r.events.get(), &r.metrics);
  ecr::Api ecr_api(ecr::Services{*r.repositories, *r.manifests, *r.blob_service, *r.uploads, *r.identity, authorizer,
                                 r.clock, options.region, r.audit.get(), &expirer, r.pulls.get(), r.scans.get()},
                   pool);

  sts::Api sts_api(sts::Services{*r.meta, *r.identity, authorizer, r.clock, r.audit.get()}, pool);

  options.http.host = listen->first;
  options.http.port = listen->second;
  // Descriptors the connection limit leaves for files: SQLite's, the logs', and per
  // thread a pooled SQLite connection and a blob or staged upload open; per upload
  // being received its staging file; per scan worker the layer it reads.
  http::raise_open_file_limit();
  const unsigned io_threads = options.http.threads ? options.http.threads : cores;
  options.http.descriptor_reserve =
      64 + 4 * size_t{io_threads + pool_threads} + options.http.max_uploads + options.registry.scan.workers;
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
  }, &r.metrics);
  auto bound = server.bind();
  if (!bound) {
    std::fprintf(stderr, "berth: %s\n", bound.error().message.c_str());
    return 1;
  }

  // Signals arrive on their own io_context so shutdown does not depend on a busy worker.
  http::asio::io_context signal_ctx;
  http::asio::signal_set signals(signal_ctx, SIGTERM, SIGINT);
  std::signal(SIGPIPE, SIG_IGN);
  // Background work. Each job runs on the pool, one run at a time; the next run is
  // scheduled when one finishes, so a slow run never overlaps the next.
  const int64_t ttl_ms = int64_t{options.upload_ttl_hours} * 3'600'000;
  Periodic pull_times(signal_ctx, pool, [&r] { r.pulls->flush(); });
  pull_times.start(std::chrono::seconds(10), std::chrono::seconds(10));
  Periodic idle_uploads(signal_ctx, pool, [&r, &log, ttl_ms] {
    auto n = r.uploads->expire(r.clock.now_ms() - ttl_ms);
    if (!n) {
      log->warn("expiring idle uploads failed: {}", n.error().message);
    } else if (*n > 0) {
      log->info("cancelled {} uploads idle for more than {} ms", *n, ttl_ms);
    }
  });
  idle_uploads.start(std::chrono::seconds(30), std::chrono::minutes(10));
  // Garbage collection, online: pushes and pulls go on meanwhile.
  gc::Collector collector(*r.meta, *r.blobs, *r.uploads, r.clock, r.audit.get());
  const gc::Options gc_options{.grace_ms = *gc_grace, .upload_ttl_ms = ttl_ms, .dry_run = false, .batch = 512};
  Periodic gc_runs(signal_ctx, pool, [&] {
    auto report = collector.run(gc_options);
    if (!report) log->warn("garbage collection failed: {}", report.error().message);
    auto sessions = r.identity->delete_expired_sessions(/*dry_run=*/false);
    if (!sessions) {
      log->warn("deleting expired session keys failed: {}", sessions.error().message);
    } else if (*sessions > 0) {
      log->info("deleted the access keys of {} expired role sessions", *sessions);
    }
  });
  if (*gc_interval > 0) gc_runs.start(std::chrono::milliseconds(*gc_interval), std::chrono::milliseconds(*gc_interval));
  // Lifecycle policies of every repository; what they expire, the next gc frees.
  Periodic lifecycle_runs(signal_ctx, pool, [&] {
    auto reports = expirer.run_all(/*dry_run=*/false);
    if (!reports) {
      log->warn("lifecycle run failed: {}", reports.error().message);
      return;
    }
    for (const auto& rep : *reports) {
      if (rep.count(expiry::Outcome::kExpired) > 0) {
        log->info("lifecycle policy of {} expired {} of {} images", rep.repository,
                  rep.count(expiry::Outcome::kExpired), rep.evaluated);
      }
    }
  });
  if (*lifecycle_interval > 0) {
    lifecycle_runs.start(std::chrono::milliseconds(*lifecycle_interval), std::chrono::milliseconds(*lifecycle_interval));
  }
  // Scans: on push (a push only queues), on demand, and continuous rescans when the
  // advisory data moved (re-matching stored inventories, no layer read).
  r.scans->start();
  r.manifests->set_push_listener(r.scans.get());
  Periodic rescans(signal_ctx, pool, [&] {
    auto report = r.scans->rescan_changed();
    if (!report) {
      log->warn("continuous rescan failed: {}", report.error().message);
    } else if (report->images_rematched > 0) {
      log->info("vulnerability data {}: re-matched {} images, {} with new findings", report->vulndb_version,
                report->images_rematched, report->images_with_new_findings);
    }
  });
  if (*rescan_interval > 0) rescans.start(std::chrono::milliseconds(*rescan_interval), std::chrono::milliseconds(*rescan_interval));
  auto stop_background = [&] {
    pull_times.cancel();
    idle_uploads.cancel();
    gc_runs.cancel();
    lifecycle_runs.cancel();
    rescans.cancel();
  };
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    log->info("signal {}: finishing in-flight requests and shutting down", sig);
    stop_background();
    server.shutdown();
  });
  std::thread signal_thread([&] { signal_ctx.run(); });

  log->info("berth listening on http://{} (data dir {}, account {}, region {}, at most {} connections and {} uploads "
            "at once)",
            *bound, options.registry.data_dir, r.identity->account_id(), options.region, server.max_connections(),
            options.http.max_uploads);
  if (!options.ready_file.empty() && !write_ready_file(options.ready_file, *bound)) {
    log->error("cannot write ready file {}", options.ready_file);
  }
  server.run();

  signals.cancel();
  stop_background();
  signal_ctx.stop();
  signal_thread.join();
  pool.join();
  r.manifests->set_push_listener(nullptr);
  r.scans->stop();
  r.pulls->flush();
  log->info("stopped after {} requests", server.requests_served());
  log::flush_all();
  return 0;
}

}  // namespace berth::app
