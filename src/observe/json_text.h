// JSON text for documents that may quote a request (a path, a name, a message, a user
// agent): the audit trail, the event log and error bodies all write such text.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace berth::observe {

// Bytes that are not UTF-8 become U+FFFD, where a plain dump() would throw and turn the
// record or the error itself into a failure.
inline std::string json_text(const nlohmann::json& doc) {
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace berth::observe
