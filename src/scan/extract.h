#pragma once

// Pure parsers for the package databases and manifests found in image layers. No I/O:
// each takes the file's bytes (already size-capped by the layer reader) and returns what
// it could parse; malformed records are skipped and counted, never fatal, except in a
// dpkg status file, whose format dpkg itself enforces.

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "vuln/package.h"

namespace berth::scan {

struct Extracted {
  std::vector<vuln::Package> packages;
  int skipped = 0;  // malformed records left out
  std::string unreadable;  // non-empty: the whole source could not be read, and why
};

// Which extractor (if any) reads a layer path ("usr/lib/..." without leading "./" or "/").
// Go binaries are found by content, not path, so they have no kind here.
enum class SourceKind {
  kNone, kDpkg, kApk, kNpmPackage, kNpmLock, kPython, kOsRelease,
  kRpmSqlite,      // rpmdb.sqlite: spooled to a private temp file and opened with SQLite
  kRpmUnreadable,  // BerkeleyDB Packages / NDB Packages.db: recorded as unreadable
};
SourceKind classify(std::string_view path);

// kInvalidParameter naming the line when the file breaks dpkg's format (a line that is
// neither a field, a continuation nor blank; a stanza without Package). A stanza without
// a Version (e.g. a package purged but still known) is skipped, not an error.
Result<Extracted> parse_dpkg_status(std::string_view text);
Extracted parse_apk_installed(std::string_view text);
Extracted parse_python_metadata(std::string_view text);
Extracted parse_npm_package_json(std::string_view text);
Extracted parse_npm_lock(std::string_view text);
vuln::OsInfo parse_os_release(std::string_view text);

}  // namespace berth::scan
