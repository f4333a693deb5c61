#include "vuln/version.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::vuln {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
int sign(int v) { return (v > 0) - (v < 0); }

// Compares two digit runs numerically without overflow: strip zeros, longer wins, then text.
int compare_digits(std::string_view a, std::string_view b) {
  while (!a.empty() && a.front() == '0') a.remove_prefix(1);
  while (!b.empty() && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return sign(a.compare(b));
}

std::string_view take_digits(std::string_view& s) {
  size_t n = 0;
  while (n < s.size() && is_digit(s[n])) ++n;
  auto out = s.substr(0, n);
  s.remove_prefix(n);
  return out;
}

// ---- dpkg ----

int dpkg_order(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  const char c = s[i];
  if (is_digit(c)) return 0;
  if (is_alpha(c)) return c;
  if (c == '~') return -1;
  return c + 256;
}

int dpkg_verrevcmp(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    while ((i < a.size() && !is_digit(a[i])) || (j < b.size() && !is_digit(b[j]))) {
      const int ac = dpkg_order(a, i), bc = dpkg_order(b, j);
      if (ac != bc) return sign(ac - bc);
      ++i;
      ++j;
    }
    auto ra = a.substr(std::min(i, a.size()));
    auto rb = b.substr(std::min(j, b.size()));
    const auto da = take_digits(ra), db = take_digits(rb);
    if (int c = compare_digits(da, db); c != 0) return c;
    i = a.size() - ra.size();
    j = b.size() - rb.size();
  }
  return 0;
}

struct Evr {
  std::string_view epoch, version, release;
};

Evr split_evr(std::string_view v) {
  Evr out;
  if (auto colon = v.find(':'); colon != std::string_view::npos) {
    out.epoch = v.substr(0, colon);
    v.remove_prefix(colon + 1);
  }
  if (auto dash = v.rfind('-'); dash != std::string_view::npos) {
    out.release = v.substr(dash + 1);
    v = v.substr(0, dash);
  }
  out.version = v;
  return out;
}

// ---- rpm ----

int rpmvercmp(std::string_view a, std::string_view b) {
  if (a == b) return 0;
  size_t i = 0, j = 0;
  auto skip = [](std::string_view s, size_t& k) {
    while (k < s.size() && !is_digit(s[k]) && !is_alpha(s[k]) && s[k] != '~' && s[k] != '^') ++k;
  };
  while (i < a.size() || j < b.size()) {
    skip(a, i);
    skip(b, j);
    const char ca = i < a.size() ? a[i] : '\0', cb = j < b.size() ? b[j] : '\0';
    if (ca == '~' || cb == '~') {
      if (ca != '~') return 1;
      if (cb != '~') return -1;
      ++i, ++j;
      continue;
    }
    if (ca == '^' || cb == '^') {
      if (ca == '\0') return -1;
      if (cb == '\0') return 1;
      if (ca != '^') return 1;
      if (cb != '^') return -1;
      ++i, ++j;
      continue;
    }
    if (ca == '\0' || cb == '\0') break;
    const bool numeric = is_digit(ca);
    size_t ei = i, ej = j;
    auto same_class = [numeric](char c) { return numeric ? is_digit(c) : is_alpha(c); };
    while (ei < a.size() && same_class(a[ei])) ++ei;
    while (ej < b.size() && same_class(b[ej])) ++ej;
    if (ej == j) return numeric ? 1 : -1;  // different segment types: numeric is newer
    const auto sa = a.substr(i, ei - i), sb = b.substr(j, ej - j);
    const int c = numeric ? compare_digits(sa, sb) : sign(sa.compare(sb));
    if (c != 0) return c;
    i = ei;
    j = ej;
  }
  const bool ra = i < a.size(), rb = j < b.size();
  if (!ra && !rb) return 0;
  return ra ? 1 : -1;
}

// ---- apk ----

