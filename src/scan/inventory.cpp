#include "scan/inventory.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace berth::scan {
namespace {

// True when path is dir itself or lies beneath it.
bool under(std::string_view path, std::string_view dir) {
  if (dir.empty()) return true;
  return path == dir || (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

template <class Pred>
void erase_paths(std::map<std::string, PackageSource>& sources, std::map<std::string, vuln::OsInfo>& os,
                 Pred&& hidden) {
  std::erase_if(sources, [&](const auto& kv) { return hidden(kv.first); });
  std::erase_if(os, [&](const auto& kv) { return hidden(kv.first); });
}

nlohmann::json package_json(const vuln::Package& p) {
  nlohmann::json j = {{"ecosystem", p.ecosystem}, {"name", p.name}, {"version", p.version}};
  if (!p.source_name.empty()) j["source_name"] = p.source_name;
  if (!p.source_version.empty()) j["source_version"] = p.source_version;
  return j;
}

nlohmann::json sources_json(const std::vector<PackageSource>& sources) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& s : sources) {
    nlohmann::json pk = nlohmann::json::array();
    for (const auto& p : s.packages) pk.push_back(package_json(p));
    nlohmann::json src = {{"path", s.path}, {"packages", pk}};
    if (!s.unreadable.empty()) src["unreadable"] = s.unreadable;
    arr.push_back(std::move(src));
  }
  return arr;
}

}  // namespace

std::vector<vuln::Package> ImageInventory::packages() const {
  std::vector<vuln::Package> out;
  for (const auto& s : sources) out.insert(out.end(), s.packages.begin(), s.packages.end());
  return out;
}

ImageInventory compose(const std::vector<LayerInventory>& layers) {
  std::map<std::string, PackageSource> sources;
  std::map<std::string, vuln::OsInfo> os;
  ImageInventory image;
  for (size_t index = 0; index < layers.size(); ++index) {
    const auto& layer = layers[index];
    // A layer's own deletions apply to what lies below it, before its own files land.
    for (const auto& dir : layer.opaque_dirs)
      erase_paths(sources, os, [&](const std::string& p) { return p != dir && under(p, dir); });
    for (const auto& gone : layer.whiteouts)
      erase_paths(sources, os, [&](const std::string& p) { return under(p, gone); });
    for (const auto& s : layer.sources) {
      auto& placed = sources[s.path] = s;
      placed.layer = static_cast<int>(index);
    }
    for (const auto& [path, info] : layer.os_releases) os[path] = info;
    image.skipped_records += layer.skipped_records;
  }
  // etc/os-release wins over usr/lib/os-release, as os-release(5) says.
  if (auto it = os.find("etc/os-release"); it != os.end()) image.os = it->second;
  else if (auto it2 = os.find("usr/lib/os-release"); it2 != os.end()) image.os = it2->second;
  for (auto& [path, s] : sources) image.sources.push_back(std::move(s));
  return image;
}

std::string to_json(const LayerInventory& inv) {
  nlohmann::json os = nlohmann::json::object();
  for (const auto& [path, info] : inv.os_releases) os[path] = {{"id", info.id}, {"version_id", info.version_id}};
  nlohmann::json j = {{"parser_version", inv.parser_version},
                      {"sources", sources_json(inv.sources)},
                      {"os_releases", os},
                      {"whiteouts", inv.whiteouts},
                      {"opaque_dirs", inv.opaque_dirs},
                      {"skipped_records", inv.skipped_records}};
  return j.dump();
}

std::optional<LayerInventory> layer_inventory_from_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    LayerInventory inv;
    inv.parser_version = j.at("parser_version").get<int>();
    for (const auto& s : j.at("sources")) {
      PackageSource src{s.at("path").get<std::string>(), {}, s.value("unreadable", "")};
      for (const auto& p : s.at("packages"))
        src.packages.push_back({p.at("ecosystem").get<std::string>(), p.at("name").get<std::string>(),
                                p.at("version").get<std::string>(), p.value("source_name", ""),
                                p.value("source_version", "")});
      inv.sources.push_back(std::move(src));
    }
    for (const auto& [path, o] : j.at("os_releases").items())
      inv.os_releases[path] = {.id = o.at("id").get<std::string>(), .version_id = o.at("version_id").get<std::string>()};
    inv.whiteouts = j.at("whiteouts").get<std::vector<std::string>>();
    inv.opaque_dirs = j.at("opaque_dirs").get<std::vector<std::string>>();
    inv.skipped_records = j.value("skipped_records", 0);
    return inv;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::string to_json(const ImageInventory& inv) {
  nlohmann::json pk = nlohmann::json::array();
  for (const auto& p : inv.packages()) pk.push_back(package_json(p));
  nlohmann::json j = {{"os", {{"id", inv.os.id}, {"version_id", inv.os.version_id}}},
                      {"packages", pk},
                      {"sources", sources_json(inv.sources)},
                      {"skipped_records", inv.skipped_records}};
  return j.dump(2);
}

}  // namespace berth::scan
