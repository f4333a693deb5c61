#include "vuln/matcher.h"

#include <algorithm>
#include <cctype>

#include "vuln/version.h"

namespace berth::vuln {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "3.19.1" -> "3.19"; "12.5" -> "12" is done by the caller per distro.
std::string major_minor(std::string_view v) {
  const auto first = v.find('.');
  if (first == std::string_view::npos) return std::string(v);
  const auto second = v.find('.', first + 1);
  return std::string(v.substr(0, second));
}

// RHEL rebuilds that publish OSV: the ecosystem (lower case) -> the namespace, which is
// also the distribution's os-release ID. Their records are scoped to a major release
// ("AlmaLinux:9", "Rocky Linux:8").
constexpr std::pair<std::string_view, std::string_view> kRpmDistros[] = {
    {"almalinux", "almalinux"},
    {"rocky linux", "rocky"},
};

std::string_view major(std::string_view v) { return v.substr(0, v.find('.')); }

std::string version_ecosystem(std::string_view ns) {
  if (ns.starts_with("debian:") || ns.starts_with("ubuntu:")) return "dpkg";
  if (ns.starts_with("alpine:")) return "apk";
  for (const auto& [ecosystem, name] : kRpmDistros) {
    if (ns.starts_with(name) && ns.size() > name.size() && ns[name.size()] == ':') return "rpm";
  }
  return std::string(ns);  // npm, pypi, go
}

}  // namespace

std::string namespace_of(std::string_view osv_ecosystem) {
  const auto colon = osv_ecosystem.find(':');
  const auto base = lower(osv_ecosystem.substr(0, colon));
  const auto suffix = colon == std::string_view::npos ? std::string_view() : osv_ecosystem.substr(colon + 1);
  if (base == "debian" && !suffix.empty()) return "debian:" + std::string(major(suffix));
  if (base == "alpine" && !suffix.empty()) return "alpine:" + major_minor(suffix.starts_with("v") ? suffix.substr(1) : suffix);
  // "Ubuntu:22.04:LTS", "Ubuntu:23.10". "Ubuntu:Pro:..." fixes ship only to Ubuntu Pro
  // (ESM) subscribers, which an image's os-release does not tell: not matched.
  if (base == "ubuntu" && !suffix.empty() && !suffix.starts_with("Pro:"))
    return "ubuntu:" + std::string(suffix.substr(0, suffix.find(':')));
  if (colon == std::string_view::npos && (base == "npm" || base == "pypi" || base == "go")) return base;
  for (const auto& [ecosystem, name] : kRpmDistros) {
    if (base == ecosystem && !major(suffix).empty()) return std::string(name) + ":" + std::string(major(suffix));
  }
  return "";
}

std::string namespace_of(const Package& pkg, const OsInfo& os) {
  if (pkg.ecosystem == "dpkg" && !os.version_id.empty()) {
    if (os.id == "debian") return "debian:" + std::string(major(os.version_id));
    if (os.id == "ubuntu") return "ubuntu:" + os.version_id;  // "22.04", as the records' releases
    return "";
  }
  if (pkg.ecosystem == "apk") return os.id == "alpine" && !os.version_id.empty() ? "alpine:" + major_minor(os.version_id) : "";
  if (pkg.ecosystem == "npm" || pkg.ecosystem == "pypi" || pkg.ecosystem == "go") return pkg.ecosystem;
  if (pkg.ecosystem == "rpm" && !major(os.version_id).empty()) {
    for (const auto& [ecosystem, name] : kRpmDistros) {
      if (os.id == name) return std::string(name) + ":" + std::string(major(os.version_id));
    }
  }
  return "";
}

std::string index_name(std::string_view ns, std::string_view name) {
  if (ns == "pypi") return normalize_pypi_name(name);
  return std::string(name);
}

void Matcher::add(const Advisory& advisory) {
  if (advisory.withdrawn) return;
  const size_t at = advisories_.size();
  advisories_.push_back(advisory);
  for (size_t k = 0; k < advisory.affected.size(); ++k) {
    const auto ns = namespace_of(advisory.affected[k].ecosystem);
    if (ns.empty()) continue;
    index_[{ns, index_name(ns, advisory.affected[k].name)}].emplace_back(at, k);
  }
}

std::vector<Finding> Matcher::match(const OsInfo& os, const std::vector<Package>& packages) const {
  std::vector<Finding> out;
  for (const auto& pkg : packages) {
    const auto ns = namespace_of(pkg, os);
    if (ns.empty()) continue;
    // The Debian tracker, Ubuntu's OSV and Alpine secdb speak of source packages (apk's
    // origin), so libcrypto3 is matched as openssl; findings still name the installed
    // package. The RHEL rebuilds' OSV should name source rpms too, but AlmaLinux's lists
    // the binary rpms an advisory updates (krb5-libs, not krb5): an rpm is looked up by
    // both names.
    const bool by_source = !pkg.source_name.empty() &&
                           (pkg.ecosystem == "dpkg" || pkg.ecosystem == "apk" || pkg.ecosystem == "rpm");
    const auto order = version_ecosystem(ns);
    std::map<std::string, size_t> seen;  // one finding per advisory id and package
    auto find = [&](const std::string& key_name, const std::string& version) {
      auto it = index_.find({ns, index_name(ns, key_name)});
      if (it == index_.end()) return;
      for (const auto& [ai, fi] : it->second) {
        const auto& adv = advisories_[ai];
        const auto result = evaluate(adv.affected[fi], order, version);
        if (!result.affected) continue;
        if (auto s = seen.find(adv.id); s != seen.end()) {
          auto& fixed = out[s->second].fixed_versions;
          fixed.insert(fixed.end(), result.fixed.begin(), result.fixed.end());
          std::sort(fixed.begin(), fixed.end());
          fixed.erase(std::unique(fixed.begin(), fixed.end()), fixed.end());
          continue;
        }
        seen[adv.id] = out.size();
        out.push_back(Finding{adv.id, adv.severity, adv.summary.empty() ? adv.details : adv.summary, adv.uri, pkg.name,
                              pkg.version, result.fixed, pkg.ecosystem});
      }
    };
    if (!by_source) {
      find(pkg.name, pkg.version);
      continue;
    }
    find(pkg.source_name, pkg.source_version.empty() ? pkg.version : pkg.source_version);
    if (pkg.ecosystem == "rpm" && pkg.name != pkg.source_name) find(pkg.name, pkg.version);
  }
  return out;
}

}  // namespace berth::vuln
