#pragma once

// The distributions' own formats, turned into OSV-shaped advisories so one matcher serves
// all. What each gives: the Debian tracker lists (DSA-list, CVE-list) give per-release fixed
// source versions, <unfixed>/<no-dsa>/<postponed>/<not-affected> states and a short
// description, but no CVSS and no severity (severity stays UNDEFINED). Alpine secdb gives
// only "fixed in version X on branch B" per CVE: no description, no severity, no ranges.

#include <string_view>
#include <vector>

#include "core/result.h"
#include "vuln/osv.h"

namespace berth::vuln {

// Debian security-tracker list text (DSA-list, DLA-list or CVE-list). One advisory per
// entry; each affected entry has ecosystem "Debian:<major>" and the SOURCE package name.
// Entries for releases berth cannot number (e.g. sid) are dropped; a CVE-list "- pkg ver"
// line (unstable) applies to every known release without its own line, as the tracker does.
Result<std::vector<Advisory>> parse_debian_list(std::string_view text);

// Merges parsed DSA/DLA lists into parsed CVE lists, per release: a CVE whose release
// status was only inherited from unstable takes the fixed version of the DSA naming it; DSAs
// whose CVEs the CVE list does not know are kept under their own id. One finding per CVE.
std::vector<Advisory> merge_debian(std::vector<Advisory> advisories, std::vector<Advisory> cves);

// Alpine secdb JSON (secdb.alpinelinux.org layout): one advisory per CVE and package with
// ecosystem "Alpine:vX.Y" and a fixed event; secfixes under "0" (never affected) are dropped.
Result<std::vector<Advisory>> parse_alpine_secdb_json(std::string_view text);

}  // namespace berth::vuln
