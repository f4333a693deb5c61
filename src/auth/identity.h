// Who the registry's principals are and how they prove it: the account, its access keys
// (secrets sealed with the data dir's master key), and the registry's login tokens.
// Decides nothing about what a principal may do: that is iam's business.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "auth/sigv4.h"
#include "auth/versioned_cache.h"
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
  std::string principal_arn;
};

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

 private:
  Identity(store::MetaStore& meta, const Clock& clock) : meta_(meta), clock_(clock) {}
  Result<void> store_key(const std::string& id, const std::string& secret, const std::string& principal_arn,
                         const std::string& account_id = {});

  store::MetaStore& meta_;
  const Clock& clock_;
  std::string account_id_;
  std::string master_key_;
  std::string token_key_;
  // Access key id -> its caller (nullopt: no such key); every /v2/ request asks.
  mutable VersionedCache<std::optional<Caller>> callers_;
};

}  // namespace berth::auth
