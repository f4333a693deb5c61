#include "sts/api.h"

#include <regex>

#include "auth/sigv4.h"
#include "core/ids.h"
#include "crypto/hash.h"
#include "http/offload.h"
#include "iam/evaluator.h"
#include "iam/policy.h"
#include "observe/json_lines.h"

namespace berth::sts {
namespace {

constexpr size_t kMaxRequestBytes = 64 * 1024;
constexpr char kNamespace[] = "https://sts.amazonaws.com/doc/2011-06-15/";
constexpr int64_t kMinDurationSeconds = 900;
constexpr int64_t kMaxDurationSeconds = 3600;  // a role's default MaxSessionDuration in AWS

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

// STS's error codes and statuses for berth's errors.
std::pair<unsigned, std::string_view> wire(ErrorCode code) {
  switch (code) {
    case ErrorCode::kDenied: return {403, "AccessDenied"};
    case ErrorCode::kUnrecognizedClient: return {403, "InvalidClientTokenId"};
    case ErrorCode::kInvalidSignature:
    case ErrorCode::kSignatureExpired: return {403, "SignatureDoesNotMatch"};
    case ErrorCode::kIncompleteSignature: return {400, "IncompleteSignature"};
    case ErrorCode::kMissingAuthentication: return {403, "MissingAuthenticationToken"};
    case ErrorCode::kExpiredToken: return {400, "ExpiredToken"};
    case ErrorCode::kMalformedPolicy: return {400, "MalformedPolicyDocument"};
    case ErrorCode::kUnsupported: return {400, "InvalidAction"};
    case ErrorCode::kInvalidParameter: return {400, "ValidationError"};
    default: return {500, "InternalFailure"};
  }
}

http::Response xml_response(unsigned status, std::string body) {
  return http::text_response(status, std::move(body), "text/xml");
}

http::Response error_response(const Error& e) {
  const auto [status, code] = wire(e.code);
  return xml_response(status, std::string("<ErrorResponse xmlns=\"") + kNamespace + "\"><Error><Type>" +
                                  (status < 500 ? "Sender" : "Receiver") + "</Type><Code>" + std::string(code) +
                                  "</Code><Message>" + xml_escape(e.message) + "</Message></Error><RequestId>" +
                                  new_uuid() + "</RequestId></ErrorResponse>");
}

std::string result_xml(const std::string& action, const std::string& inner) {
  return "<" + action + "Response xmlns=\"" + kNamespace + "\"><" + action + "Result>" + inner + "</" + action +
         "Result><ResponseMetadata><RequestId>" + new_uuid() + "</RequestId></ResponseMetadata></" + action +
         "Response>";
}

// application/x-www-form-urlencoded: '+' is a space, then %XX.
std::map<std::string, std::string> parse_form(std::string_view body) {
  std::map<std::string, std::string> out;
  auto decode = [](std::string_view v) {
    std::string s(v);
    for (auto& c : s) {
      if (c == '+') c = ' ';
    }
    return auth::sigv4::uri_decode(s);
  };
  while (!body.empty()) {
    const auto amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    const auto eq = pair.find('=');
    out[decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
  }
  return out;
}

std::string iso_seconds(int64_t ms) {
  std::string t = observe::iso8601(ms);  // 2026-11-25T07:04:05.123Z
  return t.substr(0, 19) + "Z";
}

// The trust policy a role gets when created without one: its own account may assume it
// (each principal still needs sts:AssumeRole in its identity policies), as AWS's console
// default "this account" does.
std::string default_trust_policy(const std::string& account) {
  return R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::)" + account +
         R"(:root"},"Action":"sts:AssumeRole"}]})";
}

}  // namespace

std::string trust_policy_setting(const std::string& role_arn) { return "role_trust_policy/" + role_arn; }

bool Api::handles(const http::Request& req) {
  if (req.method != "POST" || req.path != "/" || req.header("x-amz-target")) return false;
  const auto type = req.header("content-type");
  return type && type->find("application/x-www-form-urlencoded") != std::string_view::npos;
}

http::awaitable<http::Response> Api::handle(http::Exchange& ex) {
  const auto& req = ex.request();
  auto body = co_await ex.read_all(kMaxRequestBytes);
  if (!body) co_return error_response(body.error());
  const Form form = parse_form(*body);
  const std::string action = form.contains("Action") ? form.at("Action") : "";

  const auth::SignedRequest signed_request =
      auth::signed_request(req.method, req.path, req.target, req.headers, crypto::sha256(*body).hex());
  std::optional<auth::Caller> who;
  auto outcome = co_await http::offload(pool_, [&]() -> Result<std::string> {
    BERTH_TRY(auto verified, auth::verify(
                                 signed_request, [this](std::string_view id) { return s_.identity.secret(id); },
                                 s_.clock.now_ms(), "sts"));
    BERTH_TRY(auto caller, s_.identity.caller(verified.access_key_id));
    who = caller;
    if (action == "AssumeRole") return assume_role(caller, form, req);
    if (action == "GetCallerIdentity") return get_caller_identity(caller);
    return fail(ErrorCode::kUnsupported, "berth's STS implements AssumeRole and GetCallerIdentity, not '" + action + "'");
  });
  if (s_.audit && action != "GetCallerIdentity") {
    observe::AuditRecord a;
    a.source = "sts";
    a.action = "sts:" + action;
    if (who) a.principal = who->principal_arn;
    a.access_key_id = who ? who->access_key_id : auth::claimed_access_key_id(signed_request);
    a.source_ip = req.remote_address;
    a.user_agent = std::string(req.header("user-agent").value_or(""));
    a.resource = form.contains("RoleArn") ? form.at("RoleArn") : "*";
    if (!outcome) {
      const auto code = outcome.error().code;
      a.outcome = code == ErrorCode::kDenied || wire(code).first == 403 ? observe::Outcome::kDenied
                                                                        : observe::Outcome::kFailed;
      a.error_code = std::string(wire(code).second);
      a.message = outcome.error().message;
    }
    if (form.contains("RoleSessionName")) a.detail = {{"roleSessionName", form.at("RoleSessionName")}};
    s_.audit->record(a);
  }
  if (!outcome) co_return error_response(outcome.error());
  co_return xml_response(200, std::move(*outcome));
}

