#pragma once

// Matching a package inventory against advisories. The index is keyed by
// (namespace, normalized package name) so a scan costs one lookup per package; the store
// (MetaStore) will feed the same Advisory values in.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vuln/osv.h"
#include "vuln/package.h"

namespace berth::vuln {

struct Finding {
  std::string id;  // advisory id (CVE-..., GHSA-..., DSA-...)
  Severity severity = Severity::kUndefined;
  std::string description;
  std::string uri;
  std::string package_name;
  std::string package_version;
  std::vector<std::string> fixed_versions;
  std::string ecosystem;  // the package's (Package::ecosystem)
  // Where the package was found, when the caller knows (the scan service does): the
  // file that lists it and the digest of the layer that file came from.
  std::string file_path;
  std::string layer_digest;
  // When this finding (id, package, version) was first seen in the image, epoch ms: the
  // scan service carries it from scan to scan (Inspector's firstObservedAt).
  std::optional<int64_t> first_observed_ms;
};

// The namespace an OSV ecosystem string names, e.g. "Debian:12" -> "debian:12",
// "Alpine:v3.19" -> "alpine:3.19", "PyPI" -> "pypi", "npm" -> "npm", "Go" -> "go".
// Empty for ecosystems berth does not match.
std::string namespace_of(std::string_view osv_ecosystem);
// The namespace a package from an image belongs to (distro packages need the OS).
std::string namespace_of(const Package& pkg, const OsInfo& os);
// The name the index is keyed by: PEP 503 for PyPI, source package for dpkg.
std::string index_name(std::string_view ns, std::string_view name);

class Matcher {
 public:
  // Withdrawn advisories are ignored.
  void add(const Advisory& advisory);
  std::vector<Finding> match(const OsInfo& os, const std::vector<Package>& packages) const;
  size_t size() const { return advisories_.size(); }

 private:
  std::vector<Advisory> advisories_;
  // (namespace, name) -> (advisory index, affected index)
  std::map<std::pair<std::string, std::string>, std::vector<std::pair<size_t, size_t>>> index_;
};

}  // namespace berth::vuln
