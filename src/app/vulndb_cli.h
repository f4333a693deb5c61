// `berth vulndb import` and `berth vulndb status`: the vulnerability database of a data
// dir, safe while `berth serve` runs on it (the server's scans pick a new data version up
// on their next vuln::AdvisorySource::current()).
#pragma once

#include <string>

namespace berth::app {

struct VulndbCliOptions {
  std::string data_dir = "./berth-data";
  std::string path;  // import only
  bool json = false;
};

// Exit codes: 0 done (files that did not parse are reported on stderr), 1 nothing could be
// read or a store failed.
int vulndb_import_command(const VulndbCliOptions& options);
int vulndb_status_command(const VulndbCliOptions& options);

}  // namespace berth::app
