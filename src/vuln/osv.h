#pragma once

// OSV (https://ossf.github.io/osv-schema/) records and their affected-version semantics.
// Pure: parsing and evaluation only, no storage.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace berth::vuln {

struct OsvEvent {
  enum class Kind { kIntroduced, kFixed, kLastAffected, kLimit };
  Kind kind;
  std::string version;
};

struct OsvRange {
  std::string type;  // SEMVER or ECOSYSTEM (GIT ranges are dropped at parse time)
  std::vector<OsvEvent> events;
};

struct OsvAffected {
  std::string ecosystem;  // as written, e.g. "npm", "PyPI", "Debian:12", "Alpine:v3.19"
  std::string name;
  std::vector<OsvRange> ranges;
  std::vector<std::string> versions;
  // Debian CVE-list only: the entry was inherited from the unstable line, so a DSA's
  // release-specific fix overrides it when the lists are merged.
  bool from_unstable = false;
};

// ECR's severity names.
enum class Severity { kUndefined, kInformational, kLow, kMedium, kHigh, kCritical };
std::string_view severity_name(Severity s);
Severity severity_from_name(std::string_view name);  // accepts GHSA's MODERATE as MEDIUM

struct Advisory {
  std::string id;
  std::string modified;
  bool withdrawn = false;
  std::vector<std::string> aliases;
  std::string summary;
  std::string details;
  std::string uri;  // first reference (ADVISORY preferred), else empty
  Severity severity = Severity::kUndefined;
  std::optional<double> cvss_score;
  std::vector<OsvAffected> affected;
};

// Parses one OSV JSON document. Missing id or a non-object is kInvalidParameter.
Result<Advisory> parse_osv(std::string_view json_text);

// The OSV evaluation algorithm for one range: events sorted by version ("0" lowest),
// introduced opens, fixed closes at the version, last_affected closes after it, and a
// version at or above every limit is outside.
bool range_affects(const OsvRange& range, std::string_view ecosystem, std::string_view version);

// Whether `version` is affected (any range or the explicit versions list) and the fixed
// versions of the ranges that matched. `ecosystem` is a Package::ecosystem value.
struct AffectedResult {
  bool affected = false;
  std::vector<std::string> fixed;
};
AffectedResult evaluate(const OsvAffected& affected, std::string_view ecosystem, std::string_view version);

// CVSS v3.0/v3.1 base score from a vector ("CVSS:3.1/AV:N/..."); nullopt when malformed.
std::optional<double> cvss3_base_score(std::string_view vector);
Severity severity_from_score(double score);

}  // namespace berth::vuln
