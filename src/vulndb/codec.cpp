#include "vulndb/codec.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <set>

#include "crypto/hash.h"

namespace berth::vulndb {
namespace {

using nlohmann::json;
using vuln::OsvEvent;

const char* event_key(OsvEvent::Kind kind) {
  switch (kind) {
    case OsvEvent::Kind::kIntroduced: return "introduced";
    case OsvEvent::Kind::kFixed: return "fixed";
    case OsvEvent::Kind::kLastAffected: return "last_affected";
    case OsvEvent::Kind::kLimit: return "limit";
  }
  return "introduced";
}

std::optional<OsvEvent::Kind> event_kind(std::string_view key) {
  if (key == "introduced") return OsvEvent::Kind::kIntroduced;
  if (key == "fixed") return OsvEvent::Kind::kFixed;
  if (key == "last_affected") return OsvEvent::Kind::kLastAffected;
  if (key == "limit") return OsvEvent::Kind::kLimit;
  return std::nullopt;
}

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  if (auto it = j.find(key); it != j.end() && it->is_array()) {
    for (const auto& v : *it) out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

std::string encode_advisory(const vuln::Advisory& a) {
  json affected = json::array();
  for (const auto& af : a.affected) {
    json ranges = json::array();
    for (const auto& r : af.ranges) {
      json events = json::array();
      // Events keep their order: OSV allows them unordered and the evaluator sorts.
      for (const auto& e : r.events) events.push_back(json::array({event_key(e.kind), e.version}));
      ranges.push_back({{"type", r.type}, {"events", std::move(events)}});
    }
    json entry = {{"ecosystem", af.ecosystem}, {"name", af.name}, {"ranges", std::move(ranges)},
                  {"versions", af.versions}};
    if (af.from_unstable) entry["from_unstable"] = true;
    affected.push_back(std::move(entry));
  }
  json doc = {{"id", a.id},
              {"modified", a.modified},
              {"aliases", a.aliases},
              {"summary", a.summary},
              {"details", a.details},
              {"uri", a.uri},
              {"severity", std::string(vuln::severity_name(a.severity))},
              {"affected", std::move(affected)}};
  if (a.withdrawn) doc["withdrawn"] = true;
  if (a.cvss_score) doc["cvss_score"] = *a.cvss_score;
  return doc.dump();
}

Result<vuln::Advisory> decode_advisory(std::string_view document) {
  json doc = json::parse(document, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return fail(ErrorCode::kInvalidParameter, "stored advisory is not JSON");
  try {
    vuln::Advisory a;
    a.id = doc.at("id").get<std::string>();
    a.modified = doc.value("modified", std::string());
    a.withdrawn = doc.value("withdrawn", false);
    a.aliases = strings(doc, "aliases");
    a.summary = doc.value("summary", std::string());
    a.details = doc.value("details", std::string());
    a.uri = doc.value("uri", std::string());
    a.severity = vuln::severity_from_name(doc.value("severity", std::string()));
    if (auto it = doc.find("cvss_score"); it != doc.end() && it->is_number()) a.cvss_score = it->get<double>();
    for (const auto& entry : doc.at("affected")) {
      vuln::OsvAffected af;
      af.ecosystem = entry.at("ecosystem").get<std::string>();
      af.name = entry.at("name").get<std::string>();
      af.versions = strings(entry, "versions");
      af.from_unstable = entry.value("from_unstable", false);
      for (const auto& r : entry.at("ranges")) {
        vuln::OsvRange range;
        range.type = r.at("type").get<std::string>();
        for (const auto& e : r.at("events")) {
          auto kind = event_kind(e.at(0).get<std::string>());
          if (!kind) return fail(ErrorCode::kInvalidParameter, "stored advisory " + a.id + " has an unknown event");
          range.events.push_back(OsvEvent{*kind, e.at(1).get<std::string>()});
        }
        af.ranges.push_back(std::move(range));
      }
      a.affected.push_back(std::move(af));
    }
    return a;
  } catch (const json::exception& e) {
    return fail(ErrorCode::kInvalidParameter, std::string("stored advisory is malformed: ") + e.what());
  }
}

std::string content_hash(std::string_view document) { return crypto::sha256(document).str(); }

std::string ecosystem_families(const vuln::Advisory& advisory) {
  std::set<std::string> families;
  for (const auto& af : advisory.affected) {
    if (!af.ecosystem.empty()) families.insert(af.ecosystem.substr(0, af.ecosystem.find(':')));
  }
  std::string out;
  for (const auto& f : families) out += (out.empty() ? "" : ",") + f;
  return out;
}

}  // namespace berth::vulndb
