// Authenticated encryption of small secrets (access-key secrets, tokens' keys) with
// AES-256-GCM, and the key files they depend on. Blob envelope encryption (capability 6)
// will build on the same primitives.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace berth::crypto {

inline constexpr size_t kKeyBytes = 32;

// Random bytes from the OS CSPRNG.
std::string random_bytes(size_t n);

// nonce || ciphertext || tag. `aad` binds the ciphertext to its context (e.g. the
// access key id), so a sealed secret cannot be moved to another row.
Result<std::string> seal(std::string_view key, std::string_view plaintext, std::string_view aad);
Result<std::string> unseal(std::string_view key, std::string_view sealed, std::string_view aad);

std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
bool constant_time_equal(std::string_view a, std::string_view b);

std::string hex(std::string_view bytes);
std::string base64(std::string_view bytes);
Result<std::string> unbase64(std::string_view text);

// Reads a key file, or creates it (mode 0600, atomically) with fresh random bytes.
Result<std::string> load_or_create_key(const std::string& path);

}  // namespace berth::crypto
