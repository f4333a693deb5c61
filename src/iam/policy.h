// The IAM policy language as data: a parsed, validated policy document. Owns the grammar
// and the checks a person needs when a policy is stored (SetRepositoryPolicy,
// PutRegistryPolicy, `berth admin put-user-policy`); it does not decide anything — that is
// evaluator.h — and it does not store policies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "iam/match.h"

namespace berth::iam {

// ECR's limit on repository and registry policy text, in characters.
inline constexpr std::size_t kMaxRepositoryPolicyChars = 10240;

// Identity policies (attached to a user or role) name no Principal: the holder is the
// principal. Resource policies (repository, registry) must name one in every statement,
// and may leave out Resource (the resource is the one the policy is attached to).
enum class PolicyKind { kIdentity, kResource };

enum class StatementEffect { kAllow, kDeny };

// One Principal or NotPrincipal element.
struct PrincipalSpec {
  bool everyone = false;              // "*" or {"AWS": "*"}: every caller, anonymous ones too
  std::vector<std::string> accounts;  // 12-digit ids, from "123456789012" or "arn:aws:iam::123456789012:root"
  std::vector<std::string> arns;      // IAM user, role and STS assumed-role ARNs, as written
  std::vector<std::string> services;  // {"Service": "..."}: kept; matches a caller whose principal_arn is that name
};

enum class ConditionOperator {
  kStringEquals,
  kStringNotEquals,
  kStringEqualsIgnoreCase,
  kStringNotEqualsIgnoreCase,
  kStringLike,
  kStringNotLike,
  kArnEquals,
  kArnLike,
  kArnNotEquals,
  kArnNotLike,
  kIpAddress,
  kNotIpAddress,
  kDateEquals,
  kDateNotEquals,
  kDateLessThan,
  kDateLessThanEquals,
  kDateGreaterThan,
  kDateGreaterThanEquals,
  kNumericEquals,
  kNumericNotEquals,
  kNumericLessThan,
  kNumericLessThanEquals,
  kNumericGreaterThan,
  kNumericGreaterThanEquals,
  kBool,
  kNull,
};

// The operator name without qualifier or IfExists ("StringLike").
std::string_view to_string(ConditionOperator op);
// StringNotEquals, NotIpAddress, ...: true when a missing key should make them hold.
bool is_negated(ConditionOperator op);

enum class SetQualifier { kNone, kForAnyValue, kForAllValues };

struct ConditionValue {
  std::string text;          // as written; JSON numbers and booleans as their JSON text
  double number = 0;         // Numeric* operators
  std::int64_t time_ms = 0;  // Date* operators
  IpRange range;             // IpAddress, NotIpAddress
  bool flag = false;         // Bool and Null
};

// One `"Operator": {"key": values}` pair; a block with several keys gives one each.
struct Condition {
  std::string op_text;  // as written, e.g. "ForAllValues:StringLikeIfExists"
  ConditionOperator op = ConditionOperator::kStringEquals;
  SetQualifier qualifier = SetQualifier::kNone;
  bool if_exists = false;
  std::string key;                     // as written
  std::string key_lower;               // context keys compare case-insensitively
  std::vector<ConditionValue> values;  // ORed
};

struct Statement {
  std::size_t index = 0;  // position in the Statement array
  std::string sid;        // may be empty
  StatementEffect effect = StatementEffect::kAllow;
  bool not_action = false;
  std::vector<std::string> actions;
  bool has_resource = false;  // false only in resource policies that leave Resource out
  bool not_resource = false;
  std::vector<std::string> resources;
  bool not_principal = false;
  std::optional<PrincipalSpec> principal;  // absent in identity policies
  std::vector<Condition> conditions;       // ANDed

  // `statement 2 (Sid "AllowPull")` or `statement 3`: 1-based, for messages and audit.
  std::string label() const;
};

struct Policy {
  std::string name;  // set by the caller for decisions and audit ("inline policy ci of user deploy")
  PolicyKind kind = PolicyKind::kIdentity;
  std::string version;  // "2012-10-17" or "2008-10-17"
  std::string id;       // the optional top-level Id
  std::vector<Statement> statements;
};

// Parses and validates a policy document. `max_chars` counts Unicode characters, as the
// ECR API's length constraints do (kMaxRepositoryPolicyChars for repository and registry
// policies). Errors are kMalformedPolicy with a message that names the statement and the
// problem, e.g. `statement 2 (Sid "Pull"): Effect must be "Allow" or "Deny", not "allow"`;
// the protocol layer adds its own prefix ("Invalid parameter at 'PolicyText' ...").
Result<Policy> parse_policy(std::string_view text, PolicyKind kind, std::size_t max_chars);

}  // namespace berth::iam
