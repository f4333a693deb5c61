// AWS Signature Version 4: verifying who signed a request, in both forms AWS accepts
// (the Authorization header and the presigned query string), and presigning URLs that
// berth hands out itself (GetDownloadUrlForLayer).
//
// Owns: parsing the signature, the canonical request exactly as botocore builds it for
// non-S3 services, the signing-key chain, clock skew, presigned expiry and temporary
// credentials. Does not own: where secrets are stored (SecretLookup), what the caller may
// do (iam/), or reading the body (the caller hashes it as it arrives).
//
// Nothing here logs; error messages never contain a secret, a session token or a
// signature, so callers may show them to clients and write them to logs.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace berth::auth {

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
// How far a header-signed request's time may be from the server's, either way (AWS: 15 min).
inline constexpr int64_t kMaxClockSkewMs = 15 * 60 * 1000;
// The longest X-Amz-Expires AWS accepts for a presigned URL: one week.
inline constexpr int64_t kMaxPresignExpiresSeconds = 604800;

struct SignedRequest {
  std::string method;
  std::string path;   // raw, as sent, before '?' (still percent-encoded)
  std::string query;  // raw query string, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased, as sent
  std::string payload_sha256_hex;  // hex SHA-256 of the body, computed by the caller
};

// A SignedRequest from a request as received; `target` is the raw request target
// (path?query), whose query part is taken as sent.
SignedRequest signed_request(std::string method, std::string path, std::string_view target,
                             std::vector<std::pair<std::string, std::string>> headers,
                             std::string payload_sha256_hex = {});

struct KeySecret {
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
  int64_t expires_at_ms = 0;  // 0 = never
};

// Finds the secret for an access key id; nullopt when the key is unknown (or deleted).
using SecretLookup = std::function<std::optional<KeySecret>(std::string_view access_key_id)>;

struct VerifiedRequest {
  std::string access_key_id;
  std::string region;   // from the credential scope; not checked here
  std::string service;  // equals expected_service
  int64_t signed_at_ms = 0;
  bool presigned = false;  // true for the query-string form
};

// Verifies a request's SigV4 signature. Errors, by AWS exception name:
//   kMissingAuthentication  no Authorization header and no presigned parameters
//   kIncompleteSignature    malformed Authorization / presigned parameters, missing
//                           Credential/SignedHeaders/Signature/date, bad credential scope
//                           (shape, terminator, date, or a service other than expected_service)
//   kUnrecognizedClient     unknown access key; temporary credentials without the right
//                           X-Amz-Security-Token (or a token sent with long-term keys)
//   kExpiredToken           the credentials' expires_at_ms has passed
//   kInvalidSignature       signature mismatch (constant-time compare), a request time more
//                           than 15 minutes from now_ms, host not signed, an
//                           X-Amz-Content-Sha256 that does not match the body
//   kSignatureExpired       a presigned URL used after X-Amz-Date + X-Amz-Expires
[[nodiscard]] Result<VerifiedRequest> verify(const SignedRequest& request, const SecretLookup& lookup,
                                             int64_t now_ms, std::string_view expected_service);

// The access key id a request claims (Credential=AKID/... in the Authorization header or
// X-Amz-Credential in the query), unverified: for the audit trail of refused calls.
std::string claimed_access_key_id(const SignedRequest& request);

// A presigned URL berth issues: the query to append after '?' to `path`. Payload is
// UNSIGNED-PAYLOAD and only `host` is signed, so any HTTP client can follow the URL.
struct PresignRequest {
  std::string method = "GET";
  std::string path;   // raw (percent-encoded) path the client will send
  std::string query;  // raw operation parameters, already encoded; may be empty
  std::string host;   // the Host header the client will send
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
  std::string region;
  std::string service;
  int64_t now_ms = 0;
  int64_t expires_seconds = 0;  // 1..604800
};
[[nodiscard]] Result<std::string> presign_query(const PresignRequest& request);

// The canonicalization steps, exposed for tests and for signing outgoing requests.
namespace sigv4 {

// RFC 3986 percent-encoding: everything but A-Z a-z 0-9 - _ . ~ (and '/' if keep_slash),
// uppercase hex, byte by byte (so UTF-8 is encoded per byte).
std::string uri_encode(std::string_view bytes, bool keep_slash);
// Decodes %XX sequences; anything else (including '+' and a malformed '%') is kept as is.
std::string uri_decode(std::string_view text);

// botocore's canonical URI for non-S3 services: remove dot segments and empty segments from
// the raw path, then percent-encode it once more (keeping '/'), so "/a%20b" signs as
// "/a%2520b" and "" as "/".
std::string canonical_uri(std::string_view raw_path);

// AWS's canonical query: each name and value decoded then encoded, sorted by name then
// value, joined with '&'; "a" becomes "a=". `skip_signature` drops X-Amz-Signature.
std::string canonical_query(std::string_view raw_query, bool skip_signature);
// botocore's, for a query taken from the URL: pairs kept as sent, only sorted.
std::string canonical_query_as_sent(std::string_view raw_query, bool skip_signature);

// Lowercase(name) ":" Trimall(values joined by ',') per signed header, each line ending '\n'.
std::string canonical_headers(const std::vector<std::pair<std::string, std::string>>& headers,
                              const std::vector<std::string>& signed_names);

// kDate = HMAC("AWS4" + secret, yyyymmdd) -> kRegion -> kService -> HMAC(.., "aws4_request").
std::string signing_key(std::string_view secret, std::string_view yyyymmdd, std::string_view region,
                        std::string_view service);

// "YYYYMMDDTHHMMSSZ" <-> milliseconds since the epoch (UTC).
std::optional<int64_t> parse_amz_date(std::string_view text);
std::string format_amz_date(int64_t ms);
// An HTTP Date header (RFC 1123, e.g. "Wed, 01 May 2024 12:00:00 GMT", also the "-0000"
// zone Python's email.utils.formatdate writes), or the ISO 8601 basic form.
std::optional<int64_t> parse_http_date(std::string_view text);

}  // namespace sigv4

}  // namespace berth::auth
