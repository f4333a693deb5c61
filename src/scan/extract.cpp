#include "scan/extract.h"

#include <nlohmann/json.hpp>

namespace berth::scan {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Splits RFC 822-style text into stanzas separated by blank lines; continuation lines
// (leading space) are ignored because no field we read is multi-line.
template <class F>
void for_each_stanza(std::string_view text, F&& on_stanza) {
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // Debian policy (5.1) lets parsers take a line of only spaces and tabs as a separator.
    if (trim(line).empty()) {
      if (!fields.empty()) on_stanza(fields);
      fields.clear();
    } else if (line.front() != ' ' && line.front() != '\t') {
      size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        fields.emplace_back(line.substr(0, colon), trim(line.substr(colon + 1)));
      } else {
        fields.emplace_back(line, std::string_view{});  // a broken line: no value
      }
    }
    pos = eol + 1;
  }
  if (!fields.empty()) on_stanza(fields);
}

std::string_view field(const std::vector<std::pair<std::string_view, std::string_view>>& fields,
                       std::string_view name) {
  for (const auto& [k, v] : fields)
    if (k == name) return v;
  return {};
}

vuln::Package package(std::string ecosystem, std::string name, std::string version) {
  return {.ecosystem = std::move(ecosystem), .name = std::move(name), .version = std::move(version),
          .source_name = {}, .source_version = {}};
}

// lockfile v1: nested "dependencies" objects; depth-capped against hostile nesting.
void walk_lock_v1(Extracted& out, const nlohmann::json& deps, int depth) {
  if (depth > 64 || !deps.is_object()) return;
  for (const auto& [name, value] : deps.items()) {
    if (!value.is_object()) continue;
    if (value.contains("version") && value["version"].is_string())
      out.packages.push_back(package("npm", name, value["version"].get<std::string>()));
    else
      ++out.skipped;
    if (value.contains("dependencies")) walk_lock_v1(out, value["dependencies"], depth + 1);
  }
}

}  // namespace

SourceKind classify(std::string_view path) {
  if (path == "var/lib/dpkg/status") return SourceKind::kDpkg;
  if (path.starts_with("var/lib/dpkg/status.d/") && path.find('/', 22) == std::string_view::npos &&
      path.size() > 22 && !ends_with(path, ".md5sums"))
    return SourceKind::kDpkg;
  if (path == "lib/apk/db/installed") return SourceKind::kApk;
  // Fedora 36+ keeps the rpmdb in usr/lib/sysimage/rpm (var/lib/rpm is a symlink to it).
  for (std::string_view dir : {"var/lib/rpm/", "usr/lib/sysimage/rpm/"}) {
    if (!path.starts_with(dir)) continue;
    std::string_view base = path.substr(dir.size());
    if (base == "rpmdb.sqlite") return SourceKind::kRpmSqlite;
    if (base == "Packages" || base == "Packages.db") return SourceKind::kRpmUnreadable;
  }
  if (path == "etc/os-release" || path == "usr/lib/os-release") return SourceKind::kOsRelease;
  if (ends_with(path, "/package-lock.json") || path == "package-lock.json") return SourceKind::kNpmLock;
  if (ends_with(path, "/package.json")) {
    // Only a package's own manifest directly under node_modules/<name>/ or
    // node_modules/@scope/<name>/; nested fixture package.json files are not packages.
    std::string_view dir = path.substr(0, path.size() - 13);
    size_t nm = dir.rfind("node_modules/");
    if (nm == std::string_view::npos) return SourceKind::kNone;
    std::string_view rest = dir.substr(nm + 13);
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return SourceKind::kNpmPackage;
    if (rest.front() == '@' && rest.find('/', slash + 1) == std::string_view::npos)
      return SourceKind::kNpmPackage;
    return SourceKind::kNone;
  }
  if (ends_with(path, ".dist-info/METADATA") || ends_with(path, ".egg-info/PKG-INFO"))
    return SourceKind::kPython;
  return SourceKind::kNone;
}

namespace {

// dpkg's own format rules (deb822): every line is a field "Name: value", a continuation
// (leading space or tab) of the field above, or blank between stanzas; every stanza
// names its Package. dpkg refuses a status file that breaks them, so the scan does too
// rather than report an inventory that may be missing packages.
Result<void> check_dpkg_status(std::string_view text) {
  size_t pos = 0, number = 0, stanza_start = 0;
  bool in_stanza = false, has_package = false;
  auto end_stanza = [&]() -> Result<void> {
    if (in_stanza && !has_package) {
      return fail(ErrorCode::kInvalidParameter,
                  "line " + std::to_string(stanza_start) + ": the stanza has no Package field");
    }
    in_stanza = has_package = false;
    return {};
  };
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++number;
    if (trim(line).empty()) {
      BERTH_TRY_VOID(end_stanza());
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (!in_stanza) {
        return fail(ErrorCode::kInvalidParameter,
                    "line " + std::to_string(number) + ": a continuation line with no field before it");
      }
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || trim(line.substr(0, colon)).empty()) {
      return fail(ErrorCode::kInvalidParameter,
                  "line " + std::to_string(number) + ": not a field (\"Name: value\") nor a continuation line");
    }
    if (!in_stanza) stanza_start = number;
    in_stanza = true;
    if (line.substr(0, colon) == "Package" && !trim(line.substr(colon + 1)).empty()) has_package = true;
  }
  return end_stanza();
}

}  // namespace

