#pragma once

// Version ordering per ecosystem, pure and allocation-light. Each compare_* returns <0, 0
// or >0 like strcmp. Inputs that do not follow the ecosystem's grammar still get a total
// order (the ecosystems' own tools are lenient too), never an error.

#include <string>
#include <string_view>

namespace berth::vuln {

// Debian policy 5.6.12: [epoch:]upstream[-revision], '~' sorts before everything.
int compare_dpkg(std::string_view a, std::string_view b);
// rpmvercmp over [epoch:]version[-release], with '~' (pre) and '^' (post) as rpm 4.15+.
int compare_rpm(std::string_view a, std::string_view b);
// apk-tools: digits{.digits}[letter]{_suffix[N]}[-rN]; _alpha<_beta<_pre<_rc<none<_cvs<_svn<_git<_hg<_p.
int compare_apk(std::string_view a, std::string_view b);
// SemVer 2.0.0 precedence; build metadata ignored; a leading 'v' is accepted (Go modules).
int compare_semver(std::string_view a, std::string_view b);
// PEP 440 ordering (epochs, pre/post/dev releases, local versions), after normalisation.
int compare_pep440(std::string_view a, std::string_view b);

// PEP 503: lower case, runs of '-', '_' and '.' become one '-'.
std::string normalize_pypi_name(std::string_view name);

// Dispatch on the Package::ecosystem values ("dpkg","apk","rpm","npm","pypi","go").
// Unknown ecosystems fall back to semver ordering.
int compare_versions(std::string_view ecosystem, std::string_view a, std::string_view b);

}  // namespace berth::vuln
