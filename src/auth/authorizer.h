// May this caller do this: the one place both APIs (/v2/ and ECR JSON) ask. It loads what
// bears on the request (the caller's inline identity policies, the repository policy) from
// the MetaStore, parses them and hands them to the pure evaluator (iam::authorize). The
// evaluator decides; this class only gathers.
#pragma once

#include <optional>
#include <string>

#include "auth/identity.h"
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

 private:
  store::MetaStore& meta_;
  const Identity& identity_;
  std::string region_;
  const Clock& clock_;
};

}  // namespace berth::auth
