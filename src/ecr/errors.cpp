#include "ecr/errors.h"

#include <nlohmann/json.hpp>

#include "observe/json_text.h"

namespace berth::ecr {

WireError to_wire(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNameUnknown: return {400, "RepositoryNotFoundException"};
    case ErrorCode::kRepositoryExists: return {400, "RepositoryAlreadyExistsException"};
    case ErrorCode::kRepositoryNotEmpty: return {400, "RepositoryNotEmptyException"};
    case ErrorCode::kManifestUnknown: return {400, "ImageNotFoundException"};
    case ErrorCode::kManifestReferenced: return {400, "ImageReferencedByManifestListException"};
    case ErrorCode::kBlobUnknown:
    case ErrorCode::kManifestBlobUnknown: return {400, "LayersNotFoundException"};
    case ErrorCode::kDigestMismatch: return {400, "ImageDigestDoesNotMatchException"};
    case ErrorCode::kImageAlreadyExists: return {400, "ImageAlreadyExistsException"};
    case ErrorCode::kTagImmutable: return {400, "ImageTagAlreadyExistsException"};
    case ErrorCode::kPolicyNotFound: return {400, "RepositoryPolicyNotFoundException"};
    case ErrorCode::kRegistryPolicyNotFound: return {400, "RegistryPolicyNotFoundException"};
    case ErrorCode::kLifecyclePolicyNotFound: return {400, "LifecyclePolicyNotFoundException"};
    case ErrorCode::kLifecyclePreviewNotFound: return {400, "LifecyclePolicyPreviewNotFoundException"};
    case ErrorCode::kExclusionExists: return {400, "ExclusionAlreadyExistsException"};
    case ErrorCode::kExclusionNotFound: return {400, "ExclusionNotFoundException"};
    case ErrorCode::kLimitExceeded: return {400, "LimitExceededException"};
    case ErrorCode::kScanNotFound: return {400, "ScanNotFoundException"};
    case ErrorCode::kUnsupportedImageType: return {400, "UnsupportedImageTypeException"};
    case ErrorCode::kBlobUploadUnknown: return {400, "UploadNotFoundException"};
    case ErrorCode::kBlobUploadInvalid: return {400, "InvalidLayerException"};
    case ErrorCode::kRangeInvalid: return {400, "InvalidLayerPartException"};
    case ErrorCode::kDigestInvalid:
    case ErrorCode::kManifestInvalid:
    case ErrorCode::kManifestTooLarge:
    case ErrorCode::kNameInvalid:
    case ErrorCode::kTagInvalid:
    case ErrorCode::kSizeInvalid:
    case ErrorCode::kPayloadTooLarge:
    case ErrorCode::kMalformedPolicy:
    case ErrorCode::kInvalidParameter: return {400, "InvalidParameterException"};
    case ErrorCode::kNotFound: return {400, "InvalidParameterException"};
    case ErrorCode::kSerialization: return {400, "SerializationException"};  // the AWS JSON protocol's, not ECR's own
    case ErrorCode::kUnsupported: return {400, "UnsupportedOperationException"};
    case ErrorCode::kUnauthorized: return {403, "AccessDeniedException"};
    case ErrorCode::kDenied: return {400, "AccessDeniedException"};
    case ErrorCode::kMissingAuthentication: return {403, "MissingAuthenticationTokenException"};
    case ErrorCode::kIncompleteSignature: return {403, "IncompleteSignatureException"};
    case ErrorCode::kInvalidSignature: return {403, "InvalidSignatureException"};
    case ErrorCode::kSignatureExpired: return {403, "InvalidSignatureException"};
    case ErrorCode::kUnrecognizedClient: return {403, "UnrecognizedClientException"};
    case ErrorCode::kExpiredToken: return {403, "ExpiredTokenException"};
    case ErrorCode::kTooManyRequests: return {400, "ThrottlingException"};
    case ErrorCode::kUnavailable: return {503, "ServiceUnavailableException"};
    case ErrorCode::kInternal: return {500, "ServerException"};
  }
  return {500, "ServerException"};
}

http::Response json_response(std::string body) {
  http::Response r;
  r.status = 200;
  r.body = std::move(body);
  r.header("Content-Type", "application/x-amz-json-1.1");
  return r;
}

http::Response error_response(unsigned status, std::string_view type, std::string_view message) {
  std::string type_text(type);
  nlohmann::json body = nlohmann::json::object();
  body["__type"] = type_text;
  body["message"] = std::string(message);
  http::Response r = json_response(observe::json_text(body));  // messages may quote the request
  r.status = status;
  r.headers.emplace_back("x-amzn-ErrorType", std::move(type_text));
  return r;
}

http::Response error_response(const Error& error) {
  const auto wire = to_wire(error.code);
  return error_response(wire.status, wire.type, error.message);
}

}  // namespace berth::ecr
