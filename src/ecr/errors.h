// The one mapping from berth's error codes to ECR's exception names and statuses, and
// the JSON 1.1 error body ({"__type": ..., "message": ...}).
#pragma once

#include <string_view>

#include "core/result.h"
#include "http/response.h"

namespace berth::ecr {

struct WireError {
  unsigned status;
  std::string_view type;
};

WireError to_wire(ErrorCode code);
http::Response error_response(const Error& error);
http::Response error_response(unsigned status, std::string_view type, std::string_view message);
http::Response json_response(std::string body);

}  // namespace berth::ecr
