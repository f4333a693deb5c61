#pragma once

#include <string>

#include "app/wiring.h"
#include "http/server.h"

namespace berth::app {

struct ServeOptions {
  RegistryOptions registry;
  std::string listen = "127.0.0.1:5000";
  std::string ready_file;      // written with HOST:PORT once listening
  std::string region = "us-east-1";
  unsigned worker_threads = 0;  // blocking-work pool; 0: 2 x cores
  unsigned upload_ttl_hours = 24;  // uploads idle this long are cancelled
  std::string gc_interval = "24h";  // background garbage collection ("0": off); docs/gc.md
  std::string gc_grace = "1h";      // unreferenced repository links younger than this survive
  std::string lifecycle_interval = "24h";  // apply lifecycle policies this often ("0": off)
  std::string rescan_interval = "5m";  // re-match continuous-scan images when the advisories changed ("0": off)
  http::ServerOptions http;
};

// Runs `berth serve` until SIGTERM/SIGINT; returns the process exit code.
int serve(ServeOptions options);

}  // namespace berth::app
