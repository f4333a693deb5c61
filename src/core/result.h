// Errors are values at every module boundary. Codes are protocol-agnostic: the OCI
// and ECR layers each map them once (oci/errors.cpp, ecr/errors.cpp).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace berth {

// One code per outcome a client can tell apart.
enum class ErrorCode {
  kBlobUnknown,
  kBlobUploadUnknown,
  kBlobUploadInvalid,
  kDigestInvalid,
  kManifestUnknown,
  kManifestInvalid,
  kManifestBlobUnknown,
  kManifestTooLarge,
  kManifestReferenced,  // a child of an index that still exists
  kDigestMismatch,      // well-formed, but not the digest of the content
  kImageAlreadyExists,  // the tag already names this very manifest
  kTagImmutable,        // the repository forbids moving this tag
  kPolicyNotFound,      // no repository policy where one was asked for
  kRegistryPolicyNotFound,
  kLifecyclePolicyNotFound,
  kLifecyclePreviewNotFound,  // no StartLifecyclePolicyPreview before GetLifecyclePolicyPreview
  kExclusionExists,           // a pull-time update exclusion registered twice
  kExclusionNotFound,
  kLimitExceeded,             // a per-registry quota (exclusions, scans per day)
  kScanNotFound,              // an image that was never scanned
  kUnsupportedImageType,      // an index or artifact asked to be scanned
  kNameUnknown,
  kNameInvalid,
  kTagInvalid,
  kRepositoryExists,
  kRepositoryNotEmpty,
  kSizeInvalid,
  kRangeInvalid,
  kPayloadTooLarge,
  kInvalidParameter,
  kSerialization,  // a request body that is not the protocol's document at all (not a JSON object)
  kUnauthorized,
  kDenied,
  // Who is calling (SigV4 and tokens); AWS names them apart, so berth does too.
  kMissingAuthentication,
  kIncompleteSignature,
  kInvalidSignature,
  kSignatureExpired,
  kUnrecognizedClient,
  kExpiredToken,
  kMalformedPolicy,
  kNotFound,  // an entity (access key, setting) that is not there
  kUnsupported,
  kTooManyRequests,
  kUnavailable,
  kInternal,
};

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;  // safe to show a client: never a secret, never a host path
};

template <class T = void>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace berth

#define BERTH_CONCAT_INNER(a, b) a##b
#define BERTH_CONCAT(a, b) BERTH_CONCAT_INNER(a, b)

// BERTH_TRY(auto x, expr);  returns expr's error early, else binds its value.
#define BERTH_TRY(decl, expr) BERTH_TRY_IMPL(BERTH_CONCAT(berth_try_, __LINE__), decl, expr)
#define BERTH_TRY_IMPL(tmp, decl, expr)                            \
  auto tmp = (expr);                                               \
  if (!tmp) return ::tl::unexpected<::berth::Error>(std::move(tmp).error()); \
  decl = std::move(*tmp)

// BERTH_TRY_VOID(expr);  for Result<void>.
#define BERTH_TRY_VOID(expr)                                                 \
  do {                                                                       \
    auto berth_try_void_ = (expr);                                           \
    if (!berth_try_void_) return ::tl::unexpected<::berth::Error>(std::move(berth_try_void_).error()); \
  } while (0)
