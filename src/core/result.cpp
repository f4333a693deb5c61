#include "core/result.h"

namespace berth {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBlobUnknown: return "BlobUnknown";
    case ErrorCode::kBlobUploadUnknown: return "BlobUploadUnknown";
    case ErrorCode::kBlobUploadInvalid: return "BlobUploadInvalid";
    case ErrorCode::kDigestInvalid: return "DigestInvalid";
    case ErrorCode::kManifestUnknown: return "ManifestUnknown";
    case ErrorCode::kManifestInvalid: return "ManifestInvalid";
    case ErrorCode::kManifestBlobUnknown: return "ManifestBlobUnknown";
    case ErrorCode::kManifestTooLarge: return "ManifestTooLarge";
    case ErrorCode::kManifestReferenced: return "ManifestReferenced";
    case ErrorCode::kDigestMismatch: return "DigestMismatch";
    case ErrorCode::kImageAlreadyExists: return "ImageAlreadyExists";
    case ErrorCode::kTagImmutable: return "TagImmutable";
    case ErrorCode::kPolicyNotFound: return "PolicyNotFound";
    case ErrorCode::kRegistryPolicyNotFound: return "RegistryPolicyNotFound";
    case ErrorCode::kLifecyclePolicyNotFound: return "LifecyclePolicyNotFound";
    case ErrorCode::kLifecyclePreviewNotFound: return "LifecyclePreviewNotFound";
    case ErrorCode::kExclusionExists: return "ExclusionExists";
    case ErrorCode::kExclusionNotFound: return "ExclusionNotFound";
    case ErrorCode::kLimitExceeded: return "LimitExceeded";
    case ErrorCode::kScanNotFound: return "ScanNotFound";
    case ErrorCode::kUnsupportedImageType: return "UnsupportedImageType";
    case ErrorCode::kNameUnknown: return "NameUnknown";
    case ErrorCode::kNameInvalid: return "NameInvalid";
    case ErrorCode::kTagInvalid: return "TagInvalid";
    case ErrorCode::kRepositoryExists: return "RepositoryExists";
    case ErrorCode::kRepositoryNotEmpty: return "RepositoryNotEmpty";
    case ErrorCode::kSizeInvalid: return "SizeInvalid";
    case ErrorCode::kRangeInvalid: return "RangeInvalid";
    case ErrorCode::kPayloadTooLarge: return "PayloadTooLarge";
    case ErrorCode::kInvalidParameter: return "InvalidParameter";
    case ErrorCode::kSerialization: return "Serialization";
    case ErrorCode::kUnauthorized: return "Unauthorized";
    case ErrorCode::kDenied: return "Denied";
    case ErrorCode::kMissingAuthentication: return "MissingAuthentication";
    case ErrorCode::kIncompleteSignature: return "IncompleteSignature";
    case ErrorCode::kInvalidSignature: return "InvalidSignature";
    case ErrorCode::kSignatureExpired: return "SignatureExpired";
    case ErrorCode::kUnrecognizedClient: return "UnrecognizedClient";
    case ErrorCode::kExpiredToken: return "ExpiredToken";
    case ErrorCode::kMalformedPolicy: return "MalformedPolicy";
    case ErrorCode::kNotFound: return "NotFound";
    case ErrorCode::kUnsupported: return "Unsupported";
    case ErrorCode::kTooManyRequests: return "TooManyRequests";
    case ErrorCode::kUnavailable: return "Unavailable";
    case ErrorCode::kInternal: return "Internal";
  }
  return "Unknown";
}

}  // namespace berth
