// Content digests (`algorithm:encoded`) as the OCI image spec defines them. Only the
// registered algorithms berth can verify are accepted, so every Digest that exists is
// safe to use in a storage path.
#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "core/result.h"

namespace berth {

enum class DigestAlgorithm { kSha256, kSha512 };

class Digest {
 public:
  // DIGEST_INVALID for anything but sha256:<64 lowercase hex> or sha512:<128 lowercase hex>.
  static Result<Digest> parse(std::string_view text);
  static Digest from_parts(DigestAlgorithm algorithm, std::string hex);

  DigestAlgorithm algorithm() const { return algorithm_; }
  std::string_view algorithm_name() const;
  const std::string& hex() const { return hex_; }
  const std::string& str() const { return text_; }

  auto operator<=>(const Digest& other) const { return text_ <=> other.text_; }
  bool operator==(const Digest& other) const { return text_ == other.text_; }

 private:
  Digest(DigestAlgorithm algorithm, std::string hex);
  DigestAlgorithm algorithm_;
  std::string hex_;
  std::string text_;
};

}  // namespace berth

template <>
struct std::hash<berth::Digest> {
  size_t operator()(const berth::Digest& d) const noexcept { return std::hash<std::string>{}(d.str()); }
};
