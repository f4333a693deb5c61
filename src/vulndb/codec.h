// The normalised form advisories are stored in: one JSON document per vuln::Advisory that
// keeps exactly what the matcher uses, serialised deterministically (sorted keys), so equal
// advisories give equal bytes and equal content hashes however they were imported.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "vuln/osv.h"

namespace berth::vulndb {

std::string encode_advisory(const vuln::Advisory& advisory);
// kInvalidParameter when the document is not one encode_advisory wrote.
Result<vuln::Advisory> decode_advisory(std::string_view document);
// "sha256:<hex>" of the document.
std::string content_hash(std::string_view document);
// The ecosystem families the advisory affects ("Debian:12" counts as "Debian"), sorted
// and comma-separated; "" when it names none.
std::string ecosystem_families(const vuln::Advisory& advisory);

}  // namespace berth::vulndb
