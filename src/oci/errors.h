// The one mapping from berth's error codes to OCI distribution error codes and HTTP
// statuses, and the spec's error body.
#pragma once

#include <string_view>

#include "core/result.h"
#include "http/response.h"

namespace berth::oci {

struct WireError {
  unsigned status;
  std::string_view code;
};

WireError to_wire(ErrorCode code);
// Sent as Retry-After with every 429 (TOOMANYREQUESTS).
inline constexpr unsigned kRetryAfterSeconds = 5;
http::Response error_response(const Error& error);
http::Response error_response(unsigned status, std::string_view code, std::string_view message);

}  // namespace berth::oci
