#include "vuln/native.h"

#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <string>
#include <tuple>

namespace berth::vuln {
namespace {

const std::map<std::string, std::string, std::less<>>& debian_releases() {
  static const std::map<std::string, std::string, std::less<>> k = {
      {"lenny", "5"},   {"squeeze", "6"}, {"wheezy", "7"},   {"jessie", "8"}, {"stretch", "9"},
      {"buster", "10"}, {"bullseye", "11"}, {"bookworm", "12"}, {"trixie", "13"}, {"forky", "14"}};
  return k;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// "pkg 1.2-3 (bug #1)" or "pkg <unfixed> (...)": name, version-or-state.
std::pair<std::string, std::string> package_and_state(std::string_view s) {
  s = trim(s);
  const auto sp = s.find(' ');
  if (sp == std::string_view::npos) return {std::string(s), ""};
  auto rest = trim(s.substr(sp + 1));
  const auto end = rest.find(' ');
  return {std::string(s.substr(0, sp)), std::string(rest.substr(0, end))};
}

void add_affected(Advisory& adv, const std::string& release, const std::string& pkg, const std::string& state,
                  bool from_unstable = false) {
  if (state == "<not-affected>" || state == "<removed>" || state == "<unknown>" || state.empty()) return;
  OsvRange range{"ECOSYSTEM", {{OsvEvent::Kind::kIntroduced, "0"}}};
  if (!state.starts_with("<")) range.events.push_back({OsvEvent::Kind::kFixed, state});  // unfixed/no-dsa/postponed/ignored stay open
  adv.affected.push_back(OsvAffected{"Debian:" + release, pkg, {std::move(range)}, {}, from_unstable});
}

}  // namespace

Result<std::vector<Advisory>> parse_debian_list(std::string_view text) {
  std::vector<Advisory> out;
  struct Pending {
    Advisory adv;
    std::map<std::string, std::string> unstable;       // pkg -> state from "- pkg ver"
    std::set<std::pair<std::string, std::string>> own;  // (release, pkg) with their own line
  };
  std::optional<Pending> cur;
  auto flush = [&] {
    if (!cur) return;
    for (const auto& [pkg, state] : cur->unstable)
      for (const auto& [name, number] : debian_releases())
        if (!cur->own.count({number, pkg})) add_affected(cur->adv, number, pkg, state, true);
    if (!cur->adv.affected.empty()) out.push_back(std::move(cur->adv));
    cur.reset();
  };
  size_t line_no = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (trim(line).empty()) continue;
    if (line.front() != ' ' && line.front() != '\t') {
      flush();
      cur.emplace();
      // "[29 May 2025] DSA-5931-1 systemd - security update" or "CVE-2024-1 (desc ...)"
      auto head = line;
      if (head.front() == '[') {
        const auto close = head.find(']');
        if (close == std::string_view::npos)
          return fail(ErrorCode::kInvalidParameter, "line " + std::to_string(line_no) + ": unterminated date");
        head = trim(head.substr(close + 1));
      }
      const auto sp = head.find(' ');
      cur->adv.id = std::string(head.substr(0, sp));
      if (sp != std::string_view::npos) {
        auto desc = trim(head.substr(sp + 1));
        if (desc.size() >= 2 && (desc.front() == '(' || desc.front() == '[')) desc = desc.substr(1, desc.size() - 2);
        cur->adv.summary = std::string(desc);
      }
      cur->adv.uri = "https://security-tracker.debian.org/tracker/" + cur->adv.id;
      continue;
    }
    if (!cur) return fail(ErrorCode::kInvalidParameter, "line " + std::to_string(line_no) + ": indented line before any entry");
    auto body = trim(line);
    if (body.starts_with("{")) {
      auto ids = body.substr(1, body.find('}') - 1);
      while (!ids.empty()) {
        const auto sp = ids.find(' ');
        if (auto id = ids.substr(0, sp); !id.empty()) cur->adv.aliases.emplace_back(id);
        ids = sp == std::string_view::npos ? std::string_view() : ids.substr(sp + 1);
      }
    } else if (body.starts_with("- ")) {
      auto [pkg, state] = package_and_state(body.substr(2));
      cur->unstable[pkg] = state;
    } else if (body.starts_with("[")) {
      const auto close = body.find(']');
      if (close == std::string_view::npos) continue;
      const auto release = body.substr(1, close - 1);
      auto rest = trim(body.substr(close + 1));
      if (!rest.starts_with("- ")) continue;
      auto it = debian_releases().find(release);
      if (it == debian_releases().end()) continue;
      auto [pkg, state] = package_and_state(rest.substr(2));
      cur->own.insert({it->second, pkg});
      add_affected(cur->adv, it->second, pkg, state);
    }
  }
  flush();
  return out;
}

std::vector<Advisory> merge_debian(std::vector<Advisory> advisories, std::vector<Advisory> cves) {
  // (cve, ecosystem, package) -> fixed range from the DSA
  std::map<std::tuple<std::string, std::string, std::string>, OsvRange> dsa_fix;
  std::set<std::string> known;
  for (const auto& c : cves) known.insert(c.id);
  std::vector<Advisory> out;
  // A DSA naming CVEs the CVE list lacks stands in for them under the CVE's own id (one
  // finding per CVE, as for the CVEs the list knows); DSAs naming the same CVE add up.
  std::map<std::string, Advisory> from_dsas;
  for (auto& dsa : advisories) {
    bool any_known = false;
    std::vector<std::string> unknown;
    for (const auto& cve : dsa.aliases) {
      if (known.count(cve)) {
        any_known = true;
      } else if (cve.starts_with("CVE-")) {
        unknown.push_back(cve);
      }
      for (const auto& a : dsa.affected)
        if (!a.ranges.empty()) dsa_fix[{cve, a.ecosystem, a.name}] = a.ranges.front();
    }
    if (!any_known) {
      out.push_back(std::move(dsa));
      continue;
    }
    for (const auto& cve : unknown) {
      auto [it, inserted] = from_dsas.try_emplace(cve);
      if (inserted) {
        it->second = dsa;
        it->second.id = cve;
        it->second.aliases = {dsa.id};
      } else {
        it->second.aliases.push_back(dsa.id);
        it->second.affected.insert(it->second.affected.end(), dsa.affected.begin(), dsa.affected.end());
      }
    }
  }
  for (auto& [id, advisory] : from_dsas) out.push_back(std::move(advisory));
  for (auto& c : cves) {
    for (auto& a : c.affected) {
      if (!a.from_unstable) continue;
      if (auto it = dsa_fix.find({c.id, a.ecosystem, a.name}); it != dsa_fix.end()) a.ranges = {it->second};
    }
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::vector<Advisory>> parse_alpine_secdb_json(std::string_view text) {
  using nlohmann::json;
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return fail(ErrorCode::kInvalidParameter, "not a secdb JSON object");
  const auto branch = doc.value("distroversion", std::string());
  if (!branch.starts_with("v")) return fail(ErrorCode::kInvalidParameter, "secdb has no distroversion like v3.20");
  auto pkgs = doc.find("packages");
  if (pkgs == doc.end() || !pkgs->is_array()) return fail(ErrorCode::kInvalidParameter, "secdb has no packages array");
  std::vector<Advisory> out;
  for (const auto& entry : *pkgs) {
    if (!entry.is_object() || !entry.contains("pkg") || !entry["pkg"].is_object()) continue;
    const auto& pkg = entry["pkg"];
    const auto name = pkg.value("name", std::string());
    auto fixes = pkg.find("secfixes");
    if (name.empty() || fixes == pkg.end() || !fixes->is_object()) continue;
    for (const auto& [version, ids] : fixes->items()) {
      if (version == "0" || !ids.is_array()) continue;
      for (const auto& id : ids) {
        if (!id.is_string()) continue;
        Advisory adv;
        adv.id = id.get<std::string>().substr(0, id.get<std::string>().find(' '));
        adv.uri = "https://security.alpinelinux.org/vuln/" + adv.id;
        adv.affected.push_back(OsvAffected{"Alpine:" + branch, name,
                                           {OsvRange{"ECOSYSTEM", {{OsvEvent::Kind::kIntroduced, "0"}, {OsvEvent::Kind::kFixed, version}}}},
                                           {}});
        out.push_back(std::move(adv));
      }
    }
  }
  return out;
}

}  // namespace berth::vuln