int apk_suffix_rank(std::string_view s) {
  static constexpr std::string_view kPre[] = {"alpha", "beta", "pre", "rc"};
  static constexpr std::string_view kPost[] = {"cvs", "svn", "git", "hg", "p"};
  for (int k = 0; k < 4; ++k)
    if (s == kPre[k]) return k - 4;  // -4..-1: before the plain release
  for (int k = 0; k < 5; ++k)
    if (s == kPost[k]) return k + 1;
  return 0;
}

struct ApkVersion {
  std::vector<std::string_view> numbers;
  char letter = 0;
  std::vector<std::pair<int, std::string_view>> suffixes;  // rank, number
  std::string_view revision;
};

ApkVersion parse_apk(std::string_view v) {
  ApkVersion out;
  if (auto r = v.rfind("-r"); r != std::string_view::npos) {
    out.revision = v.substr(r + 2);
    v = v.substr(0, r);
  }
  out.numbers.push_back(take_digits(v));
  while (!v.empty() && v.front() == '.' && v.size() > 1 && is_digit(v[1])) {
    v.remove_prefix(1);
    out.numbers.push_back(take_digits(v));
  }
  if (!v.empty() && is_alpha(v.front())) {
    out.letter = lower(v.front());
    v.remove_prefix(1);
  }
  while (!v.empty() && v.front() == '_') {
    v.remove_prefix(1);
    size_t n = 0;
    while (n < v.size() && is_alpha(v[n])) ++n;
    const int rank = apk_suffix_rank(v.substr(0, n));
    v.remove_prefix(n);
    out.suffixes.emplace_back(rank, take_digits(v));
  }
  return out;
}

// apk compares later dotted components with a leading zero as decimal fractions.
int apk_component(std::string_view a, std::string_view b, bool first) {
  if (!first && ((a.size() > 1 && a.front() == '0') || (b.size() > 1 && b.front() == '0')))
    return sign(a.compare(b));
  return compare_digits(a, b);
}

// ---- semver ----

struct Semver {
  std::vector<std::string_view> core;
  std::vector<std::string_view> pre;
};

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    auto k = s.find(sep);
    out.push_back(s.substr(0, k));
    if (k == std::string_view::npos) break;
    s.remove_prefix(k + 1);
  }
  return out;
}

