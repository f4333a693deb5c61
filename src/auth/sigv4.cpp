#include "auth/sigv4.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "crypto/hash.h"
#include "crypto/seal.h"

namespace berth::auth {

namespace {

constexpr std::string_view kInvalidSignatureMessage =
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details.";
constexpr std::string_view kInvalidTokenMessage = "The security token included in the request is invalid.";
constexpr std::string_view kExpiredTokenMessage = "The security token included in the request is expired";
constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kWhitespace = " \t\n\r\v\f";

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(kWhitespace);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(kWhitespace);
  return s.substr(b, e - b + 1);
}

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

// Text that came from the client and goes back into an error message: short, printable.
std::string echo(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 128)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 128) out += "...";
  return out;
}

// The first value of header `name`, if any.
std::optional<std::string_view> header(const SignedRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (iequals(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

size_t header_count(const SignedRequest& r, std::string_view name) {
  return static_cast<size_t>(
      std::count_if(r.headers.begin(), r.headers.end(), [&](const auto& h) { return iequals(h.first, name); }));
}

struct QueryParam {
  std::string name;   // decoded
  std::string value;  // decoded
};

std::vector<QueryParam> parse_query(std::string_view raw) {
  std::vector<QueryParam> out;
  if (raw.empty()) return out;
  size_t pos = 0;
  while (true) {
    const auto amp = raw.find('&', pos);
    const auto pair = raw.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos) {
        out.push_back({sigv4::uri_decode(pair), ""});
      } else {
        out.push_back({sigv4::uri_decode(pair.substr(0, eq)), sigv4::uri_decode(pair.substr(eq + 1))});
      }
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return out;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

int to_int(std::string_view digits) {
  int v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

std::optional<int64_t> to_ms(int64_t y, int mo, int d, int h, int mi, int s) {
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
      static_cast<unsigned>(d) > days_in_month(y, static_cast<unsigned>(mo)) || h > 23 || mi > 59 || s > 59) {
    return std::nullopt;
  }
  const int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return ((days * 24 + h) * 60 + mi) * 60 * 1000 + static_cast<int64_t>(s) * 1000;
}

// Everything the two forms have in common once parsed.
struct Parsed {
  bool presigned = false;
  std::string access_key_id;
  std::string scope_date;  // yyyymmdd
  std::string region;
  std::string service;
  std::string signed_headers;  // as sent: the canonical request's SignedHeaders line
  std::vector<std::string> signed_names;
  std::string signature;
  std::string amz_date;  // ISO 8601 basic: the string to sign's timestamp
  int64_t signed_at_ms = 0;
  int64_t expires_seconds = 0;  // presigned only
  std::optional<std::string> security_token;
  std::vector<std::string> payload_hashes;  // candidates for the canonical request's last line
};

Result<void> parse_credential(std::string_view credential, Parsed& p) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (true) {
    const auto slash = credential.find('/', pos);
    parts.push_back(credential.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  if (parts.size() != 5) {
    return fail(ErrorCode::kIncompleteSignature,
                fmt::format("Credential must have exactly 5 slash-delimited elements, e.g. "
                            "keyid/date/region/service/term, got '{}'",
                            echo(credential)));
  }
  if (parts[0].empty()) {
    return fail(ErrorCode::kIncompleteSignature, "Credential must name an access key id.");
  }
  if (parts[1].size() != 8 || !is_digits(parts[1])) {
    return fail(ErrorCode::kIncompleteSignature,
                fmt::format("Credential should be scoped to a valid date (YYYYMMDD), not '{}'.", echo(parts[1])));
  }
  if (parts[2].empty()) {
    return fail(ErrorCode::kIncompleteSignature, "Credential should be scoped to a valid region.");
  }
  if (parts[4] != kTerminator) {
    return fail(ErrorCode::kIncompleteSignature,
                fmt::format("Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
                            echo(parts[4])));
  }
  p.access_key_id = std::string(parts[0]);
  p.scope_date = std::string(parts[1]);
  p.region = std::string(parts[2]);
  p.service = std::string(parts[3]);
  return {};
}

Result<void> parse_signed_headers(std::string_view text, Parsed& p) {
  p.signed_headers = std::string(text);
  size_t pos = 0;
  while (true) {
    const auto semi = text.find(';', pos);
    const auto name = text.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos);
    if (name.empty()) {
      return fail(ErrorCode::kIncompleteSignature,
                  fmt::format("SignedHeaders must be a ';'-separated list of header names, got '{}'", echo(text)));
    }
    p.signed_names.push_back(lower(name));
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  if (std::find(p.signed_names.begin(), p.signed_names.end(), "host") == p.signed_names.end()) {
    // AWS answers InvalidSignatureException with these words.
    return fail(ErrorCode::kInvalidSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  return {};
}

// The payload line when the client sent X-Amz-Content-Sha256: the header's own value, which
// must be the body's hash or UNSIGNED-PAYLOAD (then the body is deliberately not signed).
Result<std::optional<std::string>> declared_payload_hash(const SignedRequest& r) {
  const auto declared = header(r, "x-amz-content-sha256");
  if (!declared) return std::optional<std::string>();
  const auto value = trim(*declared);
  if (value == kUnsignedPayload) return std::optional<std::string>(std::string(value));
  if (is_hex64(value) && lower(value) == lower(r.payload_sha256_hex)) {
    return std::optional<std::string>(std::string(value));
  }
  return fail(ErrorCode::kInvalidSignature,
              "The provided 'x-amz-content-sha256' header does not match what was computed.");
}

Result<Parsed> parse_authorization_header(const SignedRequest& r, std::string_view value) {
  Parsed p;
  value = trim(value);
  const auto space = value.find_first_of(kWhitespace);
  const auto algorithm = value.substr(0, space);
  const auto rest = space == std::string_view::npos ? std::string_view() : value.substr(space + 1);
  if (algorithm != kAlgorithm && algorithm.starts_with("AWS4-")) {
    return fail(ErrorCode::kIncompleteSignature, fmt::format("Unsupported AWS 'algorithm': '{}'", echo(algorithm)));
  }

  std::optional<std::string_view> credential;
  std::optional<std::string_view> signed_headers;
  std::optional<std::string_view> signature;
  if (algorithm == kAlgorithm) {
    size_t pos = 0;
    while (pos <= rest.size()) {
      const auto comma = rest.find(',', pos);
      const auto item = trim(rest.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
      const auto eq = item.find('=');
      if (eq != std::string_view::npos) {
        const auto key = trim(item.substr(0, eq));
        const auto val = trim(item.substr(eq + 1));
        std::optional<std::string_view>* slot = key == "Credential"      ? &credential
                                                : key == "SignedHeaders" ? &signed_headers
                                                : key == "Signature"     ? &signature
                                                                         : nullptr;
        if (slot != nullptr) {
          if (slot->has_value()) {
            return fail(ErrorCode::kIncompleteSignature,
                        fmt::format("Authorization header has more than one '{}' parameter.", key));
          }
          *slot = val;
        }
      }
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
  }

  const auto amz_date = header(r, "x-amz-date");
  const auto http_date = header(r, "date");
  std::string missing;
  if (!credential || credential->empty()) missing += "Authorization header requires 'Credential' parameter. ";
  if (!signature || signature->empty()) missing += "Authorization header requires 'Signature' parameter. ";
  if (!signed_headers || signed_headers->empty()) {
    missing += "Authorization header requires 'SignedHeaders' parameter. ";
  }
  if (!amz_date && !http_date) {
    missing += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ";
  }
  if (!missing.empty()) {
    missing.pop_back();
    return fail(ErrorCode::kIncompleteSignature, std::move(missing));  // never echoes the header: it holds the signature
  }

  BERTH_TRY_VOID(parse_credential(*credential, p));
  BERTH_TRY_VOID(parse_signed_headers(*signed_headers, p));
  p.signature = std::string(*signature);

  // X-Amz-Date wins over Date when both are present.
  std::optional<int64_t> at;
  if (amz_date) {
    at = sigv4::parse_amz_date(trim(*amz_date));
    if (!at) {
      return fail(ErrorCode::kIncompleteSignature,
                  fmt::format("Date must be in ISO-8601 'basic format'. Got '{}'. See "
                              "http://en.wikipedia.org/wiki/ISO_8601",
                              echo(*amz_date)));
    }
  } else {
    at = sigv4::parse_http_date(trim(*http_date));
    if (!at) {
      return fail(ErrorCode::kIncompleteSignature,
                  fmt::format("Date header must be an RFC 1123 date or ISO-8601 'basic format'. Got '{}'.",
                              echo(*http_date)));
    }
  }
  p.signed_at_ms = *at;
  p.amz_date = sigv4::format_amz_date(*at);

  if (header_count(r, "x-amz-security-token") > 1) {
    return fail(ErrorCode::kIncompleteSignature, "The request has more than one X-Amz-Security-Token header.");
  }
  if (const auto token = header(r, "x-amz-security-token")) p.security_token = std::string(trim(*token));

  BERTH_TRY(auto declared, declared_payload_hash(r));
  p.payload_hashes.push_back(declared ? *declared : r.payload_sha256_hex);
  return p;
}

Result<Parsed> parse_presigned(const SignedRequest& r, const std::vector<QueryParam>& params) {
  static constexpr std::array<std::string_view, 7> kNames{"X-Amz-Algorithm",     "X-Amz-Credential",
                                                          "X-Amz-Signature",     "X-Amz-Date",
                                                          "X-Amz-SignedHeaders", "X-Amz-Expires",
                                                          "X-Amz-Security-Token"};
  std::array<std::optional<std::string_view>, kNames.size()> found;
  for (const auto& q : params) {
    for (size_t i = 0; i < kNames.size(); ++i) {
      if (q.name != kNames[i]) continue;
      if (found[i]) {
        return fail(ErrorCode::kIncompleteSignature, fmt::format("The query string has more than one '{}'.", kNames[i]));
      }
      found[i] = q.value;
    }
  }
  std::string missing;
  for (size_t i = 0; i + 1 < kNames.size(); ++i) {
    if (!found[i] || found[i]->empty()) missing += fmt::format("{}{}", missing.empty() ? "" : ", ", kNames[i]);
  }
  if (!missing.empty()) {
    return fail(ErrorCode::kIncompleteSignature,
                fmt::format("Query-string authentication version 4 requires the X-Amz-Algorithm, "
                            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                            "X-Amz-Expires parameters. Missing: {}.",
                            missing));
  }
  if (*found[0] != kAlgorithm) {
    return fail(ErrorCode::kIncompleteSignature, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
  }

  Parsed p;
  p.presigned = true;
  BERTH_TRY_VOID(parse_credential(*found[1], p));
  p.signature = std::string(*found[2]);
  const auto at = sigv4::parse_amz_date(*found[3]);
  if (!at) {
    return fail(ErrorCode::kIncompleteSignature,
                fmt::format("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", got '{}'.",
                            echo(*found[3])));
  }
  p.signed_at_ms = *at;
  p.amz_date = std::string(*found[3]);
  BERTH_TRY_VOID(parse_signed_headers(*found[4], p));
  const auto expires = *found[5];
  if (!is_digits(expires)) return fail(ErrorCode::kIncompleteSignature, "X-Amz-Expires should be a number");
  if (expires.size() > 7 || to_int(expires) > kMaxPresignExpiresSeconds) {
    return fail(ErrorCode::kIncompleteSignature,
                "X-Amz-Expires must be less than a week (in seconds) that is 604800");
  }
  p.expires_seconds = to_int(expires);

  if (found[6]) {
    p.security_token = std::string(*found[6]);
  } else if (const auto token = header(r, "x-amz-security-token")) {
    p.security_token = std::string(trim(*token));
  }

  BERTH_TRY(auto declared, declared_payload_hash(r));
  if (declared) {
    p.payload_hashes.push_back(*declared);
  } else {
    // AWS documents UNSIGNED-PAYLOAD for query signing (berth's own URLs use it); botocore's
    // plain SigV4QueryAuth signs the body's hash instead (the empty hash for a GET).
    p.payload_hashes.emplace_back(kUnsignedPayload);
    p.payload_hashes.push_back(r.payload_sha256_hex);
  }
  return p;
}

Result<void> check_time(const Parsed& p, int64_t now_ms) {
  if (p.signed_at_ms > now_ms + kMaxClockSkewMs) {
    return fail(ErrorCode::kInvalidSignature,
                fmt::format("Signature not yet current: {} is still later than {} ({} + 15 min.)", p.amz_date,
                            sigv4::format_amz_date(now_ms + kMaxClockSkewMs), sigv4::format_amz_date(now_ms)));
  }
  if (p.presigned) {
    const int64_t end_ms = p.signed_at_ms + p.expires_seconds * 1000;
    if (now_ms > end_ms) {
      return fail(ErrorCode::kSignatureExpired,
                  fmt::format("Request has expired: X-Amz-Date {} + X-Amz-Expires {} s = {} is now earlier than {}.",
                              p.amz_date, p.expires_seconds, sigv4::format_amz_date(end_ms),
                              sigv4::format_amz_date(now_ms)));
    }
  } else if (p.signed_at_ms < now_ms - kMaxClockSkewMs) {
    return fail(ErrorCode::kInvalidSignature,
                fmt::format("Signature expired: {} is now earlier than {} ({} - 15 min.)", p.amz_date,
                            sigv4::format_amz_date(now_ms - kMaxClockSkewMs), sigv4::format_amz_date(now_ms)));
  }
  return {};
}

Result<void> check_scope(const Parsed& p, std::string_view expected_service) {
  if (p.service != expected_service) {
    return fail(ErrorCode::kIncompleteSignature,
                fmt::format("Credential should be scoped to correct service: '{}'.", expected_service));
  }
  if (p.amz_date.compare(0, 8, p.scope_date) != 0) {
    return fail(ErrorCode::kIncompleteSignature,
                fmt::format("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                            "HTTP: '{}' != '{}', from '{}'.",
                            p.scope_date, p.amz_date.substr(0, 8), p.amz_date));
  }
  return {};
}

Result<void> check_credentials(const Parsed& p, const KeySecret& key, int64_t now_ms) {
  if (key.session_token.empty()) {
    // Long-term keys: a token the server did not issue for them is a confused or forged client.
    if (p.security_token && !p.security_token->empty()) {
      return fail(ErrorCode::kUnrecognizedClient, std::string(kInvalidTokenMessage));
    }
  } else if (!p.security_token || !crypto::constant_time_equal(*p.security_token, key.session_token)) {
    return fail(ErrorCode::kUnrecognizedClient, std::string(kInvalidTokenMessage));
  }
  if (key.expires_at_ms != 0 && now_ms >= key.expires_at_ms) {
    return fail(ErrorCode::kExpiredToken, std::string(kExpiredTokenMessage));
  }
  return {};
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope, std::string_view canonical_request) {
  return fmt::format("{}\n{}\n{}\n{}", kAlgorithm, amz_date, scope, crypto::sha256(canonical_request).hex());
}

std::string canonical_request(std::string_view method, std::string_view uri, std::string_view query,
                              std::string_view headers, std::string_view signed_headers, std::string_view payload) {
  return fmt::format("{}\n{}\n{}\n{}\n{}\n{}", method, uri, query, headers, signed_headers, payload);
}

}  // namespace

namespace sigv4 {

std::string uri_encode(std::string_view bytes, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string uri_decode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string canonical_uri(std::string_view raw_path) {
  // botocore.utils.remove_dot_segments: RFC 3986 5.2.4, and empty segments ("//") dropped,
  // as AWS services require.
  if (raw_path.empty()) return "/";
  std::vector<std::string_view> segments;
  size_t pos = 0;
  while (pos <= raw_path.size()) {
    const auto slash = raw_path.find('/', pos);
    const auto seg = raw_path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  std::string normalized = raw_path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) normalized += '/';
    normalized += segments[i];
  }
  if (raw_path.back() == '/' && !segments.empty()) normalized += '/';
  // botocore: quote(path, safe='/~'), i.e. the already-encoded path is encoded again.
  return uri_encode(normalized, /*keep_slash=*/true);
}

std::string canonical_query(std::string_view raw_query, bool skip_signature) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& q : parse_query(raw_query)) {
    if (skip_signature && q.name == "X-Amz-Signature") continue;
    pairs.emplace_back(uri_encode(q.name, false), uri_encode(q.value, false));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [k, v] : pairs) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

std::string canonical_query_as_sent(std::string_view raw_query, bool skip_signature) {
  // botocore's SigV4Auth._canonical_query_string_url: split on '&', partition on '=', sort.
  if (raw_query.empty()) return "";
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  size_t pos = 0;
  while (true) {
    const auto amp = raw_query.find('&', pos);
    const auto pair = raw_query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    const auto eq = pair.find('=');
    const auto key = pair.substr(0, eq);
    const auto value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (!(skip_signature && key == "X-Amz-Signature")) pairs.emplace_back(key, value);
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i > 0) out += '&';
    out += pairs[i].first;
    out += '=';
    out += pairs[i].second;
  }
  return out;
}

std::string canonical_headers(const std::vector<std::pair<std::string, std::string>>& headers,
                              const std::vector<std::string>& signed_names) {
  std::string out;
  for (const auto& name : signed_names) {
    out += name;
    out += ':';
    bool first_value = true;
    for (const auto& [k, v] : headers) {
      if (!iequals(k, name)) continue;
      if (!first_value) out += ',';
      first_value = false;
      // Trimall: drop leading/trailing whitespace, collapse inner runs to one space
      // (botocore: ' '.join(value.split())).
      bool pending_space = false;
      bool any = false;
      for (char c : v) {
        if (kWhitespace.find(c) != std::string_view::npos) {
          pending_space = any;
        } else {
          if (pending_space) out += ' ';
          pending_space = false;
          any = true;
          out += c;
        }
      }
    }
    out += '\n';
  }
  return out;
}

std::string signing_key(std::string_view secret, std::string_view yyyymmdd, std::string_view region,
                        std::string_view service) {
  const std::string k_date = crypto::hmac_sha256("AWS4" + std::string(secret), yyyymmdd);
  const std::string k_region = crypto::hmac_sha256(k_date, region);
  const std::string k_service = crypto::hmac_sha256(k_region, service);
  return crypto::hmac_sha256(k_service, kTerminator);
}

std::optional<int64_t> parse_amz_date(std::string_view t) {
  if (t.size() != 16 || t[8] != 'T' || t[15] != 'Z' || !is_digits(t.substr(0, 8)) || !is_digits(t.substr(9, 6))) {
    return std::nullopt;
  }
  return to_ms(to_int(t.substr(0, 4)), to_int(t.substr(4, 2)), to_int(t.substr(6, 2)), to_int(t.substr(9, 2)),
               to_int(t.substr(11, 2)), to_int(t.substr(13, 2)));
}

std::string format_amz_date(int64_t ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  civil_from_days(days, y, m, d);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", y, m, d, rem / 3600, (rem / 60) % 60, rem % 60);
}

std::optional<int64_t> parse_http_date(std::string_view t) {
  if (auto iso = parse_amz_date(t)) return iso;
  // [Www, ]DD Mon YYYY HH:MM:SS ZONE
  if (const auto comma = t.find(','); comma != std::string_view::npos) t = trim(t.substr(comma + 1));
  std::vector<std::string_view> f;
  size_t pos = 0;
  while (pos < t.size()) {
    const auto b = t.find_first_not_of(' ', pos);
    if (b == std::string_view::npos) break;
    const auto e = t.find(' ', b);
    f.push_back(t.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
    if (e == std::string_view::npos) break;
    pos = e;
  }
  if (f.size() != 5) return std::nullopt;
  static constexpr std::array<std::string_view, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto month = std::find(kMonths.begin(), kMonths.end(), f[1]);
  const auto& time = f[3];
  const bool zone_ok = f[4] == "GMT" || f[4] == "UTC" || f[4] == "UT" || f[4] == "Z" || f[4] == "+0000" || f[4] == "-0000";
  if (f[0].size() > 2 || !is_digits(f[0]) || month == kMonths.end() || f[2].size() != 4 || !is_digits(f[2]) ||
      time.size() != 8 || time[2] != ':' || time[5] != ':' || !is_digits(time.substr(0, 2)) ||
      !is_digits(time.substr(3, 2)) || !is_digits(time.substr(6, 2)) || !zone_ok) {
    return std::nullopt;
  }
  return to_ms(to_int(f[2]), static_cast<int>(month - kMonths.begin()) + 1, to_int(f[0]), to_int(time.substr(0, 2)),
               to_int(time.substr(3, 2)), to_int(time.substr(6, 2)));
}

}  // namespace sigv4

Result<VerifiedRequest> verify(const SignedRequest& request, const SecretLookup& lookup, int64_t now_ms,
                               std::string_view expected_service) {
  const auto params = parse_query(request.query);
  const bool has_query_auth = std::any_of(params.begin(), params.end(), [](const QueryParam& q) {
    return q.name == "X-Amz-Algorithm" || q.name == "X-Amz-Credential" || q.name == "X-Amz-Signature";
  });
  const size_t auth_headers = header_count(request, "authorization");
  if (auth_headers == 0 && !has_query_auth) {
    return fail(ErrorCode::kMissingAuthentication, "Missing Authentication Token");
  }
  if (auth_headers > 1) {
    return fail(ErrorCode::kIncompleteSignature, "The request has more than one Authorization header.");
  }
  if (auth_headers == 1 && has_query_auth) {
    return fail(ErrorCode::kIncompleteSignature,
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the "
                "Authorization header should be specified");
  }

  BERTH_TRY(Parsed p, has_query_auth ? parse_presigned(request, params)
                                     : parse_authorization_header(request, *header(request, "authorization")));
  BERTH_TRY_VOID(check_scope(p, expected_service));
  BERTH_TRY_VOID(check_time(p, now_ms));

  const auto key = lookup ? lookup(p.access_key_id) : std::nullopt;
  if (!key) return fail(ErrorCode::kUnrecognizedClient, std::string(kInvalidTokenMessage));
  BERTH_TRY_VOID(check_credentials(p, *key, now_ms));

  // The canonical query: AWS's (decode, encode, sort) and, when it differs, the pairs as
  // sent (botocore signs an already-encoded URL query that way, e.g. "%7E" for '~').
  std::vector<std::string> queries{sigv4::canonical_query(request.query, p.presigned)};
  if (auto as_sent = sigv4::canonical_query_as_sent(request.query, p.presigned); as_sent != queries.front()) {
    queries.push_back(std::move(as_sent));
  }
  const std::string uri = sigv4::canonical_uri(request.path);
  const std::string headers = sigv4::canonical_headers(request.headers, p.signed_names);
  const std::string scope = fmt::format("{}/{}/{}/{}", p.scope_date, p.region, p.service, kTerminator);
  const std::string k_signing = sigv4::signing_key(key->secret_access_key, p.scope_date, p.region, p.service);

  // Every candidate is computed and compared; the outcome does not short-circuit on a match.
  bool matched = false;
  for (const auto& query : queries) {
    for (const auto& payload : p.payload_hashes) {
      const auto creq = canonical_request(request.method, uri, query, headers, p.signed_headers, payload);
      const auto expected = crypto::hex(crypto::hmac_sha256(k_signing, string_to_sign(p.amz_date, scope, creq)));
      matched = crypto::constant_time_equal(expected, p.signature) || matched;
    }
  }
  if (!matched) return fail(ErrorCode::kInvalidSignature, std::string(kInvalidSignatureMessage));
  return VerifiedRequest{p.access_key_id, p.region, p.service, p.signed_at_ms, p.presigned};
}

Result<std::string> presign_query(const PresignRequest& r) {
  if (r.expires_seconds < 1 || r.expires_seconds > kMaxPresignExpiresSeconds) {
    return fail(ErrorCode::kInvalidParameter, "presigned URLs expire after 1 to 604800 seconds");
  }
  if (r.access_key_id.empty() || r.region.empty() || r.service.empty() || r.host.empty()) {
    return fail(ErrorCode::kInvalidParameter, "presigning needs an access key id, a region, a service and a host");
  }
  const std::string amz_date = sigv4::format_amz_date(r.now_ms);
  const std::string date = amz_date.substr(0, 8);
  const std::string scope = fmt::format("{}/{}/{}/{}", date, r.region, r.service, kTerminator);
  // Operation parameters first, then the auth parameters in botocore's order.
  std::string query = r.query;
  if (!query.empty()) query += '&';
  query += fmt::format("X-Amz-Algorithm={}&X-Amz-Credential={}&X-Amz-Date={}&X-Amz-Expires={}&X-Amz-SignedHeaders=host",
                       kAlgorithm, sigv4::uri_encode(r.access_key_id + "/" + scope, false), amz_date,
                       r.expires_seconds);
  if (!r.session_token.empty()) query += "&X-Amz-Security-Token=" + sigv4::uri_encode(r.session_token, false);

  const std::vector<std::pair<std::string, std::string>> headers{{"host", r.host}};
  const auto creq = canonical_request(r.method, sigv4::canonical_uri(r.path), sigv4::canonical_query(query, false),
                                      sigv4::canonical_headers(headers, {"host"}), "host", kUnsignedPayload);
  const auto key = sigv4::signing_key(r.secret_access_key, date, r.region, r.service);
  const auto signature = crypto::hex(crypto::hmac_sha256(key, string_to_sign(amz_date, scope, creq)));
  return query + "&X-Amz-Signature=" + signature;
}

}  // namespace berth::auth

namespace berth::auth {

SignedRequest signed_request(std::string method, std::string path, std::string_view target,
                             std::vector<std::pair<std::string, std::string>> headers,
                             std::string payload_sha256_hex) {
  SignedRequest r{std::move(method), std::move(path), {}, std::move(headers), std::move(payload_sha256_hex)};
  if (const auto q = target.find('?'); q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  return r;
}

std::string claimed_access_key_id(const SignedRequest& request) {
  auto until_slash = [](std::string_view v) { return std::string(v.substr(0, v.find('/'))); };
  for (const auto& [name, value] : request.headers) {
    if (name != "authorization") continue;
    const auto at = value.find("Credential=");
    if (at != std::string::npos) return until_slash(std::string_view(value).substr(at + 11));
  }
  constexpr std::string_view kParam = "X-Amz-Credential=";
  std::string_view q = request.query;
  for (size_t at = q.find(kParam); at != std::string_view::npos; at = q.find(kParam, at + 1)) {
    if (at == 0 || q[at - 1] == '&') return until_slash(sigv4::uri_decode(q.substr(at + kParam.size(), q.find('&', at) - at - kParam.size())));
  }
  return {};
}

}  // namespace berth::auth
