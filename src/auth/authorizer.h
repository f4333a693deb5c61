// May this caller do this: the one place both APIs (/v2/ and ECR JSON) ask. It loads what
// bears on the request (the caller's inline identity policies, the repository policy) from
// the MetaStore, parses them and hands them to the pure evaluator (iam::authorize). The
// evaluator decides; this class only gathers.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/identity.h"
#include "core/versioned_cache.h"
#include "iam/policy.h"
#include "core/clock.h"
#include "core/result.h"
#include "store/meta/meta_store.h"

namespace berth::auth {

struct AccessRequest {
  const Caller* caller = nullptr;  // null: anonymous
  std::string action;              // "ecr:PutImage"
  std::string repository;          // empty for registry-level actions
  std::string resource;            // overrides the repository ARN when set ("*" for GetAuthorizationToken)
  std::string source_ip;           // aws:SourceIp, when known
  // aws:RequestTag/KEY and aws:TagKeys: the tags a CreateRepository or TagResource asks
  // to set, the keys an UntagResource asks to remove.
  std::vector<std::pair<std::string, std::string>> request_tags;
  std::vector<std::string> tag_keys;
  // A resource that is not a repository (a role, for sts:AssumeRole): its own policy (the
  // trust policy) and the account that owns it.
  const iam::Policy* resource_policy = nullptr;
  std::string resource_account;
  // The MetaStore version the request reads at, when it has one and no caller carries it
  // (an anonymous request that reads_version() once for all its decisions).
  std::optional<uint64_t> data_version;
};

class Authorizer {
 public:
  Authorizer(store::MetaStore& meta, const Identity& identity, std::string region, const Clock& clock)
      : meta_(meta), identity_(identity), region_(std::move(region)), clock_(clock) {}

  // arn:aws:ecr:REGION:ACCOUNT:repository/NAME
  std::string repository_arn(const std::string& repository) const;

  // {} when allowed; kDenied with AWS's AccessDenied wording ("User: ARN is not authorized
  // to perform: ACTION on resource: ARN because ..."); store failures as they come.
  Result<void> authorize(const AccessRequest& request) const;

  // The store's version now (nullopt if it cannot be read: then nothing is cached), for a
  // request without a caller that will ask for several decisions or pass it on.
  std::optional<uint64_t> reads_version() const;

 private:
  // What the store says about one key ("identity:ARN", "repository:NAME", "registry"):
  // parsed policies and, for a repository, its tags (aws:ResourceTag/KEY).
  struct Loaded {
    std::vector<std::shared_ptr<const iam::Policy>> policies;
    bool unparsable = false;  // a stored policy no longer parses: deny, never ignore it
    std::vector<std::pair<std::string, std::string>> tags;
  };
  using LoadedPtr = std::shared_ptr<const Loaded>;
  static void parse_into(Loaded& out, const std::string& text, iam::PolicyKind kind, size_t max_chars,
                         const std::string& name);
  Result<LoadedPtr> cached(const std::optional<uint64_t>& version, const std::string& key,
                           const std::function<Result<Loaded>()>& load) const;
  Result<LoadedPtr> identity_policies(const std::optional<uint64_t>& version, const std::string& arn) const;
  Result<LoadedPtr> repository(const std::optional<uint64_t>& version, const std::string& name) const;
  Result<LoadedPtr> registry_policy(const std::optional<uint64_t>& version) const;

  store::MetaStore& meta_;
  const Identity& identity_;
  std::string region_;
  const Clock& clock_;
  mutable VersionedCache<LoadedPtr> cache_;
};

}  // namespace berth::auth
