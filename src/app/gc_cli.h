// `berth gc` and `berth storage`: garbage collection and storage accounting against a
// data dir, safe while `berth serve` runs on it (docs/gc.md).
#pragma once

#include <string>

namespace berth::app {

struct GcCliOptions {
  std::string data_dir = "./berth-data";
  std::string grace = "1h";        // unreferenced repository links younger than this survive
  std::string upload_ttl = "24h";  // uploads idle longer are cancelled
  bool dry_run = false;
  bool json = false;
};

struct StorageCliOptions {
  std::string data_dir = "./berth-data";
  bool json = false;
};

// Exit codes: 0 done, 1 a store failed, 2 invalid flags.
int gc_command(const GcCliOptions& options);
int storage_command(const StorageCliOptions& options);

}  // namespace berth::app
