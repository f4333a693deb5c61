#include "iam/evaluator.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>
#include <span>

#include "iam/match.h"

namespace berth::iam {
namespace {

// The six components of an ARN; the last keeps any further colons.
struct ArnParts {
  std::array<std::string_view, 6> part;
  std::string_view partition() const { return part[1]; }
  std::string_view service() const { return part[2]; }
  std::string_view account() const { return part[4]; }
  std::string_view resource() const { return part[5]; }
};

std::optional<ArnParts> split_arn(std::string_view arn) {
  ArnParts out;
  for (size_t i = 0; i < 5; ++i) {
    const auto colon = arn.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    out.part[i] = arn.substr(0, colon);
    arn.remove_prefix(colon + 1);
  }
  out.part[5] = arn;
  if (out.part[0] != "arn") return std::nullopt;
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// For an assumed-role session, aws:PrincipalArn is the role's ARN, not the session's (as
// AWS documents). The session ARN carries no role path, so the ARN built here has none;
// the caller sets aws:PrincipalArn itself when roles have paths.
std::string session_role_arn(const std::string& principal_arn) {
  const auto arn = split_arn(principal_arn);
  if (!arn || arn->service() != "sts" || !starts_with(arn->resource(), "assumed-role/")) return principal_arn;
  std::string_view role = arn->resource().substr(std::string_view("assumed-role/").size());
  role = role.substr(0, role.find('/'));
  return fmt::format("arn:{}:iam::{}:role/{}", arn->partition(), arn->account(), role);
}

// The caller's own values for a condition key, or an empty span when the key is missing.
// `scratch` holds a value made up here (aws:PrincipalArn of a role session).
std::span<const std::string> lookup(const RequestContext& ctx, std::string_view key_lower, std::string& scratch) {
  for (const auto& [key, values] : ctx.keys) {
    if (iequals(key, key_lower)) return values;
  }
  if (!ctx.anonymous) {
    if (key_lower == "aws:principalarn" && !ctx.principal_arn.empty()) {
      scratch = session_role_arn(ctx.principal_arn);
      return {&scratch, 1};
    }
    if (key_lower == "aws:principalaccount" && !ctx.principal_account.empty()) return {&ctx.principal_account, 1};
  }
  return {};
}

template <class T>
bool compare(ConditionOperator op, T context, T policy) {
  switch (op) {
    case ConditionOperator::kDateEquals:
    case ConditionOperator::kDateNotEquals:  // negated by the caller
    case ConditionOperator::kNumericEquals:
    case ConditionOperator::kNumericNotEquals:
      return context == policy;
    case ConditionOperator::kDateLessThan:
    case ConditionOperator::kNumericLessThan:
      return context < policy;
    case ConditionOperator::kDateLessThanEquals:
    case ConditionOperator::kNumericLessThanEquals:
      return context <= policy;
    case ConditionOperator::kDateGreaterThan:
    case ConditionOperator::kNumericGreaterThan:
      return context > policy;
    case ConditionOperator::kDateGreaterThanEquals:
    case ConditionOperator::kNumericGreaterThanEquals:
      return context >= policy;
    case ConditionOperator::kStringEquals:
    case ConditionOperator::kStringNotEquals:
    case ConditionOperator::kStringEqualsIgnoreCase:
    case ConditionOperator::kStringNotEqualsIgnoreCase:
    case ConditionOperator::kStringLike:
    case ConditionOperator::kStringNotLike:
    case ConditionOperator::kArnEquals:
    case ConditionOperator::kArnLike:
    case ConditionOperator::kArnNotEquals:
    case ConditionOperator::kArnNotLike:
    case ConditionOperator::kIpAddress:
    case ConditionOperator::kNotIpAddress:
    case ConditionOperator::kBool:
    case ConditionOperator::kNull:
      return false;
  }
  return false;
}

// The operator's positive form ("StringEquals" for StringNotEquals): does this one
// context value match any of the policy's values (ORed)?
bool positive_match(const Condition& c, std::string_view value) {
  const auto any = [&](auto&& pred) { return std::any_of(c.values.begin(), c.values.end(), pred); };
  switch (c.op) {
    case ConditionOperator::kStringEquals:
    case ConditionOperator::kStringNotEquals:
      return any([&](const ConditionValue& v) { return v.text == value; });
    case ConditionOperator::kStringEqualsIgnoreCase:
    case ConditionOperator::kStringNotEqualsIgnoreCase:
      return any([&](const ConditionValue& v) { return iequals(v.text, value); });
    case ConditionOperator::kStringLike:
    case ConditionOperator::kStringNotLike:
      return any([&](const ConditionValue& v) { return wildcard_match(v.text, value, Case::kSensitive); });
    case ConditionOperator::kArnEquals:  // AWS documents ArnEquals and ArnLike alike (wildcards included)
    case ConditionOperator::kArnLike:
    case ConditionOperator::kArnNotEquals:
    case ConditionOperator::kArnNotLike:
      return any([&](const ConditionValue& v) { return arn_like(v.text, value); });
    case ConditionOperator::kIpAddress:
    case ConditionOperator::kNotIpAddress: {
      if (value.find('/') != std::string_view::npos) return false;  // an address, not a range
      const auto address = parse_ip_range(value);
      return address && any([&](const ConditionValue& v) { return ip_in_range(*address, v.range); });
    }
    case ConditionOperator::kDateEquals:
    case ConditionOperator::kDateNotEquals:
    case ConditionOperator::kDateLessThan:
    case ConditionOperator::kDateLessThanEquals:
    case ConditionOperator::kDateGreaterThan:
    case ConditionOperator::kDateGreaterThanEquals: {
      const auto t = parse_time_ms(value);
      return t && any([&](const ConditionValue& v) { return compare(c.op, *t, v.time_ms); });
    }
    case ConditionOperator::kNumericEquals:
    case ConditionOperator::kNumericNotEquals:
    case ConditionOperator::kNumericLessThan:
    case ConditionOperator::kNumericLessThanEquals:
    case ConditionOperator::kNumericGreaterThan:
    case ConditionOperator::kNumericGreaterThanEquals: {
      const auto n = parse_number(value);
      return n && any([&](const ConditionValue& v) { return compare(c.op, *n, v.number); });
    }
    case ConditionOperator::kBool: {
      const bool is_true = iequals(value, "true");
      if (!is_true && !iequals(value, "false")) return false;
      return any([&](const ConditionValue& v) { return v.flag == is_true; });
    }
    case ConditionOperator::kNull:
      return false;  // decided on presence alone, in condition_holds
  }
  return false;
}

// AWS's rules (IAM JSON policy elements: Condition operators; single- vs multivalued keys):
//  - a missing key (or one with no values) makes the condition false, except that negated
//    operators (StringNotEquals, NotIpAddress, ...) then hold, ...IfExists then holds,
//    ForAllValues: then holds and ForAnyValue: then fails; Null tests presence only;
//  - several policy values for one key are ORed (for negated operators: none may match);
//  - ForAnyValue: some context value must satisfy the operator, ForAllValues: every one;
//    without a qualifier a multivalued key behaves as ForAnyValue for positive operators
//    and, for negated ones, as "no value matches".
bool condition_holds(const Condition& c, const RequestContext& ctx) {
  std::string scratch;
  const auto values = lookup(ctx, c.key_lower, scratch);
  if (c.op == ConditionOperator::kNull) {
    const bool missing = values.empty();
    return std::any_of(c.values.begin(), c.values.end(), [&](const ConditionValue& v) { return v.flag == missing; });
  }
  const bool negated = is_negated(c.op);
  if (values.empty()) {
    if (c.if_exists) return true;
    switch (c.qualifier) {
      case SetQualifier::kForAllValues:
        return true;
      case SetQualifier::kForAnyValue:
        return false;
      case SetQualifier::kNone:
        return negated;
    }
  }
  const auto satisfies = [&](const std::string& v) { return positive_match(c, v) != negated; };
  switch (c.qualifier) {
    case SetQualifier::kForAnyValue:
      return std::any_of(values.begin(), values.end(), satisfies);
    case SetQualifier::kForAllValues:
      return std::all_of(values.begin(), values.end(), satisfies);
    case SetQualifier::kNone:
      return negated ? std::all_of(values.begin(), values.end(), satisfies)
                     : std::any_of(values.begin(), values.end(), satisfies);
  }
  return false;
}

bool is_account_root(const RequestContext& ctx) {
  if (ctx.anonymous || ctx.principal_account.empty()) return false;
  const auto arn = split_arn(ctx.principal_arn);
  return arn && arn->service() == "iam" && arn->account() == ctx.principal_account && arn->resource() == "root";
}

// Does a principal ARN from a policy name this caller? A role ARN also names the role's
// sessions (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), as in AWS.
bool names_caller(const std::string& policy_arn, const RequestContext& ctx) {
  if (policy_arn == ctx.principal_arn) return true;
  const auto caller = split_arn(ctx.principal_arn);
  if (!caller || caller->service() != "sts" || !starts_with(caller->resource(), "assumed-role/")) return false;
  std::string_view role = caller->resource().substr(std::string_view("assumed-role/").size());
  role = role.substr(0, role.find('/'));
  const auto named = split_arn(policy_arn);
  if (!named || named->service() != "iam" || named->partition() != caller->partition() ||
      named->account() != caller->account() || !starts_with(named->resource(), "role/")) {
    return false;
  }
  const std::string_view path = named->resource();
  return path.substr(path.rfind('/') + 1) == role;  // role/path/NAME: sessions carry NAME only
}

enum class PrincipalMatch { kNone, kAccount, kDirect };

PrincipalMatch match_principal(const PrincipalSpec& spec, const RequestContext& ctx) {
  if (spec.everyone) return PrincipalMatch::kDirect;
  if (ctx.anonymous) return PrincipalMatch::kNone;
  for (const auto& arn : spec.arns) {
    if (names_caller(arn, ctx)) return PrincipalMatch::kDirect;
  }
  for (const auto& service : spec.services) {
    if (service == ctx.principal_arn) return PrincipalMatch::kDirect;
  }
  for (const auto& account : spec.accounts) {
    if (account == ctx.principal_account) {
      return is_account_root(ctx) ? PrincipalMatch::kDirect : PrincipalMatch::kAccount;
    }
  }
  return PrincipalMatch::kNone;
}

// NotPrincipal (Deny only): the statement applies to every caller it does not exempt. As
// AWS documents, a user or role is exempt only when both it and its account are listed
// (AWS checks the account, then the role, then the session); the root needs its account.
bool not_principal_applies(const PrincipalSpec& spec, const RequestContext& ctx) {
  if (spec.everyone) return false;
  if (ctx.anonymous) return true;
  for (const auto& service : spec.services) {
    if (service == ctx.principal_arn) return false;
  }
  const bool account_listed =
      std::find(spec.accounts.begin(), spec.accounts.end(), ctx.principal_account) != spec.accounts.end();
  if (!account_listed) return true;
  if (is_account_root(ctx)) return false;
  return std::none_of(spec.arns.begin(), spec.arns.end(),
                      [&](const std::string& arn) { return names_caller(arn, ctx); });
}

struct StatementMatch {
  bool applies = false;
  bool via_account = false;
};

StatementMatch match_statement(const Statement& s, const RequestContext& ctx) {
  const bool action_listed = std::any_of(s.actions.begin(), s.actions.end(), [&](const std::string& a) {
    return wildcard_match(a, ctx.action, Case::kInsensitive);
  });
  if (action_listed == s.not_action) return {};
  if (s.has_resource) {
    const bool resource_listed = std::any_of(s.resources.begin(), s.resources.end(),
                                             [&](const std::string& r) { return resource_match(r, ctx.resource); });
    if (resource_listed == s.not_resource) return {};
  }
  StatementMatch m{true, false};
  if (s.principal) {
    if (s.not_principal) {
      if (!not_principal_applies(*s.principal, ctx)) return {};
    } else {
      const PrincipalMatch p = match_principal(*s.principal, ctx);
      if (p == PrincipalMatch::kNone) return {};
      m.via_account = p == PrincipalMatch::kAccount;
    }
  }
  for (const auto& c : s.conditions) {
    if (!condition_holds(c, ctx)) return {};
  }
  return m;
}

}  // namespace

Evaluation evaluate_detailed(const Policy& policy, const RequestContext& context) {
  Evaluation allow;
  for (const auto& s : policy.statements) {
    const StatementMatch m = match_statement(s, context);
    if (!m.applies) continue;
    if (s.effect == StatementEffect::kDeny) return {Effect::kExplicitDeny, &s, false};
    // Keep the first Allow, unless a later one names the caller directly.
    if (allow.effect == Effect::kNotApplicable || (allow.via_account && !m.via_account)) {
      allow = {Effect::kAllow, &s, m.via_account};
    }
  }
  return allow;
}

Effect evaluate(const Policy& policy, const RequestContext& context) {
  return evaluate_detailed(policy, context).effect;
}

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAllow:
      return "Allow";
    case Verdict::kExplicitDeny:
      return "ExplicitDeny";
    case Verdict::kImplicitDeny:
      return "ImplicitDeny";
  }
  return "ImplicitDeny";
}

