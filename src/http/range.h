// The single-range subset of RFC 9110 `Range: bytes=...` that registry clients send.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace berth::http {

struct ByteRange {
  uint64_t first = 0;
  uint64_t length = 0;
};

enum class RangeParse { kNone, kSatisfiable, kUnsatisfiable, kIgnored };

// kNone: no header. kIgnored: a form we don't serve (multiple ranges, other units,
// syntax errors): RFC 9110 lets a server answer 200 with the whole body.
// kUnsatisfiable: 416. kSatisfiable: `out` holds the clamped range.
RangeParse parse_range(std::optional<std::string_view> header, uint64_t size, ByteRange& out);

}  // namespace berth::http
