// Who the registry's principals are and how they prove it: the account, its access keys
// (secrets sealed with the data dir's master key), and the registry's login tokens.
// Decides nothing about what a principal may do: that is iam's business.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "auth/sigv4.h"
#include "core/versioned_cache.h"
#include "core/clock.h"
#include "core/result.h"
#include "store/meta/meta_store.h"

namespace berth::auth {

struct IdentityOptions {
  std::string data_dir;
  std::string account_id;            // empty: keep the stored one, or generate one
  std::string root_access_key_id;    // from BERTH_ROOT_ACCESS_KEY_ID, when set
  std::string root_secret_access_key;
};

struct Caller {
  std::string access_key_id;
  std::string account_id;
  std::string principal_arn;  // a user, a role, an account root, or a role session (sts assumed-role)
  // Whose identity policies apply: the role for a role session, else principal_arn.
  std::string policy_arn;
  int64_t expires_at_ms = 0;  // temporary credentials (a role session); 0 = never
  // The MetaStore data_version this caller was read at. The Authorizer decides the same
  // request at that version instead of reading it again: one read per request, and the
  // identity and its policies come from one consistent moment.
  std::optional<uint64_t> data_version;

  const std::string& policies_of() const { return policy_arn.empty() ? principal_arn : policy_arn; }
};

// Temporary credentials from sts:AssumeRole.
struct SessionCredentials {
  std::string access_key_id;  // ASIA...
  std::string secret_access_key;
  std::string session_token;
  int64_t expires_at_ms = 0;
  std::string assumed_role_arn;  // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
  std::string assumed_role_id;   // ROLE_ID:SESSION (AROA...:SESSION)
};

// arn:aws:iam::ACCOUNT:role/NAME for arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION; empty
// for anything else.
std::string role_of_session(const std::string& assumed_role_arn);

// The unique id IAM gives a user (AIDA + 17 characters) or a role (AROA + 17). berth
// derives it from what it stores of the principal, its ARN and creation time: stable while
// the principal lives, and, as in IAM, another one for a principal deleted and created
// again under the same name.
std::string principal_unique_id(const store::PrincipalRecord& principal);

// A login token for /v2/ (GetAuthorizationToken): bound to the access key that asked
// for it, valid 12 hours, checked by HMAC so it survives restarts without a table.
inline constexpr int64_t kTokenLifetimeMs = 12LL * 3600 * 1000;

class Identity {
 public:
  // Loads or creates the account id, the master and token keys (DATA/keys/, 0600) and
  // the root access key; a generated root key is written to DATA/credentials (0600) in
  // the AWS shared-credentials format.
  static Result<std::unique_ptr<Identity>> open(const IdentityOptions& options, store::MetaStore& meta,
                                               const Clock& clock);

  const std::string& account_id() const { return account_id_; }
  std::string root_arn() const { return "arn:aws:iam::" + account_id_ + ":root"; }

  // For SigV4: the secret of an access key, if it exists.
  std::optional<KeySecret> secret(std::string_view access_key_id) const;
  Result<Caller> caller(const std::string& access_key_id) const;

  struct Token {
    std::string token;
    int64_t expires_at_ms;
  };
  Token issue_token(const Caller& caller) const;
  // kUnauthorized when malformed, forged, expired, or its access key was deleted.
  Result<Caller> verify_token(std::string_view token) const;

  // A new access key for a principal: returns the secret once, stores it sealed.
  // `account_id` empty: the registry's account.
  Result<std::pair<std::string, std::string>> create_access_key(const std::string& principal_arn,
                                                                const std::string& account_id = {});
  // Temporary credentials acting as `role_arn` (whose existence and trust the caller has
  // checked) until now + duration. Stored like access keys, the token and expiry sealed
  // with the secret, so deleting the role's keys or the role ends nothing early: expiry does.
  Result<SessionCredentials> create_session(const store::PrincipalRecord& role, const std::string& session_name,
                                            int64_t duration_ms);
  // GetCallerIdentity's UserId, IAM's aws:userid: the account id for an account root, the
  // unique id of a user or role (signing with its own key), ROLE_ID:SESSION for a role
  // session (the role's id when the session was made, so the role's deletion does not
  // change it). kUnrecognizedClient when the caller's key or principal is gone.
  Result<std::string> user_id(const Caller& caller) const;
  // Deletes the keys of role sessions that expired by now (with dry_run, only counts
  // them) and answers how many. Their expiry is sealed with their secret, so each is
  // unsealed; one that does not unseal with this data dir's master key is left alone.
  Result<size_t> delete_expired_sessions(bool dry_run);

 private:
  Identity(store::MetaStore& meta, const Clock& clock) : meta_(meta), clock_(clock) {}
  // The secret (and, for a role session, its token and expiry) sealed in a key record.
  std::optional<KeySecret> unseal(const store::AccessKeyRecord& rec) const;
  // The sealed text itself: the secret, or a session's payload after kSessionPrefix.
  std::optional<std::string> unseal_text(const store::AccessKeyRecord& rec) const;
  Result<void> store_key(const std::string& id, const std::string& secret, const std::string& principal_arn,
                         const std::string& account_id = {});

  store::MetaStore& meta_;
  const Clock& clock_;
  std::string account_id_;
  std::string master_key_;
  std::string token_key_;
  // Access key id -> its caller (nullopt: no such key); every /v2/ request asks.
  mutable VersionedCache<std::optional<Caller>> callers_;
  // Tokens already verified -> what they say, keyed by the token's hash. A logged-in
  // client sends the same token with every request; decoding it and checking its HMAC
  // (OpenSSL 3 fetches the algorithm on each one-shot call) would otherwise be a tenth of a
  // manifest GET. A hit still compares the whole token in constant time (no early exit on
  // the first differing byte, as a map keyed by the token would do); anything else is
  // verified in full. Expiry and the key's existence are checked on every use.
  struct TokenClaims {
    std::string access_key_id;
    int64_t expires_at_ms;
  };
  struct VerifiedToken {
    std::string token;
    TokenClaims claims;
  };
  mutable std::mutex token_mu_;
  mutable std::unordered_map<size_t, VerifiedToken> verified_tokens_;
};

}  // namespace berth::auth