Result<std::string> Api::assume_role(const auth::Caller& caller, const Form& form, const http::Request& req) {
  static const std::regex kRoleArn(R"(arn:aws:iam::(\d{12}):role/[\w+=,.@-]{1,64})");
  static const std::regex kSessionName(R"([\w+=,.@-]{2,64})");
  const std::string role_arn = form.contains("RoleArn") ? form.at("RoleArn") : "";
  const std::string session = form.contains("RoleSessionName") ? form.at("RoleSessionName") : "";
  std::smatch m;
  if (!std::regex_match(role_arn, m, kRoleArn)) {
    return fail(ErrorCode::kInvalidParameter, "RoleArn must be arn:aws:iam::ACCOUNT:role/NAME, got '" + role_arn + "'");
  }
  const std::string account = m[1];
  if (!std::regex_match(session, kSessionName)) {
    return fail(ErrorCode::kInvalidParameter,
                "RoleSessionName must be 2 to 64 characters of letters, digits and +=,.@_-");
  }
  int64_t duration = kMaxDurationSeconds;
  if (form.contains("DurationSeconds")) {
    try {
      size_t used = 0;
      duration = std::stoll(form.at("DurationSeconds"), &used);
      if (used != form.at("DurationSeconds").size()) duration = -1;
    } catch (const std::exception&) {
      duration = -1;
    }
    if (duration < kMinDurationSeconds || duration > kMaxDurationSeconds) {
      return fail(ErrorCode::kInvalidParameter, "DurationSeconds must be between 900 and 3600 (the role's maximum)");
    }
  }
  // An unknown role is refused as AWS refuses it: as a denial, not a lookup failure.
  const std::string denied_text = "User: " + caller.principal_arn +
                                  " is not authorized to perform: sts:AssumeRole on resource: " + role_arn;
  auto role = s_.meta.get_principal(role_arn);
  if (!role && role.error().code == ErrorCode::kNotFound) return fail(ErrorCode::kDenied, denied_text);
  if (!role) return tl::unexpected(role.error());
  BERTH_TRY(auto stored_trust, s_.meta.get_setting(trust_policy_setting(role_arn)));
  auto trust = iam::parse_policy(stored_trust.value_or(default_trust_policy(account)), iam::PolicyKind::kResource,
                                 iam::kMaxRepositoryPolicyChars);
  if (!trust) return fail(ErrorCode::kDenied, denied_text + " because its trust policy cannot be read");
  trust->name = "trust policy of " + role_arn;
  // Unlike other resource policies, a role's trust policy must allow the caller even within
  // its account: an identity policy alone never lets anyone assume a role.
  iam::RequestContext trust_context;
  trust_context.action = "sts:AssumeRole";
  trust_context.resource = role_arn;
  trust_context.principal_arn = caller.principal_arn;
  trust_context.principal_account = caller.account_id;
  if (!req.remote_address.empty()) trust_context.keys["aws:sourceip"] = {req.remote_address};
  if (iam::evaluate(*trust, trust_context) != iam::Effect::kAllow) {
    return fail(ErrorCode::kDenied, denied_text + " because the role's trust policy does not allow it");
  }
  BERTH_TRY_VOID(s_.authorizer.authorize(auth::AccessRequest{.caller = &caller,
                                                             .action = "sts:AssumeRole",
                                                             .repository = {},
                                                             .resource = role_arn,
                                                             .source_ip = req.remote_address,
                                                             .resource_policy = &*trust,
                                                             .resource_account = account}));
  BERTH_TRY(auto creds, s_.identity.create_session(*role, session, duration * 1000));
  return result_xml("AssumeRole",
                    "<Credentials><AccessKeyId>" + creds.access_key_id + "</AccessKeyId><SecretAccessKey>" +
                        creds.secret_access_key + "</SecretAccessKey><SessionToken>" + creds.session_token +
                        "</SessionToken><Expiration>" + iso_seconds(creds.expires_at_ms) +
                        "</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>" +
                        xml_escape(creds.assumed_role_id) +
                        "</AssumedRoleId><Arn>" + xml_escape(creds.assumed_role_arn) + "</Arn></AssumedRoleUser>");
}

Result<std::string> Api::get_caller_identity(const auth::Caller& caller) const {
  BERTH_TRY(auto user_id, s_.identity.user_id(caller));
  return result_xml("GetCallerIdentity", "<Arn>" + xml_escape(caller.principal_arn) + "</Arn><UserId>" +
                                             xml_escape(user_id) + "</UserId><Account>" + caller.account_id +
                                             "</Account>");
}

}  // namespace berth::sts
