#include "iam/match.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <vector>

namespace berth::iam {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

enum class Mode { kPlain, kResource };

// A Thompson-style simulation over pattern positions: no backtracking, so a hostile
// pattern such as "*a*a*a*a*b" costs O(len(pattern) * len(text)), never exponential.
// state[i] set means pattern[0, i) can match the text consumed so far.
bool glob(std::string_view p, std::string_view t, Case c, Mode mode) {
  const size_t m = p.size();
  const bool fold = c == Case::kInsensitive;
  // A `*` that ends a segment may cross colons (see resource_match).
  auto star_takes = [&](size_t i, char ch) {
    if (mode == Mode::kPlain || ch != ':') return true;
    return i + 1 == m || p[i + 1] == ':';
  };
  std::vector<char> cur(m + 1, 0), next(m + 1, 0);
  auto close = [&](std::vector<char>& s) {  // a star may match the empty string
    for (size_t i = 0; i < m; ++i) {
      if (s[i] && p[i] == '*') s[i + 1] = 1;
    }
  };
  cur[0] = 1;
  close(cur);
  for (char ch : t) {
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (size_t i = 0; i < m; ++i) {
      if (!cur[i]) continue;
      const char pc = p[i];
      size_t to = m + 1;  // no transition
      if (pc == '*') {
        if (star_takes(i, ch)) to = i;
      } else if (pc == '?') {
        if (mode == Mode::kPlain || ch != ':') to = i + 1;
      } else if (pc == ch || (fold && lower(pc) == lower(ch))) {
        to = i + 1;
      }
      if (to <= m) {
        next[to] = 1;
        any = true;
      }
    }
    if (!any) return false;
    close(next);
    cur.swap(next);
  }
  return cur[m] != 0;
}

bool has_wildcard(std::string_view p) {
  return std::any_of(p.begin(), p.end(), [](char ch) { return ch == '*' || ch == '?'; });
}

// "ecr:Batch*": the common shape, answered without the simulation.
bool is_prefix_pattern(std::string_view p) {
  return p.size() >= 2 && p.back() == '*' && !has_wildcard(p.substr(0, p.size() - 1));
}

bool prefix_equals(std::string_view prefix, std::string_view text, Case c) {
  if (text.size() < prefix.size()) return false;
  text = text.substr(0, prefix.size());
  return c == Case::kSensitive ? prefix == text : iequals(prefix, text);
}

// Splits an ARN into its six components; the last keeps any further colons.
bool split_arn(std::string_view arn, std::array<std::string_view, 6>& parts) {
  size_t start = 0;
  for (int i = 0; i < 5; ++i) {
    const size_t colon = arn.find(':', start);
    if (colon == std::string_view::npos) return false;
    parts[static_cast<size_t>(i)] = arn.substr(start, colon - start);
    start = colon + 1;
  }
  parts[5] = arn.substr(start);
  return true;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
  }
  return true;
}

// Reads exactly `n` digits at `pos`.
bool read_digits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char ch = s[pos + i];
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + (ch - '0');
  }
  pos += n;
  out = v;
  return true;
}

// Howard Hinnant's days_from_civil: days since 1970-01-01 in the proleptic Gregorian calendar.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

