#pragma once

#include <string>
#include <string_view>

namespace berth {

// A random RFC 4122 version-4 UUID from the OS CSPRNG: upload ids are capabilities.
std::string new_uuid();
bool is_uuid(std::string_view text);

}  // namespace berth