namespace {

// A policy's verdict, kept as pointers until a Decision is built: strings are made once,
// for the decision that is returned.
struct Found {
  const Policy* policy = nullptr;
  const Statement* statement = nullptr;
  size_t identity_index = 0;  // 1-based position among identity policies; 0 for resource policies
  bool via_account = false;
};

std::string found_name(const Found& f, const AuthorizationInput& input) {
  if (!f.policy->name.empty()) return f.policy->name;
  if (f.identity_index > 0) return fmt::format("identity policy {}", f.identity_index);
  return f.policy == input.repository_policy ? "repository policy" : "registry policy";
}

Decision decided(Verdict verdict, std::string reason, const Found& f, const AuthorizationInput& input) {
  return {verdict, std::move(reason), found_name(f, input), f.statement->label()};
}

}  // namespace

Decision authorize(const AuthorizationInput& input, const RequestContext& context) {
  const bool anonymous = context.anonymous;
  const std::string& caller_account = input.caller_account.empty() ? context.principal_account : input.caller_account;
  const bool same_account = !anonymous && !caller_account.empty() && caller_account == input.resource_account;
  const bool root = !anonymous && input.caller_is_root;

  // Identity side: anonymous callers have none.
  Found identity_allow;
  if (!anonymous) {
    for (size_t i = 0; i < input.identity_policies.size(); ++i) {
      const Policy* p = input.identity_policies[i];
      if (p == nullptr) continue;
      const Evaluation e = evaluate_detailed(*p, context);
      if (e.effect == Effect::kExplicitDeny) {
        return decided(Verdict::kExplicitDeny, "with an explicit deny in an identity-based policy",
                       {p, e.statement, i + 1, false}, input);
      }
      if (e.effect == Effect::kAllow && identity_allow.policy == nullptr)
        identity_allow = {p, e.statement, i + 1, false};
    }
  }

  // Resource side: the repository policy, then the registry policy. Prefer an Allow that
  // names the caller (or everyone) over one that names only its account.
  Found resource_allow;
  for (const Policy* p : {input.repository_policy, input.registry_policy}) {
    if (p == nullptr) continue;
    const Evaluation e = evaluate_detailed(*p, context);
    if (e.effect == Effect::kExplicitDeny) {
      return decided(Verdict::kExplicitDeny, "with an explicit deny in a resource-based policy",
                     {p, e.statement, 0, false}, input);
    }
    if (e.effect == Effect::kAllow &&
        (resource_allow.policy == nullptr || (resource_allow.via_account && !e.via_account))) {
      resource_allow = {p, e.statement, 0, e.via_account};
    }
  }
  const bool identity_allows = identity_allow.policy != nullptr;
  const bool resource_allows = resource_allow.policy != nullptr;  // the caller, its account or everyone
  const bool resource_allows_direct = resource_allows && !resource_allow.via_account;  // the caller or everyone
  const auto allowed_by_resource = [&](std::string_view tail) {
    return decided(Verdict::kAllow, fmt::format("allowed by the {}{}", found_name(resource_allow, input), tail),
                   resource_allow, input);
  };

  const std::string& action = context.action;
  if (anonymous) {
    if (resource_allows_direct) return allowed_by_resource("");
    return {Verdict::kImplicitDeny,
            fmt::format("because no resource-based policy allows the {} action for anonymous callers", action), "", ""};
  }
  if (same_account) {
    if (root) return {Verdict::kAllow, "allowed: the caller is the account root", "account root", ""};
    if (identity_allows) {
      return decided(Verdict::kAllow, "allowed by an identity-based policy", identity_allow, input);
    }
    if (resource_allows_direct) return allowed_by_resource("");
    std::string reason = fmt::format("because no identity-based policy allows the {} action", action);
    if (resource_allows) {
      reason += fmt::format(" (the {} grants it to the account, which leaves the decision to identity-based policies)",
                            found_name(resource_allow, input));
    }
    return {Verdict::kImplicitDeny, std::move(reason), "", ""};
  }
  // Cross-account: both sides must allow.
  if (!resource_allows) {
    return {Verdict::kImplicitDeny,
            fmt::format("because no resource-based policy allows the {} action for a caller from account {}", action,
                        caller_account.empty() ? std::string("(unknown)") : caller_account),
            "", ""};
  }
  if (!root && !identity_allows) {
    return {Verdict::kImplicitDeny, fmt::format("because no identity-based policy allows the {} action", action), "",
            ""};
  }
  return allowed_by_resource(root ? " to the other account's root" : " and by an identity-based policy");
}

std::string access_denied_message(const RequestContext& context, const Decision& decision) {
  const std::string_view who = context.anonymous || context.principal_arn.empty()
                                   ? std::string_view("anonymous")
                                   : std::string_view(context.principal_arn);
  return fmt::format("User: {} is not authorized to perform: {} on resource: {} {}", who, context.action,
                     context.resource, decision.reason);
}

}  // namespace berth::iam
