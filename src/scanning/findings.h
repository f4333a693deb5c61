// The findings of a scan as stored (ImageScan::findings_json) and their severity
// counts. The stored shape is berth's own; src/ecr turns it into ECR's shapes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/meta/meta_store.h"
#include "vuln/matcher.h"

namespace berth::scanning {

// Worst first, then by advisory id and package, so pages are stable.
void sort_findings(std::vector<vuln::Finding>& findings);
nlohmann::json findings_to_json(const std::vector<vuln::Finding>& findings);
std::vector<vuln::Finding> findings_from_json(const std::string& text);
// {"HIGH": 2, "LOW": 1}: only severities that occur, as ECR answers.
nlohmann::json severity_counts(const std::vector<vuln::Finding>& findings);
// The identity of a finding across rescans: advisory, package and version.
std::string finding_key(const vuln::Finding& f);
// Sets each finding's first_observed_ms: the previous scan's for a finding it had too,
// else now_ms (the previous scan may be null, or not COMPLETE: then all are new).
void carry_first_observed(const store::ImageScan* previous, std::vector<vuln::Finding>& findings, int64_t now_ms);

}  // namespace berth::scanning