Semver parse_semver(std::string_view v) {
  if (!v.empty() && (v.front() == 'v' || v.front() == 'V')) v.remove_prefix(1);
  if (auto plus = v.find('+'); plus != std::string_view::npos) v = v.substr(0, plus);
  Semver out;
  auto dash = v.find('-');
  if (dash != std::string_view::npos) {
    out.pre = split(v.substr(dash + 1), '.');
    v = v.substr(0, dash);
  }
  out.core = split(v, '.');
  while (out.core.size() < 3) out.core.push_back("0");
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

// ---- PEP 440 ----

constexpr int64_t kNone = INT64_MIN;  // absent segment sentinel, adjusted per PEP 440 rules

struct Pep440 {
  int64_t epoch = 0;
  std::vector<int64_t> release;
  int pre_kind = 0;  // 0 none, 1 a, 2 b, 3 rc
  int64_t pre = 0;
  int64_t post = kNone;
  int64_t dev = kNone;
  std::vector<std::string> local;
};

int64_t to_int(std::string_view s) {
  int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');  // versions with > 18 digits are not real
  return v;
}

bool eat(std::string& s, size_t& i, std::string_view word) {
  if (s.compare(i, word.size(), word) == 0) {
    i += word.size();
    return true;
  }
  return false;
}

void eat_sep(const std::string& s, size_t& i) {
  if (i < s.size() && (s[i] == '.' || s[i] == '-' || s[i] == '_')) ++i;
}

int64_t eat_number(const std::string& s, size_t& i) {
  size_t start = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  return to_int(std::string_view(s).substr(start, i - start));
}

Pep440 parse_pep440(std::string_view text) {
  std::string s;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) s.push_back(lower(c));
  Pep440 out;
  size_t i = 0;
  if (i < s.size() && s[i] == 'v') ++i;
  if (auto bang = s.find('!'); bang != std::string::npos) {
    out.epoch = to_int(std::string_view(s).substr(i, bang - i));
    i = bang + 1;
  }
  while (i < s.size() && is_digit(s[i])) {
    out.release.push_back(eat_number(s, i));
    if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) ++i;
    else break;
  }
  while (!out.release.empty() && out.release.back() == 0) out.release.pop_back();
  // pre-release
  size_t save = i;
  eat_sep(s, i);
  static const std::pair<std::string_view, int> kPre[] = {
      {"alpha", 1}, {"beta", 2}, {"preview", 3}, {"pre", 3}, {"rc", 3}, {"a", 1}, {"b", 2}, {"c", 3}};
  bool got_pre = false;
  for (const auto& [word, kind] : kPre) {
    if (eat(s, i, word)) {
      eat_sep(s, i);
      out.pre_kind = kind;
      out.pre = eat_number(s, i);
      got_pre = true;
      break;
    }
  }
  if (!got_pre) i = save;
  // post-release: ".postN", "-N", "revN", "rN"
  save = i;
  if (i < s.size() && s[i] == '-' && i + 1 < s.size() && is_digit(s[i + 1])) {
    ++i;
    out.post = eat_number(s, i);
  } else {
    eat_sep(s, i);
    if (eat(s, i, "post") || eat(s, i, "rev") || eat(s, i, "r")) {
      eat_sep(s, i);
      out.post = eat_number(s, i);
    } else {
      i = save;
    }
  }
  save = i;
  eat_sep(s, i);
  if (eat(s, i, "dev")) {
    eat_sep(s, i);
    out.dev = eat_number(s, i);
  } else {
    i = save;
  }
  if (i < s.size() && s[i] == '+') {
    std::string rest = s.substr(i + 1);
    std::replace(rest.begin(), rest.end(), '-', '.');
    std::replace(rest.begin(), rest.end(), '_', '.');
    for (auto part : split(rest, '.')) out.local.emplace_back(part);
  }
  return out;
}

template <class T>
int cmp(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

}  // namespace

int compare_dpkg(std::string_view a, std::string_view b) {
  const auto ea = split_evr(a), eb = split_evr(b);
  if (int c = compare_digits(ea.epoch, eb.epoch); c != 0) return c;
  if (int c = dpkg_verrevcmp(ea.version, eb.version); c != 0) return c;
  return dpkg_verrevcmp(ea.release, eb.release);
}

int compare_rpm(std::string_view a, std::string_view b) {
  const auto ea = split_evr(a), eb = split_evr(b);
  if (int c = compare_digits(ea.epoch, eb.epoch); c != 0) return c;
  if (int c = rpmvercmp(ea.version, eb.version); c != 0) return c;
  if (ea.release.empty() || eb.release.empty()) return 0;  // a bare version matches any release
  return rpmvercmp(ea.release, eb.release);
}

int compare_apk(std::string_view a, std::string_view b) {
  const auto pa = parse_apk(a), pb = parse_apk(b);
  const size_t n = std::min(pa.numbers.size(), pb.numbers.size());
  for (size_t k = 0; k < n; ++k)
    if (int c = apk_component(pa.numbers[k], pb.numbers[k], k == 0); c != 0) return c;
  if (pa.numbers.size() != pb.numbers.size()) return pa.numbers.size() < pb.numbers.size() ? -1 : 1;
  if (int c = cmp(pa.letter, pb.letter); c != 0) return c;
  const size_t m = std::max(pa.suffixes.size(), pb.suffixes.size());
  for (size_t k = 0; k < m; ++k) {
    // A missing suffix sits between pre-release (negative rank) and post-release suffixes.
    const int ra = k < pa.suffixes.size() ? pa.suffixes[k].first : 0;
    const int rb = k < pb.suffixes.size() ? pb.suffixes[k].first : 0;
    if (ra != rb) return cmp(ra, rb);
    const auto na = k < pa.suffixes.size() ? pa.suffixes[k].second : std::string_view();
    const auto nb = k < pb.suffixes.size() ? pb.suffixes[k].second : std::string_view();
    if (int c = compare_digits(na, nb); c != 0) return c;
  }
  return compare_digits(pa.revision, pb.revision);
}

