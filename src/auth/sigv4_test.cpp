// SigV4 verification against signatures botocore produced (tests/data/sigv4/*.json, written
// by make_fixtures.py) and AWS's published test-suite vectors.
#include "auth/sigv4.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

// Header-only; the berth_auth target does not link nlohmann_json, the header is on the
// system include path.
#include <nlohmann/json.hpp>

#include "crypto/hash.h"
#include "crypto/seal.h"

namespace berth::auth {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMinute = 60 * 1000;

struct Fixture {
  std::string name;
  bool presigned = false;
  std::string access_key_id;
  std::string secret;
  std::string token;
  std::string region;
  std::string service;
  std::string body;
  int64_t signed_at_ms = 0;
  int64_t expires = 0;
  SignedRequest request;
};

fs::path fixture_dir() { return fs::path(__FILE__).parent_path() / ".." / ".." / "tests" / "data" / "sigv4"; }

std::vector<Fixture> load_fixtures() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(fixture_dir())) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Fixture> out;
  for (const auto& file : files) {
    std::ifstream in(file);
    const auto j = nlohmann::json::parse(in);
    Fixture f;
    f.name = j.at("name");
    f.presigned = j.at("form") == "presigned";
    f.access_key_id = j.at("access_key_id");
    f.secret = j.at("secret_access_key");
    f.token = j.at("session_token");
    f.region = j.at("region");
    f.service = j.at("service");
    f.body = j.at("body");
    f.signed_at_ms = j.at("signed_at_ms");
    f.expires = j.value("expires", 0);
    f.request.method = j.at("method");
    f.request.path = j.at("path");
    f.request.query = j.at("query");
    for (const auto& h : j.at("headers")) f.request.headers.emplace_back(h.at(0), h.at(1));
    f.request.payload_sha256_hex = crypto::sha256(f.body).hex();
    EXPECT_EQ(f.request.payload_sha256_hex, j.at("body_sha256").get<std::string>()) << f.name;
    out.push_back(std::move(f));
  }
  return out;
}

const std::vector<Fixture>& fixtures() {
  static const std::vector<Fixture> all = load_fixtures();
  return all;
}

const Fixture& fixture(std::string_view name) {
  for (const auto& f : fixtures()) {
    if (f.name == name) return f;
  }
  throw std::runtime_error("no fixture " + std::string(name));
}

KeySecret secret_of(const Fixture& f) { return KeySecret{f.secret, f.token, 0}; }

SecretLookup lookup_for(const Fixture& f, KeySecret key) {
  return [akid = f.access_key_id, key = std::move(key)](std::string_view id) -> std::optional<KeySecret> {
    if (id == akid) return key;
    return std::nullopt;
  };
}

Result<VerifiedRequest> run(const Fixture& f, const SignedRequest& r, int64_t now_ms) {
  return verify(r, lookup_for(f, secret_of(f)), now_ms, "ecr");
}
Result<VerifiedRequest> run(const Fixture& f, const SignedRequest& r) { return run(f, r, f.signed_at_ms + kMinute); }

// The Signature of a fixture, whichever form it is in.
std::string signature_of(const Fixture& f) {
  const auto& r = f.request;
  if (f.presigned) {
    const auto at = r.query.find("X-Amz-Signature=");
    return r.query.substr(at + 16, 64);
  }
  for (const auto& [k, v] : r.headers) {
    if (k == "authorization") return v.substr(v.find("Signature=") + 10);
  }
  return {};
}

std::vector<std::string> signed_headers_of(const Fixture& f) {
  std::string list = "host";
  if (!f.presigned) {
    for (const auto& [k, v] : f.request.headers) {
      if (k != "authorization") continue;
      const auto b = v.find("SignedHeaders=") + 14;
      list = v.substr(b, v.find(',', b) - b);
    }
  }
  std::vector<std::string> out;
  std::stringstream ss(list);
  for (std::string name; std::getline(ss, name, ';');) out.push_back(name);
  return out;
}

// Asserts the error code, and that the message gives away no secret, token or signature.
void expect_error(const Fixture& f, const Result<VerifiedRequest>& r, ErrorCode code, const std::string& what) {
  ASSERT_FALSE(r) << f.name << ": " << what << " verified";
  EXPECT_EQ(r.error().code, code) << f.name << ": " << what << ": " << r.error().message;
  EXPECT_EQ(r.error().message.find(f.secret), std::string::npos) << f.name << ": " << what;
  EXPECT_EQ(r.error().message.find(signature_of(f)), std::string::npos) << f.name << ": " << what;
  if (!f.token.empty()) {
    EXPECT_EQ(r.error().message.find(f.token), std::string::npos) << f.name << ": " << what;
  }
}

