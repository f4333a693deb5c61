// The part of AWS STS that roles need, on the same port as ECR (`POST /`, AWS query
// protocol, form-encoded, SigV4 with service "sts"): AssumeRole, which hands out temporary
// credentials acting as a role, and GetCallerIdentity. `aws sts assume-role
// --endpoint-url ...` and boto3's STS client work unchanged.
#pragma once

#include <map>
#include <string>

#include "auth/authorizer.h"
#include "auth/identity.h"
#include "http/asio.h"
#include "http/server.h"
#include "observe/audit.h"
#include "store/meta/meta_store.h"

namespace berth::sts {

// The setting that holds a role's trust policy (who may assume it).
std::string trust_policy_setting(const std::string& role_arn);

struct Services {
  store::MetaStore& meta;
  auth::Identity& identity;
  const auth::Authorizer& authorizer;
  const Clock& clock;
  observe::AuditLog* audit = nullptr;
};

class Api {
 public:
  Api(Services services, http::asio::thread_pool& pool) : s_(services), pool_(pool) {}

  // POST / with a form body and no X-Amz-Target: the query protocol.
  static bool handles(const http::Request& req);
  http::awaitable<http::Response> handle(http::Exchange& ex);

 private:
  using Form = std::map<std::string, std::string>;
  Result<std::string> assume_role(const auth::Caller& caller, const Form& form, const http::Request& req);
  Result<std::string> get_caller_identity(const auth::Caller& caller) const;

  Services s_;
  http::asio::thread_pool& pool_;
};

}  // namespace berth::sts