std::optional<std::int64_t> parse_iso8601(std::string_view s) {
  size_t pos = 0;
  int year = 0, month = 0, day = 0;
  if (!read_digits(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-' || !read_digits(s, pos, 2, month) ||
      pos >= s.size() || s[pos++] != '-' || !read_digits(s, pos, 2, day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  int hour = 0, minute = 0, second = 0, millis = 0, offset_minutes = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't') return std::nullopt;
    ++pos;
    if (!read_digits(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':' || !read_digits(s, pos, 2, minute)) {
      return std::nullopt;
    }
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!read_digits(s, pos, 2, second)) return std::nullopt;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        size_t digits = 0;
        int scale = 100;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          if (digits < 3) {
            millis += (s[pos] - '0') * scale;
            scale /= 10;
          }
          ++digits;
          ++pos;
        }
        if (digits == 0 || digits > 9) return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    if (pos < s.size()) {
      const char z = s[pos];
      if (z == 'Z' || z == 'z') {
        ++pos;
      } else if (z == '+' || z == '-') {
        ++pos;
        int oh = 0, om = 0;
        if (!read_digits(s, pos, 2, oh)) return std::nullopt;
        if (pos < s.size() && s[pos] == ':') ++pos;
        if (pos < s.size() && !read_digits(s, pos, 2, om)) return std::nullopt;
        if (oh > 23 || om > 59) return std::nullopt;
        offset_minutes = (z == '+' ? 1 : -1) * (oh * 60 + om);
      } else {
        return std::nullopt;
      }
    }
  }
  if (pos != s.size()) return std::nullopt;
  const std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return secs * 1000 + millis;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool wildcard_match(std::string_view pattern, std::string_view text, Case c) {
  if (pattern == "*") return true;
  if (!has_wildcard(pattern)) return c == Case::kSensitive ? pattern == text : iequals(pattern, text);
  if (is_prefix_pattern(pattern)) return prefix_equals(pattern.substr(0, pattern.size() - 1), text, c);
  return glob(pattern, text, c, Mode::kPlain);
}

bool resource_match(std::string_view pattern, std::string_view arn) {
  if (pattern == "*") return true;
  if (!has_wildcard(pattern)) return pattern == arn;
  // A trailing `*` ends its segment, so it may run across colons: a plain prefix test.
  if (is_prefix_pattern(pattern)) return prefix_equals(pattern.substr(0, pattern.size() - 1), arn, Case::kSensitive);
  return glob(pattern, arn, Case::kSensitive, Mode::kResource);
}

bool arn_like(std::string_view pattern, std::string_view arn) {
  if (pattern == "*") return true;
  std::array<std::string_view, 6> pp, ap;
  if (!split_arn(pattern, pp) || !split_arn(arn, ap)) return false;
  for (size_t i = 0; i < 6; ++i) {
    if (!wildcard_match(pp[i], ap[i], Case::kSensitive)) return false;
  }
  return true;
}

std::optional<IpRange> parse_ip_range(std::string_view text) {
  const size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  IpRange r;
  if (address.find(':') != std::string::npos) {
    r.v6 = true;
    if (inet_pton(AF_INET6, address.c_str(), r.bytes.data()) != 1) return std::nullopt;
  } else if (inet_pton(AF_INET, address.c_str(), r.bytes.data()) != 1) {
    return std::nullopt;
  }
  const int max_bits = r.v6 ? 128 : 32;
  r.prefix = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view bits = text.substr(slash + 1);
    if (!all_digits(bits) || bits.size() > 3) return std::nullopt;
    int n = 0;
    std::from_chars(bits.data(), bits.data() + bits.size(), n);
    if (n > max_bits) return std::nullopt;
    r.prefix = n;
  }
  // ::ffff:a.b.c.d is an IPv4 address seen through a dual-stack socket.
  static constexpr std::array<std::uint8_t, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (r.v6 && r.prefix >= 96 && std::equal(kMapped.begin(), kMapped.end(), r.bytes.begin())) {
    std::array<std::uint8_t, 16> v4{};
    std::copy(r.bytes.begin() + 12, r.bytes.end(), v4.begin());
    r.bytes = v4;
    r.v6 = false;
    r.prefix -= 96;
  }
  // Keep only the network bits so that "10.1.2.3/8" means 10.0.0.0/8.
  for (int bit = r.prefix; bit < (r.v6 ? 128 : 32); ++bit) {
    r.bytes[static_cast<size_t>(bit / 8)] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
  return r;
}

bool ip_in_range(const IpRange& address, const IpRange& range) {
  if (address.v6 != range.v6) return false;
  const int full = range.prefix / 8;
  for (int i = 0; i < full; ++i) {
    if (address.bytes[static_cast<size_t>(i)] != range.bytes[static_cast<size_t>(i)]) return false;
  }
  const int rest = range.prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xffu << (8 - rest));
  return (address.bytes[static_cast<size_t>(full)] & mask) == range.bytes[static_cast<size_t>(full)];
}

std::optional<std::int64_t> parse_time_ms(std::string_view text) {
  std::string_view digits = text;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  if (all_digits(digits)) {
    if (digits.size() > 12) return std::nullopt;  // beyond year 33000: a typo, not a date
    std::int64_t secs = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), secs);
    return (negative ? -secs : secs) * 1000;
  }
  return parse_iso8601(text);
}

std::optional<double> parse_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace berth::iam
