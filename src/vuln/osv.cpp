#include "vuln/osv.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "vuln/version.h"

namespace berth::vuln {
namespace {

using nlohmann::json;

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// CVSS 3.1 Roundup (spec appendix A): avoids floating point surprises like 4.0000001 → 4.1.
double roundup(double x) {
  const auto i = static_cast<long long>(std::llround(x * 100000));
  if (i % 10000 == 0) return static_cast<double>(i) / 100000.0;
  return (std::floor(static_cast<double>(i) / 10000.0) + 1) / 10.0;
}

}  // namespace

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::kUndefined: return "UNDEFINED";
    case Severity::kInformational: return "INFORMATIONAL";
    case Severity::kLow: return "LOW";
    case Severity::kMedium: return "MEDIUM";
    case Severity::kHigh: return "HIGH";
    case Severity::kCritical: return "CRITICAL";
  }
  return "UNDEFINED";
}

Severity severity_from_name(std::string_view name) {
  std::string up(name);
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (up == "CRITICAL") return Severity::kCritical;
  if (up == "HIGH") return Severity::kHigh;
  if (up == "MEDIUM" || up == "MODERATE") return Severity::kMedium;
  if (up == "LOW") return Severity::kLow;
  if (up == "INFORMATIONAL" || up == "NONE" || up == "NEGLIGIBLE" || up == "UNIMPORTANT") return Severity::kInformational;
  return Severity::kUndefined;
}

Severity severity_from_score(double score) {
  if (score >= 9.0) return Severity::kCritical;
  if (score >= 7.0) return Severity::kHigh;
  if (score >= 4.0) return Severity::kMedium;
  if (score >= 0.1) return Severity::kLow;
  return Severity::kInformational;
}

std::optional<double> cvss3_base_score(std::string_view vector) {
  if (!(vector.starts_with("CVSS:3.0/") || vector.starts_with("CVSS:3.1/"))) return std::nullopt;
  std::map<std::string, std::string, std::less<>> m;
  vector.remove_prefix(9);
  while (!vector.empty()) {
    const auto slash = vector.find('/');
    const auto part = vector.substr(0, slash);
    const auto colon = part.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    m[std::string(part.substr(0, colon))] = std::string(part.substr(colon + 1));
    if (slash == std::string_view::npos) break;
    vector.remove_prefix(slash + 1);
  }
  auto pick = [&](const char* key, std::initializer_list<std::pair<const char*, double>> table) -> std::optional<double> {
    auto it = m.find(key);
    if (it == m.end()) return std::nullopt;
    for (const auto& [k, v] : table)
      if (it->second == k) return v;
    return std::nullopt;
  };
  const bool changed = m.count("S") && m["S"] == "C";
  if (!m.count("S") || (m["S"] != "C" && m["S"] != "U")) return std::nullopt;
  const auto av = pick("AV", {{"N", 0.85}, {"A", 0.62}, {"L", 0.55}, {"P", 0.2}});
  const auto ac = pick("AC", {{"L", 0.77}, {"H", 0.44}});
  const auto pr = changed ? pick("PR", {{"N", 0.85}, {"L", 0.68}, {"H", 0.5}}) : pick("PR", {{"N", 0.85}, {"L", 0.62}, {"H", 0.27}});
  const auto ui = pick("UI", {{"N", 0.85}, {"R", 0.62}});
  const auto c = pick("C", {{"H", 0.56}, {"L", 0.22}, {"N", 0.0}});
  const auto i = pick("I", {{"H", 0.56}, {"L", 0.22}, {"N", 0.0}});
  const auto a = pick("A", {{"H", 0.56}, {"L", 0.22}, {"N", 0.0}});
  if (!av || !ac || !pr || !ui || !c || !i || !a) return std::nullopt;
  const double iss = 1 - (1 - *c) * (1 - *i) * (1 - *a);
  const double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * std::pow(iss - 0.02, 15) : 6.42 * iss;
  const double exploitability = 8.22 * *av * *ac * *pr * *ui;
  if (impact <= 0) return 0.0;
  return changed ? roundup(std::min(1.08 * (impact + exploitability), 10.0)) : roundup(std::min(impact + exploitability, 10.0));
}