// One byte different: the last letter or digit moves on by one (z->a, 9->0); a value with
// neither gets an 'a' appended.
std::string mutate(std::string s) {
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    char& c = *it;
    if (c >= '0' && c <= '9') return c = c == '9' ? '0' : static_cast<char>(c + 1), s;
    if (c >= 'a' && c <= 'z') return c = c == 'z' ? 'a' : static_cast<char>(c + 1), s;
    if (c >= 'A' && c <= 'Z') return c = c == 'Z' ? 'A' : static_cast<char>(c + 1), s;
  }
  return s + "a";
}

std::string replace(std::string s, std::string_view from, std::string_view to) {
  const auto at = s.find(from);
  if (at == std::string::npos) throw std::runtime_error("no '" + std::string(from) + "' in '" + s + "'");
  return s.replace(at, from.size(), to);
}

std::string* header_value(SignedRequest& r, std::string_view name) {
  for (auto& [k, v] : r.headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

void remove_header(SignedRequest& r, std::string_view name) {
  std::erase_if(r.headers, [&](const auto& h) { return h.first == name; });
}

std::vector<std::string> split_query(const std::string& q) {
  std::vector<std::string> out;
  std::stringstream ss(q);
  for (std::string pair; std::getline(ss, pair, '&');) out.push_back(pair);
  return out;
}

std::string join_query(const std::vector<std::string>& pairs) {
  std::string out;
  for (const auto& p : pairs) out += (out.empty() ? "" : "&") + p;
  return out;
}

// ---------------------------------------------------------------------------------------
// Every botocore signature verifies.

TEST(SigV4Fixtures, AreAllThere) {
  ASSERT_EQ(fixtures().size(), 7u);
  size_t presigned = 0;
  for (const auto& f : fixtures()) presigned += f.presigned;
  EXPECT_EQ(presigned, 2u);
}

TEST(SigV4Fixtures, EachVerifies) {
  for (const auto& f : fixtures()) {
    const auto r = run(f, f.request);
    ASSERT_TRUE(r) << f.name << ": " << r.error().message;
    EXPECT_EQ(r->access_key_id, f.access_key_id) << f.name;
    EXPECT_EQ(r->region, "us-east-1") << f.name;
    EXPECT_EQ(r->service, "ecr") << f.name;
    EXPECT_EQ(r->signed_at_ms, f.signed_at_ms) << f.name;
    EXPECT_EQ(r->presigned, f.presigned) << f.name;
  }
}

// ---------------------------------------------------------------------------------------
// Any one-byte change to what was signed fails.

TEST(SigV4Tamper, BodyByte) {
  for (const auto& f : fixtures()) {
    SignedRequest r = f.request;
    std::string body = f.body.empty() ? "x" : f.body;
    body[body.size() / 2] ^= 0x01;
    r.payload_sha256_hex = crypto::sha256(body).hex();
    // These two signed UNSIGNED-PAYLOAD: their body is deliberately not covered.
    if (f.name == "header_unsigned_payload" || f.name == "presigned_get") {
      EXPECT_TRUE(run(f, r)) << f.name;
    } else {
      expect_error(f, run(f, r), ErrorCode::kInvalidSignature, "body changed");
    }
  }
}

TEST(SigV4Tamper, EachSignedHeaderByte) {
  for (const auto& f : fixtures()) {
    const auto names = signed_headers_of(f);
    ASSERT_FALSE(names.empty()) << f.name;
    for (const auto& name : names) {
      SignedRequest r = f.request;
      std::string* value = header_value(r, name);
      ASSERT_NE(value, nullptr) << f.name << " " << name;
      ErrorCode code = ErrorCode::kInvalidSignature;
      if (name == "x-amz-date") {
        *value = replace(*value, "T120000Z", "T120001Z");  // still a valid time, one second on
      } else if (name == "date") {
        *value = replace(*value, "12:00:00", "12:00:01");
      } else if (name == "x-amz-security-token") {
        *value = mutate(*value);
        code = ErrorCode::kUnrecognizedClient;  // checked against the key before the signature
      } else {
        *value = mutate(*value);
      }
      expect_error(f, run(f, r), code, "signed header " + name + " changed");
    }
  }
}

TEST(SigV4Tamper, PathByte) {
  for (const auto& f : fixtures()) {
    SignedRequest r = f.request;
    r.path = r.path == "/" ? "/a" : mutate(r.path);
    expect_error(f, run(f, r), ErrorCode::kInvalidSignature, "path changed to " + r.path);
  }
}

TEST(SigV4Tamper, QueryByte) {
  for (const auto& f : fixtures()) {
    if (f.request.query.empty()) {
      SignedRequest r = f.request;
      r.query = "a=b";
      expect_error(f, run(f, r), ErrorCode::kInvalidSignature, "query added");
      continue;
    }
    const auto pairs = split_query(f.request.query);
    for (size_t i = 0; i < pairs.size(); ++i) {
      const std::string key = pairs[i].substr(0, pairs[i].find('='));
      // These name the key or the algorithm, or are the signature: other tests cover them.
      if (key == "X-Amz-Signature" || key == "X-Amz-Credential" || key == "X-Amz-Algorithm" ||
          key == "X-Amz-SignedHeaders" || key == "X-Amz-Security-Token") {
        continue;
      }
      auto changed = pairs;
      changed[i] = key == "X-Amz-Date" ? replace(changed[i], "T120000Z", "T120001Z") : mutate(changed[i]);
      SignedRequest r = f.request;
      r.query = join_query(changed);
      expect_error(f, run(f, r), ErrorCode::kInvalidSignature, "query pair " + changed[i]);
    }
    SignedRequest r = f.request;
    r.query += "&extra=1";
    expect_error(f, run(f, r), ErrorCode::kInvalidSignature, "query pair added");
  }
}

TEST(SigV4Tamper, SignatureByte) {
  for (const auto& f : fixtures()) {
    const std::string sig = signature_of(f);
    ASSERT_EQ(sig.size(), 64u) << f.name;
    for (size_t at : {size_t{0}, size_t{31}, size_t{63}}) {
      std::string bad = sig;
      bad[at] = bad[at] == '0' ? '1' : '0';
      SignedRequest r = f.request;
      if (f.presigned) {
        r.query = replace(r.query, sig, bad);
      } else {
        *header_value(r, "authorization") = replace(*header_value(r, "authorization"), sig, bad);
      }
      expect_error(f, run(f, r), ErrorCode::kInvalidSignature, "signature byte " + std::to_string(at));
    }
    for (const std::string& bad : std::vector<std::string>{sig.substr(0, 63), sig + "0", ""}) {
      SignedRequest r = f.request;
      if (f.presigned) {
        r.query = replace(r.query, sig, bad);
        // An empty X-Amz-Signature is a missing one.
        expect_error(f, run(f, r), bad.empty() ? ErrorCode::kIncompleteSignature : ErrorCode::kInvalidSignature,
                     "signature length " + std::to_string(bad.size()));
      } else {
        *header_value(r, "authorization") = replace(*header_value(r, "authorization"), sig, bad);
        expect_error(f, run(f, r), bad.empty() ? ErrorCode::kIncompleteSignature : ErrorCode::kInvalidSignature,
                     "signature length " + std::to_string(bad.size()));
      }
    }
  }
}

TEST(SigV4Tamper, Method) {
  for (const auto& f : fixtures()) {
    SignedRequest r = f.request;
    r.method = r.method == "GET" ? "HEAD" : "PUT";
    expect_error(f, run(f, r), ErrorCode::kInvalidSignature, "method changed");
  }
}

TEST(SigV4Tamper, WrongSecret) {
  for (const auto& f : fixtures()) {
    KeySecret key = secret_of(f);
    key.secret_access_key = mutate(key.secret_access_key);
    expect_error(f, verify(f.request, lookup_for(f, key), f.signed_at_ms, "ecr"), ErrorCode::kInvalidSignature,
                 "wrong secret");
  }
}

// ---------------------------------------------------------------------------------------
// What the canonical form deliberately ignores.

TEST(SigV4Canonical, UnsignedHeadersAndWhitespaceDoNotMatter) {
  for (const auto& f : fixtures()) {
    SignedRequest r = f.request;
    r.headers.emplace_back("x-forwarded-for", "10.0.0.1");
    if (std::string* ua = header_value(r, "user-agent")) *ua = "something else";
    EXPECT_TRUE(run(f, r)) << f.name;
  }
  // Trimall: surrounding whitespace dropped, inner runs collapsed.
  const Fixture& f = fixture("header_get_path_and_query");
  SignedRequest r = f.request;
  *header_value(r, "x-custom") = "a b c";
  EXPECT_TRUE(run(f, r));
  *header_value(r, "x-custom") = "a b  c\t";
  EXPECT_TRUE(run(f, r));
  *header_value(r, "x-custom") = "a bc";
  expect_error(f, run(f, r), ErrorCode::kInvalidSignature, "inner whitespace removed");
}

TEST(SigV4Canonical, PathIsNormalizedThenEncodedAgain) {
  const Fixture& f = fixture("header_get_path_and_query");
  ASSERT_EQ(f.request.path, "/v2//team/./my%20app/../my-app/tags/list");
  SignedRequest r = f.request;
  r.path = "/v2/team/my-app/tags/list";  // the same path once normalized
  EXPECT_TRUE(run(f, r));
  r.path = "/v2/team/my-app/tags/list/";
  expect_error(f, run(f, r), ErrorCode::kInvalidSignature, "trailing slash");
  r.path = "/v2/team/my%2Dapp/tags/list";  // encoded differently on the wire: signed differently
  expect_error(f, run(f, r), ErrorCode::kInvalidSignature, "%2D");
}

TEST(SigV4Canonical, DeclaredPayloadHash) {
  const Fixture& f = fixture("ecr_create_repository");
  SignedRequest r = f.request;
  r.headers.emplace_back("x-amz-content-sha256", f.request.payload_sha256_hex);  // true, not signed
  EXPECT_TRUE(run(f, r));
  *header_value(r, "x-amz-content-sha256") = crypto::sha256("other").hex();
  const auto bad = run(f, r);
  expect_error(f, bad, ErrorCode::kInvalidSignature, "declared hash of another body");
  EXPECT_NE(bad.error().message.find("x-amz-content-sha256"), std::string::npos);
  // UNSIGNED-PAYLOAD only counts when it was what the client signed.
  *header_value(r, "x-amz-content-sha256") = "UNSIGNED-PAYLOAD";
  expect_error(f, run(f, r), ErrorCode::kInvalidSignature, "UNSIGNED-PAYLOAD added");
  const Fixture& u = fixture("header_unsigned_payload");
  r = u.request;
  *header_value(r, "x-amz-content-sha256") = u.request.payload_sha256_hex;
  expect_error(u, run(u, r), ErrorCode::kInvalidSignature, "signed UNSIGNED-PAYLOAD replaced by the hash");
}

// ---------------------------------------------------------------------------------------
// Time.

TEST(SigV4Time, FifteenMinutesOfSkewEitherWay) {
  for (const auto& f : fixtures()) {
    if (f.presigned) continue;
    const int64_t t = f.signed_at_ms;
    EXPECT_TRUE(run(f, f.request, t + 15 * kMinute)) << f.name;
    EXPECT_TRUE(run(f, f.request, t - 15 * kMinute)) << f.name;
    expect_error(f, run(f, f.request, t + 15 * kMinute + 1), ErrorCode::kInvalidSignature, "15 min + 1 ms late");
    expect_error(f, run(f, f.request, t - 15 * kMinute - 1), ErrorCode::kInvalidSignature, "15 min + 1 ms early");
  }
  const Fixture& f = fixture("ecr_create_repository");
  EXPECT_EQ(run(f, f.request, f.signed_at_ms + 20 * kMinute).error().message,
            "Signature expired: 20240501T120000Z is now earlier than 20240501T120500Z (20240501T122000Z - 15 min.)");
  EXPECT_EQ(run(f, f.request, f.signed_at_ms - 20 * kMinute).error().message,
            "Signature not yet current: 20240501T120000Z is still later than 20240501T115500Z (20240501T114000Z + "
            "15 min.)");
}

TEST(SigV4Time, PresignedUrlsExpire) {
  for (const auto& f : fixtures()) {
    if (!f.presigned) continue;
    const int64_t t = f.signed_at_ms;
    const int64_t end = t + f.expires * 1000;
    ASSERT_GT(f.expires, 0) << f.name;
    EXPECT_TRUE(run(f, f.request, end)) << f.name;
    EXPECT_TRUE(run(f, f.request, t - 15 * kMinute)) << f.name;
    expect_error(f, run(f, f.request, end + 1), ErrorCode::kSignatureExpired, "replayed after expiry");
    expect_error(f, run(f, f.request, t + 7 * 24 * 60 * kMinute), ErrorCode::kSignatureExpired, "a week later");
    expect_error(f, run(f, f.request, t - 15 * kMinute - 1), ErrorCode::kInvalidSignature, "not yet valid");
  }
}

// ---------------------------------------------------------------------------------------
// Who signed.

TEST(SigV4Keys, UnknownAccessKey) {
  for (const auto& f : fixtures()) {
    const SecretLookup nobody = [](std::string_view) { return std::optional<KeySecret>(); };
    const auto r = verify(f.request, nobody, f.signed_at_ms, "ecr");
    expect_error(f, r, ErrorCode::kUnrecognizedClient, "unknown key");
    EXPECT_EQ(r.error().message, "The security token included in the request is invalid.");
  }
}

TEST(SigV4Keys, TemporaryCredentials) {
  for (const char* name : {"ecr_describe_images_session_token", "presigned_get_session_token"}) {
    const Fixture& f = fixture(name);
    ASSERT_FALSE(f.token.empty());
    const int64_t now = f.signed_at_ms + kMinute;
    KeySecret key = secret_of(f);
    key.expires_at_ms = now + 1;
    EXPECT_TRUE(verify(f.request, lookup_for(f, key), now, "ecr")) << name;

    key.expires_at_ms = now;
    const auto expired = verify(f.request, lookup_for(f, key), now, "ecr");
    expect_error(f, expired, ErrorCode::kExpiredToken, "expired credentials");
    EXPECT_EQ(expired.error().message, "The security token included in the request is expired");

    key = secret_of(f);
    key.session_token = mutate(key.session_token);
    expect_error(f, verify(f.request, lookup_for(f, key), now, "ecr"), ErrorCode::kUnrecognizedClient,
                 "another token");

    // Long-term keys never come with a token.
    key = secret_of(f);
    key.session_token.clear();
    expect_error(f, verify(f.request, lookup_for(f, key), now, "ecr"), ErrorCode::kUnrecognizedClient,
                 "token sent with long-term keys");

    SignedRequest r = f.request;
    if (f.presigned) {
      auto pairs = split_query(r.query);
      std::erase_if(pairs, [](const std::string& p) { return p.starts_with("X-Amz-Security-Token="); });
      r.query = join_query(pairs);
    } else {
      remove_header(r, "x-amz-security-token");
    }
    expect_error(f, run(f, r, now), ErrorCode::kUnrecognizedClient, "token missing");
  }
}

TEST(SigV4Keys, LongTermKeyExpiry) {
  const Fixture& f = fixture("ecr_create_repository");
  KeySecret key = secret_of(f);
  key.expires_at_ms = f.signed_at_ms;
  expect_error(f, verify(f.request, lookup_for(f, key), f.signed_at_ms + 1, "ecr"), ErrorCode::kExpiredToken,
               "expired key");
}

// ---------------------------------------------------------------------------------------
// Missing and malformed pieces.

TEST(SigV4Malformed, NoAuthentication) {
  for (const auto& f : fixtures()) {
    SignedRequest r = f.request;
    remove_header(r, "authorization");
    if (f.presigned) r.query = "a=b";
    const auto res = run(f, r);
    expect_error(f, res, ErrorCode::kMissingAuthentication, "no auth");
    EXPECT_EQ(res.error().message, "Missing Authentication Token");
  }
}

TEST(SigV4Malformed, AuthorizationHeaderParts) {
  const Fixture& f = fixture("ecr_create_repository");
  const std::string auth = *header_value(const_cast<SignedRequest&>(f.request), "authorization");
  auto with_auth = [&](const std::string& value) {
    SignedRequest r = f.request;
    *header_value(r, "authorization") = value;
    return run(f, r);
  };
  const auto cred_end = auth.find(", ") + 2;
  const auto sh_begin = auth.find("SignedHeaders=");
  const auto sig_begin = auth.find(", Signature=");
  struct Case {
    std::string value;
    std::string says;
  };
  const std::vector<Case> cases{
      {"AWS4-HMAC-SHA256 " + auth.substr(cred_end), "Authorization header requires 'Credential' parameter."},
      {auth.substr(0, sh_begin) + auth.substr(auth.find("Signature=")), "requires 'SignedHeaders' parameter."},
      {auth.substr(0, sig_begin), "Authorization header requires 'Signature' parameter."},
      {"AWS4-HMAC-SHA256", "Authorization header requires 'Credential' parameter. Authorization header requires "
                           "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter."},
      {"Bearer " + signature_of(f), "requires 'Credential' parameter"},
      {"AWS4-HMAC-SHA512 " + auth.substr(17), "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'"},
      {auth + ", Signature=" + std::string(64, '0'), "more than one 'Signature'"},
      {replace(auth, "/aws4_request", "/aws5_request"), "valid terminator: 'aws4_request', not 'aws5_request'"},
      {replace(auth, "/us-east-1/", "/"), "exactly 5 slash-delimited elements"},
      {replace(auth, "/us-east-1/", "/us-east-1/x/"), "exactly 5 slash-delimited elements"},
      {replace(auth, "/20240501/", "/20240502/"),
       "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240502' != "
       "'20240501'"},
      {replace(auth, "/20240501/", "/2024-5-1/"), "valid date"},
      {replace(auth, "/us-east-1/", "//"), "valid region"},
      {replace(auth, "/ecr/", "/s3/"), "Credential should be scoped to correct service: 'ecr'."},
      {replace(auth, "SignedHeaders=content-type;host;", "SignedHeaders=content-type;"),
       "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
      {replace(auth, "SignedHeaders=content-type;", "SignedHeaders=content-type;;"), "';'-separated"},
  };
  for (const auto& c : cases) {
    const auto res = with_auth(c.value);
    ASSERT_FALSE(res) << c.value;
    const ErrorCode want =
        c.says.starts_with("'Host'") ? ErrorCode::kInvalidSignature : ErrorCode::kIncompleteSignature;
    expect_error(f, res, want, c.value);
    EXPECT_NE(res.error().message.find(c.says), std::string::npos) << c.value << " -> " << res.error().message;
  }
  // The service in the scope must be the one the caller expects.
  const auto s3 = verify(f.request, lookup_for(f, secret_of(f)), f.signed_at_ms, "s3");
  expect_error(f, s3, ErrorCode::kIncompleteSignature, "ecr signature used for s3");
  // Two Authorization headers.
  SignedRequest twice = f.request;
  twice.headers.emplace_back("authorization", auth);
  expect_error(f, run(f, twice), ErrorCode::kIncompleteSignature, "two Authorization headers");
}

TEST(SigV4Malformed, Dates) {
  const Fixture& f = fixture("ecr_create_repository");
  SignedRequest r = f.request;
  remove_header(r, "x-amz-date");
  auto res = run(f, r);
  expect_error(f, res, ErrorCode::kIncompleteSignature, "no date");
  EXPECT_NE(res.error().message.find("either a 'X-Amz-Date' or a 'Date' header"), std::string::npos);
  for (const char* bad : {"2024-05-01T12:00:00Z", "20240501T120000", "20241301T120000Z", "20240230T120000Z",
                          "20240501T246000Z", ""}) {
    r = f.request;
    *header_value(r, "x-amz-date") = bad;
    expect_error(f, run(f, r), ErrorCode::kIncompleteSignature, std::string("x-amz-date ") + bad);
  }
  // X-Amz-Date wins over Date.
  r = f.request;
  r.headers.emplace_back("date", "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_TRUE(run(f, r));
}

TEST(SigV4Malformed, PresignedParameters) {
  const Fixture& f = fixture("presigned_get");
  const auto pairs = split_query(f.request.query);
  auto without = [&](std::string_view key) {
    auto p = pairs;
    std::erase_if(p, [&](const std::string& s) { return s.starts_with(std::string(key) + "="); });
    SignedRequest r = f.request;
    r.query = join_query(p);
    return r;
  };
  auto with = [&](std::string_view key, const std::string& value) {
    auto p = pairs;
    for (auto& s : p) {
      if (s.starts_with(std::string(key) + "=")) s = std::string(key) + "=" + value;
    }
    SignedRequest r = f.request;
    r.query = join_query(p);
    return r;
  };
  for (const char* key : {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
                          "X-Amz-SignedHeaders", "X-Amz-Expires"}) {
    const auto res = run(f, without(key));
    expect_error(f, res, ErrorCode::kIncompleteSignature, std::string("without ") + key);
    EXPECT_NE(res.error().message.find(std::string("Missing: ") + key), std::string::npos) << res.error().message;
  }
  expect_error(f, run(f, with("X-Amz-Expires", "604801")), ErrorCode::kIncompleteSignature, "expires > a week");
  expect_error(f, run(f, with("X-Amz-Expires", "-1")), ErrorCode::kIncompleteSignature, "negative expires");
  expect_error(f, run(f, with("X-Amz-Expires", "99999999999999999999")), ErrorCode::kIncompleteSignature,
               "huge expires");
  // A week is allowed by the parser; the signature then no longer matches.
  expect_error(f, run(f, with("X-Amz-Expires", "604800")), ErrorCode::kInvalidSignature, "expires changed");
  expect_error(f, run(f, with("X-Amz-Algorithm", "AWS4-HMAC-SHA1")), ErrorCode::kIncompleteSignature, "algorithm");
  expect_error(f, run(f, with("X-Amz-Date", "2024-05-01")), ErrorCode::kIncompleteSignature, "date");
  expect_error(f, run(f, with("X-Amz-SignedHeaders", "user-agent")), ErrorCode::kInvalidSignature, "host unsigned");

  SignedRequest both = f.request;
  both.headers.emplace_back("authorization", "AWS4-HMAC-SHA256 Credential=x");
  expect_error(f, run(f, both), ErrorCode::kIncompleteSignature, "header and query");

  SignedRequest dup = f.request;
  dup.query += "&X-Amz-Expires=900";
  expect_error(f, run(f, dup), ErrorCode::kIncompleteSignature, "repeated X-Amz-Expires");
}

// ---------------------------------------------------------------------------------------
// AWS's published SigV4 test suite (aws-sig-v4-test-suite, also in aws-c-auth): service
// "service", region us-east-1, 2015-08-30T12:36:00Z, AKIDEXAMPLE.

TEST(SigV4AwsSuite, Vectors) {
  const int64_t at = 1440938160000;  // 20150830T123600Z
  const SecretLookup lookup = [](std::string_view id) -> std::optional<KeySecret> {
    if (id == "AKIDEXAMPLE") return KeySecret{"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", 0};
    return std::nullopt;
  };
  struct Vector {
    const char* name;
    std::string path;
    std::string query;
    const char* signature;
  };
  const std::vector<Vector> vectors{
      {"get-vanilla", "/", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-query-order-key-case", "/", "Param2=value2&Param1=value1",
       "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-utf8", "/\xE1\x88\xB4", "", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
  };
  for (const auto& v : vectors) {
    SignedRequest r;
    r.method = "GET";
    r.path = v.path;
    r.query = v.query;
    r.payload_sha256_hex = crypto::sha256("").hex();
    r.headers = {{"host", "example.amazonaws.com"},
                 {"x-amz-date", "20150830T123600Z"},
                 {"authorization", std::string("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                                               "aws4_request, SignedHeaders=host;x-amz-date, Signature=") +
                                       v.signature}};
    const auto res = verify(r, lookup, at, "service");
    ASSERT_TRUE(res) << v.name << ": " << res.error().message;
    EXPECT_EQ(res->signed_at_ms, at);
  }
  EXPECT_EQ(crypto::hex(sigv4::signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "service")),
            "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75");
}

// ---------------------------------------------------------------------------------------
// Building blocks.

TEST(SigV4Parts, CanonicalUri) {
  EXPECT_EQ(sigv4::canonical_uri(""), "/");
  EXPECT_EQ(sigv4::canonical_uri("/"), "/");
  EXPECT_EQ(sigv4::canonical_uri("//"), "/");
  EXPECT_EQ(sigv4::canonical_uri("/a/"), "/a/");
  EXPECT_EQ(sigv4::canonical_uri("/a//b/./c/../d"), "/a/b/d");
  EXPECT_EQ(sigv4::canonical_uri("/../a"), "/a");
  EXPECT_EQ(sigv4::canonical_uri("/a%20b"), "/a%2520b");
  EXPECT_EQ(sigv4::canonical_uri("/sha256:ab~c+d"), "/sha256%3Aab~c%2Bd");
  EXPECT_EQ(sigv4::canonical_uri("/\xE1\x88\xB4"), "/%E1%88%B4");
}

TEST(SigV4Parts, CanonicalQuery) {
  EXPECT_EQ(sigv4::canonical_query("", false), "");
  EXPECT_EQ(sigv4::canonical_query("b=2&a=1&A=0", false), "A=0&a=1&b=2");
  EXPECT_EQ(sigv4::canonical_query("a=2&a=1", false), "a=1&a=2");
  EXPECT_EQ(sigv4::canonical_query("k=%7e&s=x y&p=a+b&flag&&e=", false), "e=&flag=&k=~&p=a%2Bb&s=x%20y");
  EXPECT_EQ(sigv4::canonical_query("X-Amz-Signature=ab&z=1", true), "z=1");
  EXPECT_EQ(sigv4::canonical_query_as_sent("Z=%7E&b=1&a", false), "Z=%7E&a=&b=1");
  EXPECT_EQ(sigv4::canonical_query_as_sent("X-Amz-Signature=ab&z=1", true), "z=1");
  EXPECT_EQ(sigv4::uri_encode("a/b c~", false), "a%2Fb%20c~");
  EXPECT_EQ(sigv4::uri_decode("%41%zz%4"), "A%zz%4");
}

TEST(SigV4Parts, CanonicalHeaders) {
  const std::vector<std::pair<std::string, std::string>> h{
      {"host", "example.com"}, {"x-a", "  one   two "}, {"x-b", "1"}, {"x-a", "three"}, {"x-c", ""}};
  EXPECT_EQ(sigv4::canonical_headers(h, {"host", "x-a", "x-b", "x-c"}),
            "host:example.com\nx-a:one two,three\nx-b:1\nx-c:\n");
}

TEST(SigV4Parts, Dates) {
  EXPECT_EQ(sigv4::parse_amz_date("20240501T120000Z"), 1714564800000);
  EXPECT_EQ(sigv4::format_amz_date(1714564800999), "20240501T120000Z");
  EXPECT_EQ(sigv4::format_amz_date(0), "19700101T000000Z");
  EXPECT_EQ(sigv4::parse_amz_date("20240229T235959Z"), sigv4::parse_amz_date("20240301T000000Z").value() - 1000);
  EXPECT_FALSE(sigv4::parse_amz_date("20230229T000000Z"));
  EXPECT_EQ(sigv4::parse_http_date("Wed, 01 May 2024 12:00:00 GMT"), 1714564800000);
  EXPECT_EQ(sigv4::parse_http_date("Wed, 01 May 2024 12:00:00 -0000"), 1714564800000);
  EXPECT_EQ(sigv4::parse_http_date("1 May 2024 12:00:00 UTC"), 1714564800000);
  EXPECT_EQ(sigv4::parse_http_date("20240501T120000Z"), 1714564800000);
  EXPECT_FALSE(sigv4::parse_http_date("Wed, 01 May 2024 12:00:00 +0200"));
  EXPECT_FALSE(sigv4::parse_http_date("Wed, 01 Mai 2024 12:00:00 GMT"));
}

TEST(SigV4Parts, Hmac) {
  // RFC 4231 test case 2.
  EXPECT_EQ(crypto::hex(crypto::hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_TRUE(crypto::constant_time_equal("abc", "abc"));
  EXPECT_FALSE(crypto::constant_time_equal("abc", "abd"));
  EXPECT_FALSE(crypto::constant_time_equal("abc", "ab"));
  EXPECT_TRUE(crypto::constant_time_equal("", ""));
}

// ---------------------------------------------------------------------------------------
// Presigning: berth's own URLs are what botocore would have produced.

TEST(SigV4Presign, MatchesBotocore) {
  const Fixture& f = fixture("presigned_get");
  PresignRequest p;
  p.path = f.request.path;
  p.query = f.request.query.substr(0, f.request.query.find("&X-Amz-Algorithm="));
  p.host = "127.0.0.1:5000";
  p.access_key_id = f.access_key_id;
  p.secret_access_key = f.secret;
  p.region = f.region;
  p.service = f.service;
  p.now_ms = f.signed_at_ms;
  p.expires_seconds = f.expires;
  const auto q = presign_query(p);
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(*q, f.request.query);
}

TEST(SigV4Presign, RoundTripsWithSessionToken) {
  const Fixture& f = fixture("presigned_get_session_token");
  PresignRequest p;
  p.path = "/v2/team/app/blobs/sha256:" + std::string(64, 'e');
  p.host = "registry.example.com";
  p.access_key_id = f.access_key_id;
  p.secret_access_key = f.secret;
  p.session_token = f.token;
  p.region = "eu-west-1";
  p.service = "ecr";
  p.now_ms = f.signed_at_ms;
  p.expires_seconds = 60;
  const auto q = presign_query(p);
  ASSERT_TRUE(q) << q.error().message;
  SignedRequest r{"GET", p.path, *q, {{"host", p.host}, {"user-agent", "curl"}}, crypto::sha256("").hex()};
  const auto ok = run(f, r, p.now_ms + 60 * 1000);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->region, "eu-west-1");
  EXPECT_TRUE(ok->presigned);
  expect_error(f, run(f, r, p.now_ms + 60 * 1000 + 1), ErrorCode::kSignatureExpired, "own URL replayed");
  r.headers[0].second = "other.example.com";
  expect_error(f, run(f, r), ErrorCode::kInvalidSignature, "own URL on another host");

  p.expires_seconds = 0;
  EXPECT_FALSE(presign_query(p));
  p.expires_seconds = kMaxPresignExpiresSeconds + 1;
  EXPECT_FALSE(presign_query(p));
}

}  // namespace
}  // namespace berth::auth
