#include "auth/identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "crypto/hash.h"
#include "crypto/seal.h"

namespace berth::auth {
namespace {

constexpr char kKeyIdAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr char kSecretAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string random_string(const char* alphabet, size_t alphabet_size, size_t n) {
  const std::string bytes = crypto::random_bytes(n);
  std::string out;
  out.reserve(n);
  for (unsigned char b : bytes) out.push_back(alphabet[b % alphabet_size]);
  return out;
}

std::string new_access_key_id() { return "AKIA" + random_string(kKeyIdAlphabet, 32, 16); }
constexpr char kSessionKeyPrefix[] = "ASIA";
std::string new_session_key_id() { return kSessionKeyPrefix + random_string(kKeyIdAlphabet, 32, 16); }

// A session's sealed payload: the secret with its token and expiry, so they cannot be
// changed without the master key.
constexpr std::string_view kSessionPrefix = "session:";
std::string new_secret() { return random_string(kSecretAlphabet, 64, 40); }

std::string new_account_id() {
  const std::string bytes = crypto::random_bytes(12);
  std::string out;
  for (unsigned char b : bytes) out.push_back(static_cast<char>('0' + b % 10));
  if (out[0] == '0') out[0] = '1';
  return out;
}

bool is_account_id(std::string_view s) {
  return s.size() == 12 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Written to a temp file with mode 0600 and renamed, so it is never readable by others
// nor seen half-written.
Result<void> write_credentials(const std::string& path, const std::string& id, const std::string& secret) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail(ErrorCode::kUnavailable, "cannot write the credentials file");
  const std::string text = "[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return fail(ErrorCode::kUnavailable, "cannot write the credentials file");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Identity>> Identity::open(const IdentityOptions& options, store::MetaStore& meta,
                                                 const Clock& clock) {
  std::unique_ptr<Identity> id(new Identity(meta, clock));
  if (!options.account_id.empty() && !is_account_id(options.account_id)) {
    return fail(ErrorCode::kInvalidParameter, "--account-id must be 12 digits");
  }
  BERTH_TRY(id->account_id_,
            meta.setting_or_init("account_id", options.account_id.empty() ? new_account_id() : options.account_id));
  if (!options.account_id.empty() && options.account_id != id->account_id_) {
    return fail(ErrorCode::kInvalidParameter, "this data dir belongs to account " + id->account_id_ + ", not " +
                                                  options.account_id);
  }
  const std::string keys = options.data_dir + "/keys";
  std::error_code ec;
  std::filesystem::create_directories(keys, ec);
  ::chmod(keys.c_str(), 0700);
  BERTH_TRY(id->master_key_, crypto::load_or_create_key(keys + "/master.key"));
  BERTH_TRY(id->token_key_, crypto::load_or_create_key(keys + "/token.key"));

  // The root key: from the environment when given, else generated once.
  const std::string root = id->root_arn();
  if (!options.root_access_key_id.empty()) {
    if (options.root_secret_access_key.empty()) {
      return fail(ErrorCode::kInvalidParameter, "BERTH_ROOT_SECRET_ACCESS_KEY must be set with BERTH_ROOT_ACCESS_KEY_ID");
    }
    auto existing = meta.get_access_key(options.root_access_key_id);
    if (!existing) {
      BERTH_TRY_VOID(id->store_key(options.root_access_key_id, options.root_secret_access_key, root));
    } else {
      // Same id, possibly a new secret: the environment is the source of truth.
      auto secret = id->secret(options.root_access_key_id);
      if (!secret || secret->secret_access_key != options.root_secret_access_key) {
        BERTH_TRY_VOID(meta.delete_access_key(options.root_access_key_id));
        BERTH_TRY_VOID(id->store_key(options.root_access_key_id, options.root_secret_access_key, root));
      }
    }
    return id;
  }
  BERTH_TRY(auto root_keys, meta.list_access_keys(root));
  if (root_keys.empty()) {
    BERTH_TRY(auto created, id->create_access_key(root));
    BERTH_TRY_VOID(write_credentials(options.data_dir + "/credentials", created.first, created.second));
    log::get("auth")->info("generated the root access key {} into {}/credentials (mode 0600)", created.first,
                           options.data_dir);
  }
  return id;
}

Result<void> Identity::store_key(const std::string& id, const std::string& secret, const std::string& principal_arn,
                                 const std::string& account_id) {
  BERTH_TRY(auto sealed, crypto::seal(master_key_, secret, id));
  return meta_.create_access_key(store::AccessKeyRecord{.id = id,
                                                       .account_id = account_id.empty() ? account_id_ : account_id,
                                                       .principal_arn = principal_arn,
                                                       .sealed_secret = std::move(sealed),
                                                       .created_at_ms = clock_.now_ms()});
}

Result<std::pair<std::string, std::string>> Identity::create_access_key(const std::string& principal_arn,
                                                                       const std::string& account_id) {
  std::string id = new_access_key_id();
  std::string secret = new_secret();
  BERTH_TRY_VOID(store_key(id, secret, principal_arn, account_id));
  return std::pair{std::move(id), std::move(secret)};
}

std::string role_of_session(const std::string& arn) {
  constexpr std::string_view kPrefix = "arn:aws:sts::";
  constexpr std::string_view kAssumed = ":assumed-role/";
  if (arn.rfind(kPrefix, 0) != 0) return {};
  const auto at = arn.find(kAssumed);
  if (at == std::string::npos) return {};
  const std::string account = arn.substr(kPrefix.size(), at - kPrefix.size());
  const std::string rest = arn.substr(at + kAssumed.size());
  const auto slash = rest.rfind('/');
  if (slash == std::string::npos) return {};
  return "arn:aws:iam::" + account + ":role/" + rest.substr(0, slash);
}

std::optional<KeySecret> Identity::secret(std::string_view access_key_id) const {
  auto rec = meta_.get_access_key(std::string(access_key_id));
  if (!rec) return std::nullopt;
  return unseal(*rec);
}

std::string principal_unique_id(const store::PrincipalRecord& principal) {
  const std::string hex = crypto::sha256(principal.arn + "\n" + std::to_string(principal.created_at_ms)).hex();
  std::string id = principal.kind == "role" ? "AROA" : "AIDA";
  for (size_t i = 0; i < 17; ++i) {
    const auto byte = static_cast<unsigned char>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
    id.push_back(kKeyIdAlphabet[byte % 32]);
  }
  return id;
}

std::optional<std::string> Identity::unseal_text(const store::AccessKeyRecord& rec) const {
  auto secret = crypto::unseal(master_key_, rec.sealed_secret, rec.id);
  if (!secret) {
    log::get("auth")->error("access key {} does not unseal with this data dir's master key", rec.id);
    return std::nullopt;
  }
  return std::move(*secret);
}

std::optional<KeySecret> Identity::unseal(const store::AccessKeyRecord& rec) const {
  auto secret = unseal_text(rec);
  if (!secret) return std::nullopt;
  if (secret->rfind(kSessionPrefix, 0) == 0) {
    const auto j = nlohmann::json::parse(secret->substr(kSessionPrefix.size()), nullptr, false);
    if (!j.is_object()) return std::nullopt;
    return KeySecret{.secret_access_key = j.value("secret", ""),
                     .session_token = j.value("token", ""),
                     .expires_at_ms = j.value("expires", int64_t{0})};
  }
  return KeySecret{.secret_access_key = std::move(*secret), .session_token = {}, .expires_at_ms = 0};
}

Result<SessionCredentials> Identity::create_session(const store::PrincipalRecord& role,
                                                    const std::string& session_name, int64_t duration_ms) {
  SessionCredentials c;
  c.access_key_id = new_session_key_id();
  c.secret_access_key = new_secret();
  c.session_token = crypto::base64(crypto::random_bytes(48));
  c.expires_at_ms = clock_.now_ms() + duration_ms;
  c.assumed_role_arn = "arn:aws:sts::" + role.account_id + ":assumed-role/" + role.name + "/" + session_name;
  const std::string role_id = principal_unique_id(role);
  c.assumed_role_id = role_id + ":" + session_name;
  const nlohmann::json payload = {{"secret", c.secret_access_key}, {"token", c.session_token},
                                  {"expires", c.expires_at_ms}, {"role_id", role_id}};
  BERTH_TRY(auto sealed, crypto::seal(master_key_, std::string(kSessionPrefix) + payload.dump(), c.access_key_id));
  BERTH_TRY_VOID(meta_.create_access_key(store::AccessKeyRecord{.id = c.access_key_id,
                                                               .account_id = role.account_id,
                                                               .principal_arn = c.assumed_role_arn,
                                                               .sealed_secret = std::move(sealed),
                                                               .created_at_ms = clock_.now_ms()}));
  return c;
}

Result<std::string> Identity::user_id(const Caller& caller) const {
  auto gone = [] { return fail(ErrorCode::kUnrecognizedClient, "The security token included in the request is invalid."); };
  if (caller.principal_arn == "arn:aws:iam::" + caller.account_id + ":root") return caller.account_id;
  const std::string role = role_of_session(caller.principal_arn);
  if (role.empty()) {
    auto principal = meta_.get_principal(caller.principal_arn);
    if (!principal && principal.error().code == ErrorCode::kNotFound) return gone();
    if (!principal) return tl::unexpected(principal.error());
    return principal_unique_id(*principal);
  }
  auto rec = meta_.get_access_key(caller.access_key_id);
  if (!rec && rec.error().code == ErrorCode::kNotFound) return gone();
  if (!rec) return tl::unexpected(rec.error());
  const auto text = unseal_text(*rec);
  if (!text || text->rfind(kSessionPrefix, 0) != 0) return gone();
  const auto payload = nlohmann::json::parse(text->substr(kSessionPrefix.size()), nullptr, false);
  std::string role_id = payload.is_object() ? payload.value("role_id", "") : "";
  if (role_id.empty()) {  // a session made before berth sealed its role's id: the role's id now
    auto principal = meta_.get_principal(role);
    if (!principal) return gone();
    role_id = principal_unique_id(*principal);
  }
  return role_id + ":" + caller.principal_arn.substr(caller.principal_arn.rfind('/') + 1);
}

Result<size_t> Identity::delete_expired_sessions(bool dry_run) {
  constexpr size_t kPage = 256;
  const int64_t now = clock_.now_ms();
  size_t expired = 0;
  std::string after;
  while (true) {
    BERTH_TRY(auto keys, meta_.list_access_keys_by_id(kSessionKeyPrefix, after, kPage));
    for (const auto& rec : keys) {
      const auto key = unseal(rec);
      if (!key || key->expires_at_ms == 0 || key->expires_at_ms > now) continue;
      if (!dry_run) {
        auto gone = meta_.delete_access_key(rec.id);
        if (!gone && gone.error().code == ErrorCode::kNotFound) continue;  // another sweep was first
        if (!gone) return tl::unexpected(gone.error());
      }
      ++expired;
    }
    if (keys.size() < kPage) break;
    after = keys.back().id;
  }
  return expired;
}

Result<Caller> Identity::caller(const std::string& access_key_id) const {
  auto unknown = [] { return fail(ErrorCode::kUnrecognizedClient, "The security token included in the request is invalid."); };
  const auto version = meta_.data_version();
  if (version) {
    if (auto cached = callers_.get(*version, access_key_id)) {
      if (!*cached) return unknown();
      Caller c = **cached;
      c.data_version = *version;
      return c;
    }
  }
  auto rec = meta_.get_access_key(access_key_id);
  if (!rec) {
    if (version && rec.error().code == ErrorCode::kNotFound) callers_.put(*version, access_key_id, std::nullopt);
    return unknown();
  }
  Caller c{rec->id, rec->account_id, rec->principal_arn, role_of_session(rec->principal_arn), 0};
  if (!c.policy_arn.empty()) {  // a role session: its expiry is sealed with its secret
    const auto key = unseal(*rec);
    if (!key) return unknown();
    c.expires_at_ms = key->expires_at_ms;
  }
  if (version) {
    callers_.put(*version, access_key_id, c);
    c.data_version = *version;
  }
  return c;
}

// token = base64(key_id "." expires_ms "." hex(hmac(token_key, key_id "." expires_ms)))
Identity::Token Identity::issue_token(const Caller& c) const {
  int64_t expires = clock_.now_ms() + kTokenLifetimeMs;
  if (c.expires_at_ms) expires = std::min(expires, c.expires_at_ms);  // a session's token dies with it
  const std::string body = c.access_key_id + "." + std::to_string(expires);
  return Token{crypto::base64(body + "." + crypto::hex(crypto::hmac_sha256(token_key_, body))), expires};
}

Result<Caller> Identity::verify_token(std::string_view token) const {
  auto invalid = [] { return fail(ErrorCode::kUnauthorized, "authorization token is invalid; get a new one"); };
  std::optional<TokenClaims> claims;
  const size_t key = std::hash<std::string_view>{}(token);
  {
    std::lock_guard lock(token_mu_);
    if (auto it = verified_tokens_.find(key);
        it != verified_tokens_.end() && crypto::constant_time_equal(it->second.token, token)) {
      claims = it->second.claims;
    }
  }
  if (!claims) {
    auto raw = crypto::unbase64(token);
    if (!raw) return invalid();
    const auto last = raw->rfind('.');
    if (last == std::string::npos) return invalid();
    const std::string_view body = std::string_view(*raw).substr(0, last);
    const std::string expected = crypto::hex(crypto::hmac_sha256(token_key_, body));
    if (!crypto::constant_time_equal(std::string_view(*raw).substr(last + 1), expected)) return invalid();
    const auto dot = body.find('.');
    if (dot == std::string_view::npos) return invalid();
    int64_t expires = 0;
    const auto digits = body.substr(dot + 1);
    if (auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), expires);
        ec != std::errc() || p != digits.data() + digits.size()) {
      return invalid();
    }
    claims = TokenClaims{std::string(body.substr(0, dot)), expires};
    constexpr size_t kMaxTokens = 4096;  // a bound, not an LRU: logged-in clients are few
    std::lock_guard lock(token_mu_);
    if (verified_tokens_.size() >= kMaxTokens) verified_tokens_.clear();
    verified_tokens_.insert_or_assign(key, VerifiedToken{std::string(token), *claims});
  }
  if (clock_.now_ms() >= claims->expires_at_ms)
    return fail(ErrorCode::kUnauthorized, "authorization token has expired; get a new one");
  auto c = caller(claims->access_key_id);  // revoked with its access key
  if (!c) return fail(ErrorCode::kUnauthorized, "authorization token's access key no longer exists");
  if (c->expires_at_ms && clock_.now_ms() >= c->expires_at_ms) {
    return fail(ErrorCode::kUnauthorized, "authorization token's session has expired; get a new one");
  }
  return c;
}

}  // namespace berth::auth
