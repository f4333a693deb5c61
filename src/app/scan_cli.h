// `berth scan image` and `berth scan rescan`: the scan service against a data dir, on the
// calling thread, safe while `berth serve` runs on it (the server scans on push and
// rescans every --rescan-interval by itself).
#pragma once

#include <string>

namespace berth::app {

struct ScanCliOptions {
  std::string data_dir = "./berth-data";
  std::string repository;  // scan image
  std::string image;       // a tag or a digest
  bool json = false;
};

// Exit codes: 0 done (a scan that ends FAILED or UNSUPPORTED_IMAGE is still done: the
// outcome is printed), 1 the store failed or the image does not exist.
int scan_image_command(const ScanCliOptions& options);
int rescan_command(const ScanCliOptions& options);

}  // namespace berth::app
