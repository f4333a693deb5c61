// Small MAC and encoding helpers SigV4 needs. They live in auth/ for now; a later
// refactor may move them to crypto/ beside the digests.
#pragma once

#include <string>
#include <string_view>

namespace berth::auth {

// HMAC-SHA256 of `data` under `key`: 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

// Lowercase hex of raw bytes.
std::string to_hex(std::string_view bytes);

// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// Equal contents, compared in time that depends only on the lengths (CRYPTO_memcmp), so a
// caller comparing a secret-derived value learns nothing from how long a mismatch took.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace berth::auth