int compare_semver(std::string_view a, std::string_view b) {
  const auto sa = parse_semver(a), sb = parse_semver(b);
  const size_t n = std::max(sa.core.size(), sb.core.size());
  for (size_t k = 0; k < n; ++k) {
    const auto x = k < sa.core.size() ? sa.core[k] : std::string_view("0");
    const auto y = k < sb.core.size() ? sb.core[k] : std::string_view("0");
    if (int c = compare_digits(x, y); c != 0) return c;
  }
  if (sa.pre.empty() != sb.pre.empty()) return sa.pre.empty() ? 1 : -1;
  const size_t m = std::min(sa.pre.size(), sb.pre.size());
  for (size_t k = 0; k < m; ++k) {
    const auto x = sa.pre[k], y = sb.pre[k];
    const bool nx = all_digits(x), ny = all_digits(y);
    int c = 0;
    if (nx && ny) c = compare_digits(x, y);
    else if (nx != ny) c = nx ? -1 : 1;
    else c = sign(x.compare(y));
    if (c != 0) return c;
  }
  return cmp(sa.pre.size(), sb.pre.size());
}

int compare_pep440(std::string_view a, std::string_view b) {
  const auto pa = parse_pep440(a), pb = parse_pep440(b);
  if (int c = cmp(pa.epoch, pb.epoch); c != 0) return c;
  if (int c = cmp(pa.release, pb.release); c != 0) return c;
  // Sort keys from PEP 440 / packaging: a dev-only release sorts before its pre-releases,
  // a final release after them; no post sorts before any post; no dev after any dev.
  auto pre_key = [](const Pep440& v) -> std::pair<int, int64_t> {
    if (v.pre_kind == 0 && v.post == kNone && v.dev != kNone) return {-1, 0};
    if (v.pre_kind == 0) return {4, 0};
    return {v.pre_kind, v.pre};
  };
  if (int c = cmp(pre_key(pa), pre_key(pb)); c != 0) return c;
  if (int c = cmp(pa.post, pb.post); c != 0) return c;
  auto dev_key = [](const Pep440& v) { return v.dev == kNone ? INT64_MAX : v.dev; };
  if (int c = cmp(dev_key(pa), dev_key(pb)); c != 0) return c;
  // Local segments: numeric beats alphanumeric, numbers compare as numbers, longer wins.
  const size_t n = std::min(pa.local.size(), pb.local.size());
  for (size_t k = 0; k < n; ++k) {
    const auto& x = pa.local[k];
    const auto& y = pb.local[k];
    const bool nx = all_digits(x), ny = all_digits(y);
    int c = 0;
    if (nx && ny) c = compare_digits(x, y);
    else if (nx != ny) c = nx ? 1 : -1;
    else c = sign(x.compare(y));
    if (c != 0) return c;
  }
  return cmp(pa.local.size(), pb.local.size());
}

std::string normalize_pypi_name(std::string_view name) {
  std::string out;
  bool in_sep = false;
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      in_sep = true;
      continue;
    }
    if (in_sep && !out.empty()) out.push_back('-');
    in_sep = false;
    out.push_back(lower(c));
  }
  return out;
}

int compare_versions(std::string_view ecosystem, std::string_view a, std::string_view b) {
  if (ecosystem == "dpkg") return compare_dpkg(a, b);
  if (ecosystem == "apk") return compare_apk(a, b);
  if (ecosystem == "rpm") return compare_rpm(a, b);
  if (ecosystem == "pypi") return compare_pep440(a, b);
  return compare_semver(a, b);
}

}  // namespace berth::vuln