Result<Extracted> parse_dpkg_status(std::string_view text) {
  BERTH_TRY_VOID(check_dpkg_status(text));
  Extracted out;
  for_each_stanza(text, [&](const auto& f) {
    std::string_view name = field(f, "Package");
    std::string_view version = field(f, "Version");
    std::string_view status = field(f, "Status");
    if (name.empty() || version.empty()) {
      ++out.skipped;
      return;
    }
    // distroless status.d files carry no Status field: present means installed.
    if (!status.empty() && !ends_with(status, " installed")) return;
    vuln::Package p = package("dpkg", std::string(name), std::string(version));
    std::string_view source = field(f, "Source");
    if (source.empty()) {
      p.source_name = p.name;
      p.source_version = p.version;
    } else {
      size_t paren = source.find('(');
      if (paren != std::string_view::npos) {
        size_t close = source.find(')', paren);
        p.source_name = std::string(trim(source.substr(0, paren)));
        p.source_version = std::string(trim(source.substr(
            paren + 1, close == std::string_view::npos ? std::string_view::npos : close - paren - 1)));
      } else {
        p.source_name = std::string(source);
        p.source_version = p.version;
      }
    }
    out.packages.push_back(std::move(p));
  });
  return out;
}

Extracted parse_apk_installed(std::string_view text) {
  Extracted out;
  std::string name, version, origin;
  auto flush = [&] {
    if (!name.empty() || !version.empty()) {
      if (name.empty() || version.empty()) {
        ++out.skipped;
      } else {
        out.packages.push_back({.ecosystem = "apk", .name = name, .version = version,
                                .source_name = origin.empty() ? name : origin,
                                .source_version = version});
      }
    }
    name.clear();
    version.clear();
    origin.clear();
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    if (line.empty()) {
      flush();
    } else if (line.size() >= 2 && line[1] == ':') {
      std::string_view value = trim(line.substr(2));
      if (line[0] == 'P') name = value;
      else if (line[0] == 'V') version = value;
      else if (line[0] == 'o') origin = value;
    }
    pos = eol + 1;
  }
  flush();
  return out;
}

Extracted parse_python_metadata(std::string_view text) {
  Extracted out;
  // Headers end at the first blank line; the body is the long description.
  size_t end = text.find("\n\n");
  std::string_view headers = text.substr(0, end);
  bool first = true;
  for_each_stanza(headers, [&](const auto& f) {
    if (!first) return;
    first = false;
    std::string_view name = field(f, "Name");
    std::string_view version = field(f, "Version");
    if (name.empty() || version.empty()) {
      ++out.skipped;
      return;
    }
    out.packages.push_back(package("pypi", std::string(name), std::string(version)));
  });
  if (first) ++out.skipped;
  return out;
}

Extracted parse_npm_package_json(std::string_view text) {
  Extracted out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("name") || !j.contains("version") ||
      !j["name"].is_string() || !j["version"].is_string()) {
    ++out.skipped;
    return out;
  }
  out.packages.push_back(package("npm", j["name"].get<std::string>(), j["version"].get<std::string>()));
  return out;
}

Extracted parse_npm_lock(std::string_view text) {
  Extracted out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    ++out.skipped;
    return out;
  }
  if (j.contains("packages") && j["packages"].is_object()) {  // lockfile v2 and v3
    for (const auto& [key, value] : j["packages"].items()) {
      if (key.empty() || !value.is_object()) continue;  // "" is the project itself
      size_t nm = key.rfind("node_modules/");
      if (nm == std::string::npos) continue;
      std::string name = value.contains("name") && value["name"].is_string()
                             ? value["name"].get<std::string>()
                             : key.substr(nm + 13);
      if (!value.contains("version") || !value["version"].is_string()) {
        ++out.skipped;
        continue;
      }
      if (value.value("link", false)) continue;
      out.packages.push_back(package("npm", name, value["version"].get<std::string>()));
    }
    return out;
  }
  if (j.contains("dependencies")) walk_lock_v1(out, j["dependencies"], 0);
  return out;
}

vuln::OsInfo parse_os_release(std::string_view text) {
  vuln::OsInfo os;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = trim(text.substr(pos, eol - pos));
    pos = eol + 1;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || line.starts_with('#')) continue;
    std::string_view key = line.substr(0, eq);
    std::string_view value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    if (key == "ID") os.id = value;
    else if (key == "VERSION_ID") os.version_id = value;
  }
  return os;
}

}  // namespace berth::scan
