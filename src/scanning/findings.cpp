#include "scanning/findings.h"

#include <algorithm>
#include <tuple>

#include "scanning/status.h"

namespace berth::scanning {

using nlohmann::json;

void sort_findings(std::vector<vuln::Finding>& findings) {
  std::sort(findings.begin(), findings.end(), [](const vuln::Finding& a, const vuln::Finding& b) {
    return std::tie(b.severity, a.id, a.package_name, a.package_version) <
           std::tie(a.severity, b.id, b.package_name, b.package_version);
  });
}

json findings_to_json(const std::vector<vuln::Finding>& findings) {
  json out = json::array();
  for (const auto& f : findings) {
    out.push_back({{"id", f.id},
                   {"severity", std::string(vuln::severity_name(f.severity))},
                   {"description", f.description},
                   {"uri", f.uri},
                   {"package_name", f.package_name},
                   {"package_version", f.package_version},
                   {"fixed_versions", f.fixed_versions},
                   {"ecosystem", f.ecosystem},
                   {"file_path", f.file_path},
                   {"layer", f.layer_digest}});
    if (f.first_observed_ms) out.back()["first_observed"] = *f.first_observed_ms;
  }
  return out;
}

std::vector<vuln::Finding> findings_from_json(const std::string& text) {
  std::vector<vuln::Finding> out;
  const json parsed = json::parse(text, nullptr, false);
  if (!parsed.is_array()) return out;
  for (const auto& j : parsed) {
    if (!j.is_object()) continue;
    vuln::Finding f;
    f.id = j.value("id", "");
    f.severity = vuln::severity_from_name(j.value("severity", "UNDEFINED"));
    f.description = j.value("description", "");
    f.uri = j.value("uri", "");
    f.package_name = j.value("package_name", "");
    f.package_version = j.value("package_version", "");
    // Absent in scans stored before they were recorded.
    f.ecosystem = j.value("ecosystem", "");
    f.file_path = j.value("file_path", "");
    f.layer_digest = j.value("layer", "");
    if (auto fo = j.find("first_observed"); fo != j.end() && fo->is_number_integer()) {
      f.first_observed_ms = fo->get<int64_t>();
    }
    if (auto fv = j.find("fixed_versions"); fv != j.end() && fv->is_array()) {
      for (const auto& v : *fv) {
        if (v.is_string()) f.fixed_versions.push_back(v.get<std::string>());
      }
    }
    out.push_back(std::move(f));
  }
  return out;
}

json severity_counts(const std::vector<vuln::Finding>& findings) {
  json out = json::object();
  for (const auto& f : findings) {
    const std::string name(vuln::severity_name(f.severity));
    out[name] = out.value(name, 0) + 1;
  }
  return out;
}

std::string finding_key(const vuln::Finding& f) {
  return f.id + '\n' + f.package_name + '\n' + f.package_version;
}

namespace {

// The findings of the image's latest COMPLETE scan, as seen from `previous`, each with
// its first_observed_ms.
std::vector<vuln::Finding> last_complete_findings(const store::ImageScan* previous) {
  if (!previous) return {};
  if (previous->status != kComplete) return findings_from_json(previous->last_complete_findings_json);
  auto findings = findings_from_json(previous->findings_json);
  // Scans stored before first_observed was recorded: their findings were seen when that
  // scan completed.
  const int64_t then = previous->completed_at_ms.value_or(previous->started_at_ms);
  for (auto& f : findings) {
    if (!f.first_observed_ms) f.first_observed_ms = then;
  }
  return findings;
}

}  // namespace

std::string last_complete_findings_json(const store::ImageScan* previous) {
  if (!previous) return "[]";
  if (previous->status != kComplete) return previous->last_complete_findings_json;
  return findings_to_json(last_complete_findings(previous)).dump();
}

void carry_first_observed(const store::ImageScan* previous, std::vector<vuln::Finding>& findings, int64_t now_ms) {
  std::map<std::string, int64_t> seen;
  for (const auto& f : last_complete_findings(previous)) {
    seen.emplace(finding_key(f), f.first_observed_ms.value_or(now_ms));
  }
  for (auto& f : findings) {
    auto it = seen.find(finding_key(f));
    f.first_observed_ms = it == seen.end() ? now_ms : std::min(it->second, now_ms);
  }
}

}  // namespace berth::scanning
