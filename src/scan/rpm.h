#pragma once

// rpm package databases. Only the sqlite rpmdb (Fedora 33+, RHEL 9+: rpmdb.sqlite, table
// Packages(hnum, blob)) is read; BerkeleyDB and NDB databases are recognised and reported
// as unreadable rather than silently ignored.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>

#include "scan/extract.h"

namespace berth::scan {

// One rpm header blob as stored in the database (no lead, no 8-byte header magic):
// be32 index count, be32 data length, index entries {tag, type, offset, count}, data.
// nullopt when the blob is malformed or names no package; every offset is bounds-checked.
std::optional<vuln::Package> parse_rpm_header(std::span<const uint8_t> blob);

// Opens a private copy of rpmdb.sqlite read-only and parses every header in Packages.
// A file that is not an rpm sqlite database yields Extracted::unreadable with the reason.
Extracted parse_rpmdb_sqlite(const std::filesystem::path& file);

}  // namespace berth::scan
