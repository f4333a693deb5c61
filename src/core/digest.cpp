#include "core/digest.h"

#include <algorithm>

namespace berth {
namespace {

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

Digest::Digest(DigestAlgorithm algorithm, std::string hex)
    : algorithm_(algorithm), hex_(std::move(hex)) {
  text_ = std::string(algorithm_name()) + ":" + hex_;
}

Digest Digest::from_parts(DigestAlgorithm algorithm, std::string hex) { return Digest(algorithm, std::move(hex)); }

std::string_view Digest::algorithm_name() const {
  switch (algorithm_) {
    case DigestAlgorithm::kSha256: return "sha256";
    case DigestAlgorithm::kSha512: return "sha512";
  }
  return "sha256";
}

Result<Digest> Digest::parse(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    return fail(ErrorCode::kDigestInvalid, "digest must have the form algorithm:hex");
  }
  const std::string_view algorithm = text.substr(0, colon);
  const std::string_view hex = text.substr(colon + 1);
  DigestAlgorithm alg;
  size_t want = 0;
  if (algorithm == "sha256") {
    alg = DigestAlgorithm::kSha256;
    want = 64;
  } else if (algorithm == "sha512") {
    alg = DigestAlgorithm::kSha512;
    want = 128;
  } else {
    return fail(ErrorCode::kDigestInvalid, "unsupported digest algorithm (use sha256 or sha512)");
  }
  if (hex.size() != want || !is_lower_hex(hex)) {
    return fail(ErrorCode::kDigestInvalid,
                std::string(algorithm) + " digest must be " + std::to_string(want) + " lowercase hex characters");
  }
  return Digest(alg, std::string(hex));
}

}  // namespace berth
