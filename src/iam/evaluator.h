// May they: the one policy evaluator behind both APIs (/v2/ and ECR JSON). Pure: it
// reads parsed policies (policy.h) and a request context and returns a decision; it does
// no I/O, reads no clock (aws:CurrentTime comes in the context) and keeps no state. Who
// is calling (SigV4, tokens) is auth's business; which policies apply to that caller and
// repository is the caller's: it loads them and fills AuthorizationInput.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "iam/policy.h"

namespace berth::iam {

struct RequestContext {
  std::string action;             // "ecr:BatchGetImage"
  std::string resource;           // "arn:aws:ecr:us-east-1:123456789012:repository/team/app"
  std::string principal_arn;      // "arn:aws:iam::123456789012:user/ci"; empty when anonymous
  std::string principal_account;  // "123456789012"; empty when anonymous
  bool anonymous = false;
  // Condition context keys, matched case-insensitively against policy keys: aws:SourceIp,
  // aws:CurrentTime (ISO 8601), aws:SecureTransport ("true"/"false"), aws:ResourceTag/<k>,
  // aws:RequestTag/<k>, aws:TagKeys (several values), ... A key with no values counts as
  // missing. aws:PrincipalArn and aws:PrincipalAccount default to the two fields above
  // when the map leaves them out (and the caller is not anonymous); for a role session
  // aws:PrincipalArn is then the role's ARN without its path (AWS gives the role ARN with
  // its path: set the key explicitly for roles that have one).
  std::map<std::string, std::vector<std::string>> keys;
};

// One policy's answer.
enum class Effect { kNotApplicable, kAllow, kExplicitDeny };

// A statement applies when its action, resource, principal (resource policies) and every
// condition match; any applying Deny makes the policy deny, else any applying Allow allows.
Effect evaluate(const Policy& policy, const RequestContext& context);

// evaluate() with the statement that decided. `via_account` is set when an Allow matched the
// caller only through its account (Principal "123456789012" or ".../root") and the caller is
// not that account's root: AWS treats that as delegating to the account's identity policies,
// which matters within one account (see authorize()).
struct Evaluation {
  Effect effect = Effect::kNotApplicable;
  const Statement* statement = nullptr;
  bool via_account = false;
};
Evaluation evaluate_detailed(const Policy& policy, const RequestContext& context);

enum class Verdict { kAllow, kExplicitDeny, kImplicitDeny };
std::string_view to_string(Verdict verdict);  // "Allow", "ExplicitDeny", "ImplicitDeny"

// Everything that bears on one ECR request. Policies are borrowed: they must outlive the call.
struct AuthorizationInput {
  std::vector<const Policy*> identity_policies;  // the user's or role's inline and attached policies
  bool caller_is_root = false;                   // the account root: allowed everything in its account
  const Policy* repository_policy = nullptr;     // none when null
  const Policy* registry_policy = nullptr;       // none when null
  std::string caller_account;                    // empty for anonymous callers (then context.principal_account is used)
  std::string resource_account;                  // the registry (account) that owns the repository
};

struct Decision {
  Verdict verdict = Verdict::kImplicitDeny;
  // The tail of AWS's AccessDenied message ("because no identity-based policy allows the
  // ecr:PutImage action", "with an explicit deny in a resource-based policy"), or for an
  // Allow what allowed it ("allowed by the repository policy").
  std::string reason;
  std::string policy;  // which policy decided: its name, "repository policy", "registry policy", "account root"; empty
                       // for implicit denies
  std::string statement;  // Statement::label() of the deciding statement, when there is one
};

// AWS's evaluation across policy types, for ECR:
//  - an explicit Deny in any applicable policy (identity, repository, registry) wins;
//  - anonymous callers: allowed only by a repository or registry policy statement that
//    applies to everyone (Principal "*") with its conditions met;
//  - same account: the root is allowed; otherwise an identity policy Allow suffices, and
//    so does a resource policy Allow that names the caller (its ARN, its role, or "*") — one
//    that names only the account delegates to identity policies and grants nothing alone;
//  - cross-account: the repository or registry policy must allow the caller (the account
//    principal counts) AND the caller's identity policies must allow (the other account's
//    root counts as allowed on its side).
Decision authorize(const AuthorizationInput& input, const RequestContext& context);

// AWS's AccessDenied wording: "User: ARN is not authorized to perform: ACTION on resource:
// RESOURCE because no identity-based policy allows the ACTION action".
std::string access_denied_message(const RequestContext& context, const Decision& decision);

}  // namespace berth::iam