Result<Advisory> parse_osv(std::string_view json_text) {
  json doc = json::parse(json_text, nullptr, false);
  if (doc.is_discarded()) return fail(ErrorCode::kInvalidParameter, "not valid JSON");
  if (!doc.is_object()) return fail(ErrorCode::kInvalidParameter, "an OSV record must be a JSON object");
  Advisory adv;
  adv.id = str(doc, "id");
  if (adv.id.empty()) return fail(ErrorCode::kInvalidParameter, "OSV record has no id");
  adv.modified = str(doc, "modified");
  adv.withdrawn = !str(doc, "withdrawn").empty();
  adv.summary = str(doc, "summary");
  adv.details = str(doc, "details");
  if (auto it = doc.find("aliases"); it != doc.end() && it->is_array())
    for (const auto& a : *it)
      if (a.is_string()) adv.aliases.push_back(a.get<std::string>());
  if (auto it = doc.find("references"); it != doc.end() && it->is_array()) {
    for (const auto& r : *it) {
      if (!r.is_object()) continue;
      const auto url = str(r, "url");
      if (adv.uri.empty() || (str(r, "type") == "ADVISORY" && !url.empty())) adv.uri = url;
      if (str(r, "type") == "ADVISORY" && !url.empty()) break;
    }
  }
  if (auto it = doc.find("severity"); it != doc.end() && it->is_array())
    for (const auto& s : *it)
      if (s.is_object() && str(s, "type").starts_with("CVSS_V3"))
        if (auto score = cvss3_base_score(str(s, "score"))) adv.cvss_score = std::max(adv.cvss_score.value_or(0.0), *score);
  if (adv.cvss_score) adv.severity = severity_from_score(*adv.cvss_score);
  if (auto it = doc.find("database_specific"); adv.severity == Severity::kUndefined && it != doc.end() && it->is_object())
    adv.severity = severity_from_name(str(*it, "severity"));
  if (auto it = doc.find("affected"); it != doc.end() && it->is_array()) {
    for (const auto& a : *it) {
      if (!a.is_object()) return fail(ErrorCode::kInvalidParameter, adv.id + ": affected entry is not an object");
      OsvAffected out;
      if (auto p = a.find("package"); p != a.end() && p->is_object()) {
        out.ecosystem = str(*p, "ecosystem");
        out.name = str(*p, "name");
      }
      if (auto v = a.find("versions"); v != a.end() && v->is_array())
        for (const auto& x : *v)
          if (x.is_string()) out.versions.push_back(x.get<std::string>());
      if (auto rs = a.find("ranges"); rs != a.end() && rs->is_array()) {
        for (const auto& r : *rs) {
          if (!r.is_object()) continue;
          OsvRange range{str(r, "type"), {}};
          if (range.type != "SEMVER" && range.type != "ECOSYSTEM") continue;  // GIT: commits, not versions
          if (auto es = r.find("events"); es != r.end() && es->is_array()) {
            for (const auto& e : *es) {
              if (!e.is_object()) continue;
              static const std::pair<const char*, OsvEvent::Kind> kKinds[] = {
                  {"introduced", OsvEvent::Kind::kIntroduced}, {"fixed", OsvEvent::Kind::kFixed},
                  {"last_affected", OsvEvent::Kind::kLastAffected}, {"limit", OsvEvent::Kind::kLimit}};
              for (const auto& [key, kind] : kKinds)
                if (auto v = str(e, key); !v.empty()) range.events.push_back({kind, v});
            }
          }
          out.ranges.push_back(std::move(range));
        }
      }
      if (!out.name.empty()) adv.affected.push_back(std::move(out));
    }
  }
  return adv;
}

bool range_affects(const OsvRange& range, std::string_view ecosystem, std::string_view version) {
  auto events = range.events;
  auto less = [&](const OsvEvent& x, const OsvEvent& y) {
    const bool zx = x.kind == OsvEvent::Kind::kIntroduced && x.version == "0";
    const bool zy = y.kind == OsvEvent::Kind::kIntroduced && y.version == "0";
    if (zx || zy) return zx && !zy;
    return compare_versions(ecosystem, x.version, y.version) < 0;
  };
  std::stable_sort(events.begin(), events.end(), less);
  bool affected = false;
  bool has_limit = false, below_a_limit = false;
  for (const auto& e : events) {
    switch (e.kind) {
      case OsvEvent::Kind::kIntroduced:
        if (e.version == "0" || compare_versions(ecosystem, version, e.version) >= 0) affected = true;
        break;
      case OsvEvent::Kind::kFixed:
        if (compare_versions(ecosystem, version, e.version) >= 0) affected = false;
        break;
      case OsvEvent::Kind::kLastAffected:
        if (compare_versions(ecosystem, version, e.version) > 0) affected = false;
        break;
      case OsvEvent::Kind::kLimit:
        has_limit = true;
        if (e.version == "*" || compare_versions(ecosystem, version, e.version) < 0) below_a_limit = true;
        break;
    }
  }
  return affected && (!has_limit || below_a_limit);
}

AffectedResult evaluate(const OsvAffected& affected, std::string_view ecosystem, std::string_view version) {
  AffectedResult out;
  for (const auto& range : affected.ranges) {
    if (!range_affects(range, ecosystem, version)) continue;
    out.affected = true;
    for (const auto& e : range.events)
      if (e.kind == OsvEvent::Kind::kFixed && compare_versions(ecosystem, e.version, version) > 0) out.fixed.push_back(e.version);
  }
  if (!out.affected)
    for (const auto& v : affected.versions)
      if (v == version || compare_versions(ecosystem, v, version) == 0) out.affected = true;
  std::sort(out.fixed.begin(), out.fixed.end());
  out.fixed.erase(std::unique(out.fixed.begin(), out.fixed.end()), out.fixed.end());
  return out;
}

}  // namespace berth::vuln
