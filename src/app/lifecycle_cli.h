// `berth lifecycle run`: applies repositories' lifecycle policies against a data dir, safe
// while `berth serve` runs on it. The server does the same on its --lifecycle-interval.
#pragma once

#include <string>

namespace berth::app {

struct LifecycleCliOptions {
  std::string data_dir = "./berth-data";
  std::string repository;  // empty: every repository with a policy
  std::string region = "us-east-1";  // for the ARNs in audit records
  bool dry_run = false;
  bool json = false;
};

// Exit codes: 0 done, 1 a store failed or a policy could not be applied, 2 invalid flags.
int lifecycle_command(const LifecycleCliOptions& options);

}  // namespace berth::app
