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
// What a scan that does not complete keeps when it replaces `previous` (null: the image
// had no scan), for ImageScan::last_complete_findings_json: the previous scan's findings
// when it was COMPLETE, each with its first_observed, else what the previous one kept.
std::string last_complete_findings_json(const store::ImageScan* previous);
// Sets each finding's first_observed_ms: the image's latest COMPLETE scan's for a finding
// it had too, else now_ms. That scan is `previous`, or the one `previous` (a scan that
// failed, or the IN_PROGRESS row of this one) kept; with neither, all findings are new.
void carry_first_observed(const store::ImageScan* previous, std::vector<vuln::Finding>& findings, int64_t now_ms);

}  // namespace berth::scanning
