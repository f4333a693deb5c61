#include "http/range.h"

#include <charconv>

namespace berth::http {
namespace {

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

RangeParse parse_range(std::optional<std::string_view> header, uint64_t size, ByteRange& out) {
  if (!header) return RangeParse::kNone;
  std::string_view h = trim(*header);
  constexpr std::string_view kUnit = "bytes=";
  if (h.substr(0, kUnit.size()) != kUnit) return RangeParse::kIgnored;
  h = trim(h.substr(kUnit.size()));
  if (h.find(',') != std::string_view::npos) return RangeParse::kIgnored;
  const auto dash = h.find('-');
  if (dash == std::string_view::npos) return RangeParse::kIgnored;
  const std::string_view a = trim(h.substr(0, dash));
  const std::string_view b = trim(h.substr(dash + 1));
  uint64_t first = 0;
  uint64_t last = 0;
  if (a.empty()) {  // suffix: the last N bytes
    uint64_t n = 0;
    if (!parse_u64(b, n)) return RangeParse::kIgnored;
    if (n == 0 || size == 0) return RangeParse::kUnsatisfiable;
    if (n > size) n = size;
    out = {size - n, n};
    return RangeParse::kSatisfiable;
  }
  if (!parse_u64(a, first)) return RangeParse::kIgnored;
  if (b.empty()) {
    last = size == 0 ? 0 : size - 1;
  } else {
    if (!parse_u64(b, last) || last < first) return RangeParse::kIgnored;
  }
  if (first >= size) return RangeParse::kUnsatisfiable;
  if (last >= size) last = size - 1;
  out = {first, last - first + 1};
  return RangeParse::kSatisfiable;
}

}  // namespace berth::http
