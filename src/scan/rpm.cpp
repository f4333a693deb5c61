#include "scan/rpm.h"

#include <sqlite3.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>

namespace berth::scan {
namespace {

constexpr uint32_t kTagName = 1000, kTagVersion = 1001, kTagRelease = 1002, kTagEpoch = 1003,
                   kTagSourceRpm = 1044;
constexpr uint32_t kTypeInt32 = 4, kTypeString = 6;
// rpm's own sanity limits (header_internal.h: hdrchkTags, hdrchkData).
constexpr uint32_t kMaxIndexEntries = 0x00ffffff;
constexpr uint32_t kMaxDataBytes = 0x0fffffff;
// A hostile database can hold a view or huge table; this many VM steps is far beyond any
// real rpmdb (tens of thousands of rows) and stops a recursive query from running forever.
constexpr int kProgressStepsPerCheck = 10'000;
constexpr int kMaxProgressChecks = 200'000;
constexpr size_t kMaxHeaders = 1'000'000;

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

struct Header {
  std::span<const uint8_t> index;
  std::span<const uint8_t> data;

  // A NUL-terminated string wholly inside the data store, or nullopt.
  std::optional<std::string> string(uint32_t tag) const {
    for (size_t i = 0; i + 16 <= index.size(); i += 16) {
      const uint8_t* e = index.data() + i;
      if (be32(e) != tag || be32(e + 4) != kTypeString) continue;
      const uint32_t offset = be32(e + 8);
      if (offset >= data.size()) return std::nullopt;
      const auto* start = data.data() + offset;
      const auto* nul = static_cast<const uint8_t*>(std::memchr(start, 0, data.size() - offset));
      if (!nul) return std::nullopt;
      return std::string(reinterpret_cast<const char*>(start), static_cast<size_t>(nul - start));
    }
    return std::nullopt;
  }

  std::optional<uint32_t> int32(uint32_t tag) const {
    for (size_t i = 0; i + 16 <= index.size(); i += 16) {
      const uint8_t* e = index.data() + i;
      if (be32(e) != tag || be32(e + 4) != kTypeInt32) continue;
      const uint32_t offset = be32(e + 8);
      if (be32(e + 12) < 1 || offset > data.size() || data.size() - offset < 4) return std::nullopt;
      return be32(data.data() + offset);
    }
    return std::nullopt;
  }
};

// "openssl-3.0.7-27.el9.src.rpm" -> {"openssl", "3.0.7-27.el9"}.
std::pair<std::string, std::string> split_source_rpm(std::string_view srpm) {
  for (std::string_view suffix : {".src.rpm", ".nosrc.rpm"})
    if (srpm.ends_with(suffix)) {
      srpm.remove_suffix(suffix.size());
      break;
    }
  const size_t rel = srpm.rfind('-');
  if (rel == std::string_view::npos || rel == 0) return {};
  const size_t ver = srpm.rfind('-', rel - 1);
  if (ver == std::string_view::npos || ver == 0) return {};
  return {std::string(srpm.substr(0, ver)), std::string(srpm.substr(ver + 1))};
}

std::string sqlite_uri(const std::filesystem::path& file) {
  std::string out = "file:";
  for (unsigned char c : file.string()) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      std::array<char, 4> hex{};
      std::snprintf(hex.data(), hex.size(), "%%%02X", c);
      out += hex.data();
    }
  }
  // immutable: no locks, no -wal/-shm files beside our private copy, even for a WAL database.
  return out + "?immutable=1";
}

}  // namespace

std::optional<vuln::Package> parse_rpm_header(std::span<const uint8_t> blob) {
  if (blob.size() < 8) return std::nullopt;
  const uint32_t il = be32(blob.data());
  const uint32_t dl = be32(blob.data() + 4);
  if (il == 0 || il > kMaxIndexEntries || dl > kMaxDataBytes) return std::nullopt;
  const uint64_t need = 8 + uint64_t{il} * 16 + dl;
  if (need > blob.size()) return std::nullopt;
  Header h{blob.subspan(8, size_t{il} * 16), blob.subspan(8 + size_t{il} * 16, dl)};
  auto name = h.string(kTagName);
  auto version = h.string(kTagVersion);
  auto release = h.string(kTagRelease);
  if (!name || !version || !release || name->empty() || version->empty()) return std::nullopt;
  std::string epoch;
  if (auto e = h.int32(kTagEpoch)) epoch = std::to_string(*e) + ":";
  vuln::Package p{.ecosystem = "rpm", .name = *name, .version = epoch + *version + "-" + *release,
                  .source_name = {}, .source_version = {}};
  if (auto srpm = h.string(kTagSourceRpm)) {
    auto [src_name, src_version] = split_source_rpm(*srpm);
    if (!src_name.empty()) {
      p.source_name = std::move(src_name);
      // A source rpm carries no epoch of its own; its binaries share it.
      p.source_version = epoch + src_version;
    }
  }
  return p;
}

Extracted parse_rpmdb_sqlite(const std::filesystem::path& file) {
  Extracted out;
  try {
    SQLite::Database db(sqlite_uri(file), SQLite::OPEN_READONLY | SQLite::OPEN_URI);
    sqlite3* handle = db.getHandle();
    sqlite3_db_config(handle, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
    sqlite3_db_config(handle, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
    sqlite3_db_config(handle, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, nullptr);
    sqlite3_db_config(handle, SQLITE_DBCONFIG_ENABLE_VIEW, 0, nullptr);
    int checks = 0;
    sqlite3_progress_handler(
        handle, kProgressStepsPerCheck, [](void* c) -> int { return ++*static_cast<int*>(c) > kMaxProgressChecks; },
        &checks);
    SQLite::Statement table(db, "SELECT type FROM sqlite_master WHERE name = 'Packages'");
    if (!table.executeStep() || table.getColumn(0).getString() != "table") {
      out.unreadable = "not an rpm sqlite database (no Packages table)";
      return out;
    }
    SQLite::Statement rows(db, "SELECT blob FROM Packages");
    size_t n = 0;
    while (rows.executeStep()) {
      if (++n > kMaxHeaders) {
        out.unreadable = "rpm database has more than " + std::to_string(kMaxHeaders) + " headers";
        out.packages.clear();
        return out;
      }
      const auto col = rows.getColumn(0);
      if (!col.isBlob()) {
        ++out.skipped;
        continue;
      }
      const auto* bytes = static_cast<const uint8_t*>(col.getBlob());
      auto pkg = parse_rpm_header({bytes, static_cast<size_t>(col.getBytes())});
      if (!pkg) {
        ++out.skipped;
        continue;
      }
      if (pkg->name == "gpg-pubkey") continue;  // imported signing keys, not software
      out.packages.push_back(std::move(*pkg));
    }
  } catch (const SQLite::Exception& e) {
    out.packages.clear();
    out.unreadable = std::string("rpm sqlite database unreadable: ") + e.what();
  }
  return out;
}

}  // namespace berth::scan
