// Which advisory format a file is in, decided per file from its name and first bytes, and
// its advisories. Parsing itself is src/vuln's (parse_osv, parse_debian_list,
// parse_alpine_secdb_json); YAML (Alpine's secdb repository, PyPA's OSV records) is read
// with yaml-cpp and handed to the same parsers as JSON.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vuln/osv.h"

namespace berth::vulndb {

enum class Format { kOsv, kDebianList, kAlpineSecdb };
std::string_view format_name(Format format);  // "osv", "debian", "alpine": the source prefix

struct ParsedFile {
  enum class Status {
    kOk,         // a known format, parsed
    kIgnored,    // not an advisory format berth reads (a README, a checksum file, ...)
    kMalformed,  // looks like a known format but does not parse
  };
  Status status = Status::kIgnored;
  Format format = Format::kOsv;
  std::vector<vuln::Advisory> advisories;
  std::string reason;  // for kIgnored and kMalformed
};

ParsedFile parse_file(std::string_view name, std::string_view text);

}  // namespace berth::vulndb
