// ECR's layer upload operations: the same upload sessions as /v2/, driven by JSON.
#include "auth/sigv4.h"
#include "crypto/seal.h"
#include "ecr/api.h"
#include "ecr/input.h"

namespace berth::ecr {
namespace {

// What InitiateLayerUpload tells clients to send per part.
constexpr uint64_t kPartSize = 20ULL * 1024 * 1024;
// How long a GetDownloadUrlForLayer URL works (ECR's own are about as long).
constexpr int64_t kDownloadUrlSeconds = 3600;

Result<uint64_t> required_u64(const json& in, const char* key) {
  auto it = in.find(key);
  if (it == in.end() || !it->is_number_integer() || it->get<int64_t>() < 0) {
    return tl::unexpected(invalid(std::string(key) + " must be a non-negative integer"));
  }
  return it->get<uint64_t>();
}

}  // namespace

Result<json> Api::initiate_layer_upload(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto repo, required_string(call.input, "repositoryName"));
  BERTH_TRY_VOID(require_repository(s_, repo));
  BERTH_TRY(auto upload, s_.uploads.start(repo));
  return json{{"uploadId", upload.id}, {"partSize", kPartSize}};
}

Result<json> Api::upload_layer_part(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto repo, required_string(call.input, "repositoryName"));
  BERTH_TRY(auto id, required_string(call.input, "uploadId"));
  BERTH_TRY(auto first, required_u64(call.input, "partFirstByte"));
  BERTH_TRY(auto last, required_u64(call.input, "partLastByte"));
  BERTH_TRY(auto encoded, required_string(call.input, "layerPartBlob"));
  BERTH_TRY_VOID(require_repository(s_, repo));
  auto bytes = crypto::unbase64(encoded);
  if (!bytes) return tl::unexpected(invalid("layerPartBlob is not base64"));
  if (last < first || bytes->size() != last - first + 1) {
    return fail(ErrorCode::kRangeInvalid, "partFirstByte..partLastByte covers " +
                                              std::to_string(last < first ? 0 : last - first + 1) +
                                              " bytes but the part has " + std::to_string(bytes->size()));
  }
  BERTH_TRY(auto append, s_.uploads.append(repo, id, first));
  BERTH_TRY_VOID(append->write(*bytes));
  BERTH_TRY(auto record, append->finish());
  return json{{"registryId", s_.identity.account_id()},
              {"repositoryName", repo},
              {"uploadId", id},
              {"lastByteReceived", record.offset - 1}};
}

Result<json> Api::complete_layer_upload(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto repo, required_string(call.input, "repositoryName"));
  BERTH_TRY(auto id, required_string(call.input, "uploadId"));
  auto digests = call.input.find("layerDigests");
  if (digests == call.input.end() || !digests->is_array() || digests->size() != 1 || !(*digests)[0].is_string()) {
    return tl::unexpected(invalid("layerDigests must hold exactly one digest"));
  }
  auto digest = Digest::parse((*digests)[0].get<std::string>());
  if (!digest) return tl::unexpected(invalid("layerDigests: " + digest.error().message));
  BERTH_TRY_VOID(require_repository(s_, repo));
  BERTH_TRY(auto status, s_.uploads.status(repo, id));
  if (status.offset == 0) return fail(ErrorCode::kBlobUploadInvalid, "the upload " + id + " is empty");
  auto done = s_.uploads.complete(repo, id, *digest);
  if (!done && done.error().code == ErrorCode::kDigestMismatch) {
    return fail(ErrorCode::kBlobUploadInvalid, done.error().message);
  }
  if (!done) return tl::unexpected(done.error());
  return json{{"registryId", s_.identity.account_id()},
              {"repositoryName", repo},
              {"uploadId", id},
              {"layerDigest", digest->str()}};
}

// A presigned URL to berth's own /v2/ blob endpoint, signed with the caller's access key:
// following it is authorized as that caller, and it dies with the key or after an hour.
Result<json> Api::get_download_url_for_layer(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto repo, required_string(call.input, "repositoryName"));
  BERTH_TRY(auto digest_text, required_string(call.input, "layerDigest"));
  auto digest = Digest::parse(digest_text);
  if (!digest) return tl::unexpected(invalid("layerDigest is not a valid digest: " + digest.error().message));
  BERTH_TRY_VOID(require_repository(s_, repo));
  if (auto blob = s_.blobs.stat(repo, *digest); !blob) {
    if (blob.error().code != ErrorCode::kBlobUnknown) return tl::unexpected(blob.error());
    return fail(ErrorCode::kBlobUnknown, "The specified layer " + digest->str() +
                                             " does not exist in the repository with name '" + repo + "'");
  }
  const auto secret = s_.identity.secret(call.caller.access_key_id);
  if (!secret) return fail(ErrorCode::kUnrecognizedClient, "The security token included in the request is invalid.");
  const std::string host = host_of(call.request);
  const std::string path = "/v2/" + repo + "/blobs/" + digest->str();
  BERTH_TRY(auto query, auth::presign_query(auth::PresignRequest{.method = "GET",
                                                                 .path = path,
                                                                 .query = {},
                                                                 .host = host,
                                                                 .access_key_id = call.caller.access_key_id,
                                                                 .secret_access_key = secret->secret_access_key,
                                                                 .session_token = secret->session_token,
                                                                 .region = s_.region,
                                                                 .service = "ecr",
                                                                 .now_ms = s_.clock.now_ms(),
                                                                 .expires_seconds = kDownloadUrlSeconds}));
  return json{{"downloadUrl", "http://" + host + path + "?" + query}, {"layerDigest", digest->str()}};
}

}  // namespace berth::ecr
