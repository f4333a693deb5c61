#include "vulndb/formats.h"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include <cctype>

#include "vuln/native.h"

namespace berth::vulndb {
namespace {

using nlohmann::json;
using Status = ParsedFile::Status;

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i]) return false;
  }
  return true;
}

ParsedFile ignored(std::string reason) { return ParsedFile{.status = Status::kIgnored, .reason = std::move(reason)}; }
ParsedFile malformed(Format f, std::string reason) {
  return ParsedFile{.status = Status::kMalformed, .format = f, .reason = std::move(reason)};
}
ParsedFile parsed(Format f, std::vector<vuln::Advisory> advisories) {
  return ParsedFile{.status = Status::kOk, .format = f, .advisories = std::move(advisories)};
}

// YAML to JSON with every scalar a string: the parsers read versions and ids as strings,
// and "1.10" must not become the number 1.1.
json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(yaml_to_json(item));
      return out;
    }
    case YAML::NodeType::Scalar: return node.as<std::string>();
    default: return nullptr;
  }
}

ParsedFile parse_osv_document(const json& doc) {
  auto adv = vuln::parse_osv(doc.dump());
  if (!adv) return malformed(Format::kOsv, adv.error().message);
  std::vector<vuln::Advisory> out;
  out.push_back(std::move(*adv));
  return parsed(Format::kOsv, std::move(out));
}

ParsedFile parse_json_document(const json& doc) {
  if (doc.is_array()) {
    // osv.dev's query results and some mirrors: an array of OSV records.
    std::vector<vuln::Advisory> out;
    for (size_t i = 0; i < doc.size(); ++i) {
      if (!doc[i].is_object()) return malformed(Format::kOsv, "element " + std::to_string(i) + " is not an OSV record");
      auto adv = vuln::parse_osv(doc[i].dump());
      if (!adv) return malformed(Format::kOsv, "element " + std::to_string(i) + ": " + adv.error().message);
      out.push_back(std::move(*adv));
    }
    return parsed(Format::kOsv, std::move(out));
  }
  if (!doc.is_object()) return ignored("JSON that is neither OSV nor Alpine secdb");
  if (doc.contains("packages") && doc.contains("distroversion")) {
    // A branch without fixes is written "packages:" with nothing after it (v3.3 community).
    if (doc["packages"].is_null()) return parsed(Format::kAlpineSecdb, {});
    auto advs = vuln::parse_alpine_secdb_json(doc.dump());
    if (!advs) return malformed(Format::kAlpineSecdb, advs.error().message);
    return parsed(Format::kAlpineSecdb, std::move(*advs));
  }
  if (doc.contains("id") || doc.contains("affected") || doc.contains("schema_version")) return parse_osv_document(doc);
  return ignored("JSON that is neither OSV nor Alpine secdb");
}

std::string_view first_line(std::string_view text) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) return line;
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return {};
}

// The tracker's data/{DSA,DLA,CVE}/list: "[03 Oct 2023] DSA-5514-1 glibc - ..." or
// "CVE-2024-1234 (description ...)" at the top.
bool looks_like_debian_list(std::string_view text) {
  auto line = first_line(text);
  if (line.starts_with("CVE-")) return true;
  if (!line.starts_with("[")) return false;
  const auto close = line.find("] ");
  if (close == std::string_view::npos || close > 16) return false;
  const auto id = line.substr(close + 2);
  return id.starts_with("DSA-") || id.starts_with("DLA-") || id.starts_with("DTSA-");
}

}  // namespace

std::string_view format_name(Format format) {
  switch (format) {
    case Format::kOsv: return "osv";
    case Format::kDebianList: return "debian";
    case Format::kAlpineSecdb: return "alpine";
  }
  return "osv";
}

ParsedFile parse_file(std::string_view name, std::string_view text) {
  if (ends_with_ci(name, ".yaml") || ends_with_ci(name, ".yml")) {
    json doc;
    try {
      doc = yaml_to_json(YAML::Load(std::string(text)));
    } catch (const YAML::Exception& e) {
      // A .yaml file is only a candidate: say what it was taken for only when it is one.
      return ParsedFile{.status = Status::kMalformed, .format = Format::kAlpineSecdb,
                        .reason = std::string("invalid YAML: ") + e.what()};
    }
    auto result = parse_json_document(doc);
    if (result.status == Status::kIgnored) result.reason = "YAML that is neither OSV nor Alpine secdb";
    return result;
  }
  const bool json_name = ends_with_ci(name, ".json");
  if (!json_name && looks_like_debian_list(text)) {
    auto advs = vuln::parse_debian_list(text);
    if (!advs) return malformed(Format::kDebianList, advs.error().message);
    return parsed(Format::kDebianList, std::move(*advs));
  }
  const auto start = text.find_first_not_of(" \t\r\n");
  const bool json_like = start != std::string_view::npos && (text[start] == '{' || text[start] == '[');
  if (json_name || json_like) {
    json doc;
    try {
      doc = json::parse(text);
    } catch (const json::exception& e) {
      if (!json_name) return ignored("not an advisory format berth reads");
      return malformed(Format::kOsv, std::string("invalid JSON: ") + e.what());
    }
    return parse_json_document(doc);
  }
  return ignored("not an advisory format berth reads");
}

}  // namespace berth::vulndb
