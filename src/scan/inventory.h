#pragma once

// What one layer contributes to an image's package inventory, and how layers compose.
// A LayerInventory depends only on the layer's bytes (and the parser version), so it is
// computed once per layer digest and shared by every image that uses the layer:
// continuous rescans re-match stored inventories without reading a layer again.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vuln/package.h"

namespace berth::scan {

// Bump when an extractor changes what it reports: stored inventories with another
// version are recomputed.
// 2: rpm sqlite, Go binaries, unreadable sources; 3: a malformed dpkg status file fails
// the layer (layers read before are read again once, so such an image no longer passes).
inline constexpr int kParserVersion = 3;

// One file that lists packages: a dpkg status file, an apk db, a package.json, an rpmdb,
// a Go binary...
struct PackageSource {
  std::string path;  // normalised layer path, no leading "./" or "/"
  std::vector<vuln::Package> packages;
  // Non-empty when the file was recognised but could not be read (a BerkeleyDB rpmdb, an
  // oversized or corrupt database): the inventory says so instead of silently omitting it.
  std::string unreadable;
  // In an ImageInventory: the index (lower to upper) of the layer the file came from.
  int layer = -1;
};

struct LayerInventory {
  int parser_version = kParserVersion;
  std::vector<PackageSource> sources;
  std::map<std::string, vuln::OsInfo> os_releases;  // path -> parsed os-release
  std::vector<std::string> whiteouts;   // paths this layer deletes from lower layers
  std::vector<std::string> opaque_dirs; // directories whose lower contents are hidden
  int skipped_records = 0;              // malformed stanzas/manifests left out
};

struct ImageInventory {
  vuln::OsInfo os;
  std::vector<PackageSource> sources;  // sorted by path
  int skipped_records = 0;

  std::vector<vuln::Package> packages() const;
};

// Applies layers lower to upper, as a container runtime's overlay would.
ImageInventory compose(const std::vector<LayerInventory>& layers_lower_to_upper);

// JSON round trip for storage (MetaStore keeps it opaque).
std::string to_json(const LayerInventory& inv);
std::optional<LayerInventory> layer_inventory_from_json(std::string_view text);
std::string to_json(const ImageInventory& inv);

}  // namespace berth::scan
