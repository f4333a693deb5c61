// A parsed request head. The body is read through Exchange, piece by piece.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::http {

struct Request {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // raw request-target
  std::string path;    // target before '?', not percent-decoded: OCI names and digests never need it
  std::vector<std::pair<std::string, std::string>> query;    // percent-decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::optional<uint64_t> content_length;
  bool chunked = false;
  std::string remote_address;
  std::string request_id;

  std::optional<std::string_view> header(std::string_view lowercase_name) const;
  std::optional<std::string_view> query_param(std::string_view name) const;
  bool has_query_param(std::string_view name) const { return query_param(name).has_value(); }
};

// Splits `target` into path and decoded query; false when the target is malformed
// (bad percent-encoding, not origin-form).
bool parse_target(std::string_view target, Request& out);
std::string percent_decode(std::string_view in, bool& ok);

}  // namespace berth::http
