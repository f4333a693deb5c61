#include "oci/errors.h"

#include <nlohmann/json.hpp>

#include "observe/json_text.h"

namespace berth::oci {

WireError to_wire(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBlobUnknown: return {404, "BLOB_UNKNOWN"};
    case ErrorCode::kBlobUploadUnknown: return {404, "BLOB_UPLOAD_UNKNOWN"};
    case ErrorCode::kBlobUploadInvalid: return {400, "BLOB_UPLOAD_INVALID"};
    case ErrorCode::kDigestInvalid: return {400, "DIGEST_INVALID"};
    case ErrorCode::kManifestUnknown: return {404, "MANIFEST_UNKNOWN"};
    case ErrorCode::kManifestInvalid: return {400, "MANIFEST_INVALID"};
    case ErrorCode::kManifestBlobUnknown: return {400, "MANIFEST_BLOB_UNKNOWN"};
    case ErrorCode::kManifestTooLarge: return {413, "MANIFEST_INVALID"};
    case ErrorCode::kManifestReferenced: return {409, "DENIED"};
    case ErrorCode::kDigestMismatch: return {400, "DIGEST_INVALID"};
    case ErrorCode::kImageAlreadyExists: return {400, "MANIFEST_INVALID"};
    case ErrorCode::kTagImmutable: return {400, "TAG_INVALID"};  // what ECR answers docker
    case ErrorCode::kPolicyNotFound:
    case ErrorCode::kRegistryPolicyNotFound:
    case ErrorCode::kLifecyclePolicyNotFound:
    case ErrorCode::kLifecyclePreviewNotFound:
    case ErrorCode::kExclusionExists:
    case ErrorCode::kExclusionNotFound: return {404, "UNSUPPORTED"};
    case ErrorCode::kLimitExceeded: return {429, "TOOMANYREQUESTS"};
    case ErrorCode::kScanNotFound: return {404, "UNSUPPORTED"};
    case ErrorCode::kUnsupportedImageType: return {415, "UNSUPPORTED"};
    case ErrorCode::kNameUnknown: return {404, "NAME_UNKNOWN"};
    case ErrorCode::kNameInvalid: return {400, "NAME_INVALID"};
    case ErrorCode::kTagInvalid: return {400, "MANIFEST_INVALID"};  // the spec has no code for a bad tag
    case ErrorCode::kRepositoryExists: return {409, "DENIED"};
    case ErrorCode::kRepositoryNotEmpty: return {409, "DENIED"};
    case ErrorCode::kSizeInvalid: return {400, "SIZE_INVALID"};
    case ErrorCode::kRangeInvalid: return {416, "BLOB_UPLOAD_INVALID"};
    case ErrorCode::kPayloadTooLarge: return {413, "SIZE_INVALID"};
    case ErrorCode::kInvalidParameter:
    case ErrorCode::kSerialization: return {400, "UNSUPPORTED"};
    case ErrorCode::kUnauthorized: return {401, "UNAUTHORIZED"};
    case ErrorCode::kDenied: return {403, "DENIED"};
    case ErrorCode::kMissingAuthentication:
    case ErrorCode::kIncompleteSignature:
    case ErrorCode::kInvalidSignature:
    case ErrorCode::kSignatureExpired:
    case ErrorCode::kUnrecognizedClient:
    case ErrorCode::kExpiredToken: return {401, "UNAUTHORIZED"};
    case ErrorCode::kMalformedPolicy: return {400, "UNSUPPORTED"};
    case ErrorCode::kNotFound: return {404, "UNSUPPORTED"};
    case ErrorCode::kUnsupported: return {415, "UNSUPPORTED"};
    case ErrorCode::kTooManyRequests: return {429, "TOOMANYREQUESTS"};
    case ErrorCode::kUnavailable: return {503, "UNAVAILABLE"};
    case ErrorCode::kInternal: return {500, "UNKNOWN"};
  }
  return {500, "UNKNOWN"};
}

http::Response error_response(unsigned status, std::string_view code, std::string_view message) {
  // The spec makes detail optional; berth has none to give, and a null is no detail.
  nlohmann::json body = {{"errors", nlohmann::json::array({{{"code", code}, {"message", message}}})}};
  http::Response r;
  r.status = status;
  r.body = observe::json_text(body);  // messages quote the request (its path, a name)
  r.header("Content-Type", "application/json");
  return r;
}

http::Response error_response(const Error& error) {
  const auto wire = to_wire(error.code);
  http::Response r = error_response(wire.status, wire.code, error.message);
  // A limit reached, not a fault: when to come back. The wait is not known (an upload
  // slot frees when some upload ends), so this is a pause long enough not to hammer.
  if (wire.status == 429) r.header("Retry-After", std::to_string(kRetryAfterSeconds));
  return r;
}

}  // namespace berth::oci
