// The value matchers the policy language needs: `*`/`?` wildcards (actions, resources,
// StringLike, ArnLike), IP ranges, ISO 8601 / epoch dates and numbers. Pure functions
// over strings; shared by the parser (to reject values that could never match) and the
// evaluator. No std::regex: every matcher runs in O(len(pattern) * len(text)) at worst.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace berth::iam {

enum class Case { kSensitive, kInsensitive };

// Whole-string match; `*` matches any run of characters (also empty), `?` exactly one.
bool wildcard_match(std::string_view pattern, std::string_view text, Case c);

// A Resource element against a resource ARN (case-sensitive). As AWS documents for the
// Resource element: wildcards work inside each colon-separated segment, and a `*` that
// ends a segment (it is followed by `:` or ends the pattern) may also run across colons,
// so "arn:aws:ecr:*" covers every ECR ARN while "arn:aws:ecr:us-*-1:..." stays within
// the region segment.
bool resource_match(std::string_view pattern, std::string_view arn);

// ArnEquals / ArnLike: both ARNs are split into their six colon-separated components
// (the sixth keeps any further colons) and each component is matched on its own with
// wildcards, case-sensitively. Anything with fewer than six components does not match.
bool arn_like(std::string_view pattern, std::string_view arn);

bool iequals(std::string_view a, std::string_view b);

// An IPv4 or IPv6 network. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are stored as
// IPv4 so that a dual-stack socket's view of an IPv4 client matches IPv4 ranges.
struct IpRange {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4
  int prefix = 0;                        // bits
};
// "203.0.113.0/24", "2001:db8::/32", or a bare address (a /32 or /128).
std::optional<IpRange> parse_ip_range(std::string_view text);
bool ip_in_range(const IpRange& address, const IpRange& range);  // address: a parsed bare address

// Milliseconds since the Unix epoch, from ISO 8601 ("2024-05-01", "2024-05-01T12:00Z",
// "2024-05-01T12:00:00.250+02:00"; no zone means UTC) or integer epoch seconds.
std::optional<std::int64_t> parse_time_ms(std::string_view text);

// A finite decimal number ("42", "-1.5", "1e3").
std::optional<double> parse_number(std::string_view text);

}  // namespace berth::iam
