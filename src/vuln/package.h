#pragma once

// The package inventory shared by the layer scanner (src/scan) and the vulnerability
// matcher (src/vuln). Kept deliberately plain so both sides can depend on it without
// pulling in each other's code; changing it breaks the scanner, so extend, don't rename.

#include <string>

namespace berth::vuln {

// One installed package as found in an image.
// ecosystem is one of: "dpkg", "apk", "rpm", "npm", "pypi", "go".
// source_name / source_version are set for dpkg (the Source: field, falling back to the
// binary name and version) because the Debian security tracker is keyed by source package;
// other ecosystems leave them empty.
struct Package {
  std::string ecosystem;
  std::string name;
  std::string version;
  std::string source_name;
  std::string source_version;
};

// The operating system from etc/os-release: ID (e.g. "debian", "alpine") and VERSION_ID
// (e.g. "12", "3.19.1"). Both empty when the image has no os-release.
struct OsInfo {
  std::string id;
  std::string version_id;
};

}  // namespace berth::vuln
