// What a handler answers. The body is either a string or a BodySource the server streams
// (with sendfile when the source has a file descriptor), so blobs never sit in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace berth::http {

class BodySource {
 public:
  virtual ~BodySource() = default;
  [[nodiscard]] virtual Result<size_t> read(uint64_t offset, std::span<char> out) = 0;
  virtual int native_handle() const { return -1; }  // for sendfile; -1 when none
};

struct Response {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When set, the body is `length` bytes of `source` from `offset` (and `body` is unused).
  std::shared_ptr<BodySource> source;
  uint64_t source_offset = 0;
  uint64_t source_length = 0;
  // HEAD: announce the length of a body that is not sent.
  bool omit_body = false;
  std::optional<uint64_t> head_length;

  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  const std::string* find_header(std::string_view name) const;
};

Response text_response(unsigned status, std::string body, std::string content_type = "text/plain; charset=utf-8");
std::string_view reason_phrase(unsigned status);

}  // namespace berth::http
