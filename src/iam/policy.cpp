#include "iam/policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

namespace berth::iam {
namespace {

using nlohmann::json;

struct OperatorName {
  std::string_view name;
  ConditionOperator op;
};

constexpr OperatorName kOperators[] = {
    {"StringEquals", ConditionOperator::kStringEquals},
    {"StringNotEquals", ConditionOperator::kStringNotEquals},
    {"StringEqualsIgnoreCase", ConditionOperator::kStringEqualsIgnoreCase},
    {"StringNotEqualsIgnoreCase", ConditionOperator::kStringNotEqualsIgnoreCase},
    {"StringLike", ConditionOperator::kStringLike},
    {"StringNotLike", ConditionOperator::kStringNotLike},
    {"ArnEquals", ConditionOperator::kArnEquals},
    {"ArnLike", ConditionOperator::kArnLike},
    {"ArnNotEquals", ConditionOperator::kArnNotEquals},
    {"ArnNotLike", ConditionOperator::kArnNotLike},
    {"IpAddress", ConditionOperator::kIpAddress},
    {"NotIpAddress", ConditionOperator::kNotIpAddress},
    {"DateEquals", ConditionOperator::kDateEquals},
    {"DateNotEquals", ConditionOperator::kDateNotEquals},
    {"DateLessThan", ConditionOperator::kDateLessThan},
    {"DateLessThanEquals", ConditionOperator::kDateLessThanEquals},
    {"DateGreaterThan", ConditionOperator::kDateGreaterThan},
    {"DateGreaterThanEquals", ConditionOperator::kDateGreaterThanEquals},
    {"NumericEquals", ConditionOperator::kNumericEquals},
    {"NumericNotEquals", ConditionOperator::kNumericNotEquals},
    {"NumericLessThan", ConditionOperator::kNumericLessThan},
    {"NumericLessThanEquals", ConditionOperator::kNumericLessThanEquals},
    {"NumericGreaterThan", ConditionOperator::kNumericGreaterThan},
    {"NumericGreaterThanEquals", ConditionOperator::kNumericGreaterThanEquals},
    {"Bool", ConditionOperator::kBool},
    {"Null", ConditionOperator::kNull},
};

enum class ValueKind { kString, kArn, kIp, kDate, kNumber, kBool };

ValueKind value_kind(ConditionOperator op) {
  switch (op) {
    case ConditionOperator::kStringEquals:
    case ConditionOperator::kStringNotEquals:
    case ConditionOperator::kStringEqualsIgnoreCase:
    case ConditionOperator::kStringNotEqualsIgnoreCase:
    case ConditionOperator::kStringLike:
    case ConditionOperator::kStringNotLike:
      return ValueKind::kString;
    case ConditionOperator::kArnEquals:
    case ConditionOperator::kArnLike:
    case ConditionOperator::kArnNotEquals:
    case ConditionOperator::kArnNotLike:
      return ValueKind::kArn;
    case ConditionOperator::kIpAddress:
    case ConditionOperator::kNotIpAddress:
      return ValueKind::kIp;
    case ConditionOperator::kDateEquals:
    case ConditionOperator::kDateNotEquals:
    case ConditionOperator::kDateLessThan:
    case ConditionOperator::kDateLessThanEquals:
    case ConditionOperator::kDateGreaterThan:
    case ConditionOperator::kDateGreaterThanEquals:
      return ValueKind::kDate;
    case ConditionOperator::kNumericEquals:
    case ConditionOperator::kNumericNotEquals:
    case ConditionOperator::kNumericLessThan:
    case ConditionOperator::kNumericLessThanEquals:
    case ConditionOperator::kNumericGreaterThan:
    case ConditionOperator::kNumericGreaterThanEquals:
      return ValueKind::kNumber;
    case ConditionOperator::kBool:
    case ConditionOperator::kNull:
      return ValueKind::kBool;
  }
  return ValueKind::kString;
}

// Text from the policy echoed in a message: cut to a readable length (at a character
// boundary, so the message stays valid UTF-8) and quoted as JSON.
constexpr std::size_t kMaxShown = 100;

std::string json_quote(std::string_view s) {
  if (s.size() <= kMaxShown) return json(std::string(s)).dump();
  std::size_t cut = kMaxShown;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return json(std::string(s.substr(0, cut))).dump() + "...";
}

std::string shown(const json& v) {
  if (v.is_string()) return json_quote(v.get_ref<const std::string&>());
  if (v.is_array() || v.is_object()) return v.empty() ? v.dump() : std::string(v.is_array() ? "an array" : "an object");
  return v.dump();
}

// Unicode characters in UTF-8 text (the JSON parser rejects malformed UTF-8 later).
std::size_t count_chars(std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool is_account_id(std::string_view s) {
  return s.size() == 12 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

std::string type_name(const json& v) { return v.type_name(); }

// A parse in progress: one statement's label prefixes every message.
class Parser {
 public:
  explicit Parser(PolicyKind kind) : kind_(kind) {}

  Result<Policy> run(const json& doc) {
    if (!doc.is_object()) return error("", fmt::format("the policy must be a JSON object, not {}", type_name(doc)));
    if (const auto v = doc.find("Version"); v != doc.end() && *v == "2012-10-17") variables_ = true;
    Policy policy;
    policy.kind = kind_;
    policy.version = "2008-10-17";  // AWS's default when Version is left out
    for (const auto& [key, value] : doc.items()) {
      if (key == "Version") {
        if (!value.is_string() || (value != "2012-10-17" && value != "2008-10-17")) {
          return error("", fmt::format("Version must be \"2012-10-17\" or \"2008-10-17\", not {}", shown(value)));
        }
        policy.version = value.get<std::string>();
      } else if (key == "Id") {
        if (!value.is_string()) return error("", fmt::format("Id must be a string, not {}", type_name(value)));
        policy.id = value.get<std::string>();
      } else if (key != "Statement") {
        return error("",
                     fmt::format("unknown top-level key {}; a policy has Version, Id and Statement", json_quote(key)));
      }
    }
    const auto statements = doc.find("Statement");
    if (statements == doc.end()) return error("", "the policy has no Statement");
    if (statements->is_object()) {
      BERTH_TRY(auto s, statement(*statements, 0));
      policy.statements.push_back(std::move(s));
    } else if (statements->is_array()) {
      if (statements->empty()) return error("", "Statement must contain at least one statement");
      for (std::size_t i = 0; i < statements->size(); ++i) {
        BERTH_TRY(auto s, statement((*statements)[i], i));
        policy.statements.push_back(std::move(s));
      }
    } else {
      return error("",
                   fmt::format("Statement must be an object or an array of objects, not {}", type_name(*statements)));
    }
    return policy;
  }

 private:
  tl::unexpected<Error> error(const std::string& where, const std::string& what) const {
    return fail(ErrorCode::kMalformedPolicy, where.empty() ? what : where + ": " + what);
  }

  Result<Statement> statement(const json& v, std::size_t index) {
    Statement s;
    s.index = index;
    std::string where = s.label();
    if (!v.is_object()) return error(where, fmt::format("a statement must be a JSON object, not {}", type_name(v)));
    if (const auto sid = v.find("Sid"); sid != v.end()) {
      if (!sid->is_string()) return error(where, fmt::format("Sid must be a string, not {}", type_name(*sid)));
      s.sid = sid->get<std::string>();
      where = s.label();
      if (!s.sid.empty() && !sids_.insert(s.sid).second) {
        return error(where, "Sid " + json_quote(s.sid) + " is used by an earlier statement; Sids must be unique");
      }
    }
    for (const auto& [key, value] : v.items()) {
      static constexpr std::string_view kKeys[] = {"Sid",         "Effect",    "Action",       "NotAction", "Resource",
                                                   "NotResource", "Principal", "NotPrincipal", "Condition"};
      if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
        return error(where, fmt::format("unknown key {}; a statement has Sid, Effect, Action or NotAction, Resource or "
                                        "NotResource, Principal or NotPrincipal, and Condition",
                                        json_quote(key)));
      }
    }

    const auto effect = v.find("Effect");
    if (effect == v.end()) return error(where, "Effect is missing; it must be \"Allow\" or \"Deny\"");
    if (*effect == "Allow") {
      s.effect = StatementEffect::kAllow;
    } else if (*effect == "Deny") {
      s.effect = StatementEffect::kDeny;
    } else {
      return error(where, fmt::format("Effect must be \"Allow\" or \"Deny\", not {}", shown(*effect)));
    }

    // Action / NotAction
    const auto action = v.find("Action");
    const auto not_action = v.find("NotAction");
    if (action != v.end() && not_action != v.end()) return error(where, "Action and NotAction cannot both be given");
    if (action == v.end() && not_action == v.end()) return error(where, "Action or NotAction is required");
    s.not_action = not_action != v.end();
    const std::string action_key = s.not_action ? "NotAction" : "Action";
    BERTH_TRY(s.actions, strings(s.not_action ? *not_action : *action, where, action_key));
    for (const auto& a : s.actions) BERTH_TRY_VOID(check_action(a, where, action_key));

    // Resource / NotResource
    const auto resource = v.find("Resource");
    const auto not_resource = v.find("NotResource");
    if (resource != v.end() && not_resource != v.end()) {
      return error(where, "Resource and NotResource cannot both be given");
    }
    s.has_resource = resource != v.end() || not_resource != v.end();
    if (!s.has_resource && kind_ == PolicyKind::kIdentity) {
      return error(where, "Resource or NotResource is required in an identity policy");
    }
    if (s.has_resource) {
      s.not_resource = not_resource != v.end();
      const std::string key = s.not_resource ? "NotResource" : "Resource";
      BERTH_TRY(s.resources, strings(s.not_resource ? *not_resource : *resource, where, key));
      for (const auto& r : s.resources) {
        BERTH_TRY_VOID(check_resource(r, where, key));
        BERTH_TRY_VOID(check_no_variable(r, where, key));
      }
    }

    // Principal / NotPrincipal
    const auto principal = v.find("Principal");
    const auto not_principal = v.find("NotPrincipal");
    if (kind_ == PolicyKind::kIdentity) {
      if (principal != v.end() || not_principal != v.end()) {
        return error(where, fmt::format("{} is not allowed in an identity policy: the principal is the user or role "
                                        "the policy is attached to",
                                        principal != v.end() ? "Principal" : "NotPrincipal"));
      }
    } else {
      if (principal != v.end() && not_principal != v.end()) {
        return error(where, "Principal and NotPrincipal cannot both be given");
      }
      if (principal == v.end() && not_principal == v.end()) {
        return error(where, "Principal or NotPrincipal is required in a resource policy");
      }
      s.not_principal = not_principal != v.end();
      if (s.not_principal && s.effect == StatementEffect::kAllow) {
        return error(where, "NotPrincipal can only be used with \"Effect\": \"Deny\"");
      }
      BERTH_TRY(auto spec, principal_spec(s.not_principal ? *not_principal : *principal, where,
                                          s.not_principal ? "NotPrincipal" : "Principal"));
      s.principal = std::move(spec);
    }

    if (const auto condition = v.find("Condition"); condition != v.end()) {
      BERTH_TRY(s.conditions, conditions(*condition, where));
    }
    return s;
  }

  // A string or a non-empty array of strings.
  Result<std::vector<std::string>> strings(const json& v, const std::string& where, const std::string& key) const {
    std::vector<std::string> out;
    if (v.is_string()) {
      out.push_back(v.get<std::string>());
      return out;
    }
    if (!v.is_array()) {
      return error(where, fmt::format("{} must be a string or an array of strings, not {}", key, type_name(v)));
    }
    if (v.empty()) return error(where, key + " must not be an empty array");
    for (const auto& item : v) {
      if (!item.is_string()) {
        return error(where, fmt::format("{} must contain only strings, found {}", key, shown(item)));
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  Result<void> check_action(const std::string& a, const std::string& where, const std::string& key) const {
    if (a == "*") return {};
    const auto colon = a.find(':');
    auto bad = [&](std::string_view why) {
      return error(where, fmt::format("{} {} is not valid: {}; write service:ActionName, e.g. \"ecr:BatchGetImage\" "
                                      "(wildcards * and ? allowed)",
                                      key, json_quote(a), why));
    };
    if (colon == std::string::npos) return bad("it has no service prefix");
    const std::string_view service(a.data(), colon);
    const std::string_view name = std::string_view(a).substr(colon + 1);
    if (service.empty() ||
        !std::all_of(service.begin(), service.end(), [](char c) { return is_alnum(c) || c == '-'; })) {
      return bad("the service prefix must be letters, digits and '-'");
    }
    if (name.empty() ||
        !std::all_of(name.begin(), name.end(), [](char c) { return is_alnum(c) || c == '*' || c == '?'; })) {
      return bad("the action name must be letters and digits, with * and ? as wildcards");
    }
    return {};
  }

  // Version 2012-10-17 substitutes ${aws:username}-style policy variables in Resource and
  // condition values. berth does not yet; taking them literally would make a Deny that
  // uses one silently never apply, so such policies are refused.
  Result<void> check_no_variable(const std::string& text, const std::string& where, const std::string& what) const {
    if (!variables_ || text.find("${") == std::string::npos) return {};
    return error(where, fmt::format("{} {} uses a policy variable; berth does not support policy variables yet", what,
                                    json_quote(text)));
  }

  Result<void> check_resource(const std::string& r, const std::string& where, const std::string& key) const {
    if (r == "*") return {};
    if (r.rfind("arn:", 0) == 0 && std::count(r.begin(), r.end(), ':') >= 3) return {};
    return error(where, fmt::format("{} {} must be \"*\" or an ARN such as "
                                    "\"arn:aws:ecr:us-east-1:123456789012:repository/my-app\"",
                                    key, json_quote(r)));
  }

  Result<PrincipalSpec> principal_spec(const json& v, const std::string& where, const std::string& key) const {
    PrincipalSpec spec;
    if (v.is_string()) {
      if (v == "*") {
        spec.everyone = true;
        return spec;
      }
      return error(where, fmt::format("{} must be \"*\" or an object such as {{\"AWS\": "
                                      "\"arn:aws:iam::123456789012:root\"}}, not {}",
                                      key, shown(v)));
    }
    if (!v.is_object() || v.empty()) {
      return error(where, fmt::format("{} must be \"*\" or an object with \"AWS\" or \"Service\", not {}", key,
                                      v.is_object() ? "an empty object" : type_name(v)));
    }
    for (const auto& [type, values] : v.items()) {
      if (type == "AWS") {
        BERTH_TRY(auto list, strings(values, where, key + ".AWS"));
        for (auto& p : list) BERTH_TRY_VOID(aws_principal(p, spec, where, key));
      } else if (type == "Service") {
        BERTH_TRY(auto list, strings(values, where, key + ".Service"));
        for (auto& p : list) {
          if (p.empty()) return error(where, key + ".Service must not contain an empty name");
          spec.services.push_back(std::move(p));
        }
      } else if (type == "Federated" || type == "CanonicalUser") {
        return error(where, fmt::format("{} type {} is not supported by berth; use \"AWS\" or \"Service\"", key,
                                        json_quote(type)));
      } else {
        return error(where, fmt::format("unknown {} type {}; use \"AWS\" or \"Service\"", key, json_quote(type)));
      }
    }
    return spec;
  }

  Result<void> aws_principal(const std::string& p, PrincipalSpec& spec, const std::string& where,
                             const std::string& key) const {
    if (p == "*") {
      spec.everyone = true;
      return {};
    }
    if (is_account_id(p)) {
      spec.accounts.push_back(p);
      return {};
    }
    auto bad = [&](std::string_view why) {
      return error(where, fmt::format("{} {} is not valid: {}", key, json_quote(p), why));
    };
    if (p.find_first_of("*?") != std::string::npos) {
      return bad(
          "wildcards are not allowed in principals except \"*\" itself; to match principals by pattern use a "
          "Condition with ArnLike on aws:PrincipalArn");
    }
    // arn:PARTITION:iam::ACCOUNT:root | user/... | role/...   or   arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION
    constexpr std::string_view kExpected =
        "expected a 12-digit account id, \"arn:aws:iam::123456789012:root\", an IAM user or role ARN, or \"*\"";
    std::vector<std::string_view> parts;
    std::string_view rest = p;
    for (int i = 0; i < 5; ++i) {
      const auto colon = rest.find(':');
      if (colon == std::string_view::npos) return bad(kExpected);
      parts.push_back(rest.substr(0, colon));
      rest.remove_prefix(colon + 1);
    }
    parts.push_back(rest);
    const bool partition_ok = !parts[1].empty() && std::all_of(parts[1].begin(), parts[1].end(), [](char c) {
      return (c >= 'a' && c <= 'z') || c == '-';
    });
    if (parts[0] != "arn" || !partition_ok || !parts[3].empty() || !is_account_id(parts[4])) return bad(kExpected);
    const std::string_view resource = parts[5];
    auto named = [&](std::string_view prefix) {
      return resource.size() > prefix.size() && resource.substr(0, prefix.size()) == prefix && resource.back() != '/';
    };
    if (parts[2] == "iam") {
      if (resource == "root") {
        spec.accounts.emplace_back(parts[4]);
        return {};
      }
      if (named("user/") || named("role/")) {
        spec.arns.push_back(p);
        return {};
      }
    } else if (parts[2] == "sts") {
      const std::string_view session =
          resource.substr(std::min(resource.size(), std::string_view("assumed-role/").size()));
      if (named("assumed-role/") && session.find('/') != std::string_view::npos && session.front() != '/') {
        spec.arns.push_back(p);
        return {};
      }
    }
    return bad(kExpected);
  }

  Result<std::vector<Condition>> conditions(const json& v, const std::string& where) const {
    if (!v.is_object()) {
      return error(where,
                   fmt::format("Condition must be an object such as {{\"StringEquals\": {{\"aws:PrincipalAccount\": "
                               "\"123456789012\"}}}}, not {}",
                               type_name(v)));
    }
    std::vector<Condition> out;
    for (const auto& [op_text, block] : v.items()) {
      Condition proto;
      proto.op_text = op_text;
      std::string_view name = op_text;
      if (name.rfind("ForAnyValue:", 0) == 0) {
        proto.qualifier = SetQualifier::kForAnyValue;
        name.remove_prefix(std::string_view("ForAnyValue:").size());
      } else if (name.rfind("ForAllValues:", 0) == 0) {
        proto.qualifier = SetQualifier::kForAllValues;
        name.remove_prefix(std::string_view("ForAllValues:").size());
      }
      constexpr std::string_view kIfExists = "IfExists";
      if (name.size() > kIfExists.size() && name.substr(name.size() - kIfExists.size()) == kIfExists) {
        proto.if_exists = true;
        name.remove_suffix(kIfExists.size());
      }
      const auto known = std::find_if(std::begin(kOperators), std::end(kOperators),
                                      [&](const OperatorName& o) { return o.name == name; });
      if (known == std::end(kOperators)) {
        return error(where, fmt::format("unknown condition operator {}; operators are StringEquals, StringLike, "
                                        "ArnLike, IpAddress, DateGreaterThan, NumericLessThan, Bool, Null and their "
                                        "Not/IfExists/ForAnyValue:/ForAllValues: forms (names are case-sensitive)",
                                        json_quote(op_text)));
      }
      proto.op = known->op;
      if (proto.op == ConditionOperator::kNull && (proto.if_exists || proto.qualifier != SetQualifier::kNone)) {
        return error(where, fmt::format("condition operator {}: Null takes no IfExists suffix and no ForAnyValue:/"
                                        "ForAllValues: prefix",
                                        json_quote(op_text)));
      }
      if (!block.is_object() || block.empty()) {
        return error(where, fmt::format("condition operator {} must map condition keys to values, e.g. "
                                        "{{\"aws:SourceIp\": \"203.0.113.0/24\"}}",
                                        json_quote(op_text)));
      }
      for (const auto& [key, values] : block.items()) {
        Condition c = proto;
        c.key = key;
        const auto colon = key.find(':');
        if (colon == 0 || colon == std::string::npos || colon + 1 == key.size()) {
          return error(where, fmt::format("condition key {} under {} must look like prefix:name, e.g. "
                                          "\"aws:SourceIp\"",
                                          json_quote(key), op_text));
        }
        c.key_lower.reserve(key.size());
        for (char ch : key) c.key_lower.push_back((ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch);
        std::vector<const json*> items;
        if (values.is_array()) {
          if (values.empty()) {
            return error(where, fmt::format("condition {} {} has an empty list of values", op_text, json_quote(key)));
          }
          for (const auto& item : values) items.push_back(&item);
        } else {
          items.push_back(&values);
        }
        for (const json* item : items) {
          BERTH_TRY(auto value, condition_value(*item, c, where));
          c.values.push_back(std::move(value));
        }
        out.push_back(std::move(c));
      }
    }
    return out;
  }

  Result<ConditionValue> condition_value(const json& item, const Condition& c, const std::string& where) const {
    ConditionValue value;
    if (item.is_string()) {
      value.text = item.get<std::string>();
    } else if (item.is_number() || item.is_boolean()) {
      value.text = item.dump();
    } else {
      return error(where, fmt::format("condition {} {}: values must be strings, numbers or booleans, found {}",
                                      c.op_text, json_quote(c.key), shown(item)));
    }
    auto bad = [&](std::string_view expected) {
      return error(where, fmt::format("condition {} {}: {} is not {}", c.op_text, json_quote(c.key),
                                      json_quote(value.text), expected));
    };
    switch (value_kind(c.op)) {
      case ValueKind::kString:
      case ValueKind::kArn:
        BERTH_TRY_VOID(
            check_no_variable(value.text, where, fmt::format("condition {} {}:", c.op_text, json_quote(c.key))));
        break;
      case ValueKind::kIp: {
        const auto range = parse_ip_range(value.text);
        if (!range) return bad("an IPv4 or IPv6 address or CIDR range such as \"203.0.113.0/24\"");
        value.range = *range;
        break;
      }
      case ValueKind::kDate: {
        const auto t = parse_time_ms(value.text);
        if (!t) return bad("a date: use ISO 8601 (\"2024-05-01T00:00:00Z\") or epoch seconds");
        value.time_ms = *t;
        break;
      }
      case ValueKind::kNumber: {
        const auto n = parse_number(value.text);
        if (!n) return bad("a number");
        value.number = *n;
        break;
      }
      case ValueKind::kBool:
        if (iequals(value.text, "true")) {
          value.flag = true;
        } else if (iequals(value.text, "false")) {
          value.flag = false;
        } else {
          return bad("\"true\" or \"false\"");
        }
        break;
    }
    return value;
  }

  PolicyKind kind_;
  bool variables_ = false;  // Version 2012-10-17
  std::set<std::string> sids_;
};

// Finds duplicate keys, which nlohmann::json would otherwise resolve silently (last one
// wins): a second "Effect" must not quietly replace the first.
class DuplicateKeyCheck {
 public:
  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        keys_.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys_.empty()) keys_.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys_.empty() && !keys_.back().insert(parsed.get<std::string>()).second && duplicate_->empty()) {
          *duplicate_ = parsed.get<std::string>();
        }
        break;
      case json::parse_event_t::array_start:
      case json::parse_event_t::array_end:
      case json::parse_event_t::value:
        break;
    }
    return true;
  }
  explicit DuplicateKeyCheck(std::string* duplicate) : duplicate_(duplicate) {}

 private:
  std::vector<std::set<std::string>> keys_;
  std::string* duplicate_;
};

}  // namespace

std::string_view to_string(ConditionOperator op) {
  for (const auto& o : kOperators) {
    if (o.op == op) return o.name;
  }
  return "Unknown";
}

bool is_negated(ConditionOperator op) {
  switch (op) {
    case ConditionOperator::kStringNotEquals:
    case ConditionOperator::kStringNotEqualsIgnoreCase:
    case ConditionOperator::kStringNotLike:
    case ConditionOperator::kArnNotEquals:
    case ConditionOperator::kArnNotLike:
    case ConditionOperator::kNotIpAddress:
    case ConditionOperator::kDateNotEquals:
    case ConditionOperator::kNumericNotEquals:
      return true;
    case ConditionOperator::kStringEquals:
    case ConditionOperator::kStringEqualsIgnoreCase:
    case ConditionOperator::kStringLike:
    case ConditionOperator::kArnEquals:
    case ConditionOperator::kArnLike:
    case ConditionOperator::kIpAddress:
    case ConditionOperator::kDateEquals:
    case ConditionOperator::kDateLessThan:
    case ConditionOperator::kDateLessThanEquals:
    case ConditionOperator::kDateGreaterThan:
    case ConditionOperator::kDateGreaterThanEquals:
    case ConditionOperator::kNumericEquals:
    case ConditionOperator::kNumericLessThan:
    case ConditionOperator::kNumericLessThanEquals:
    case ConditionOperator::kNumericGreaterThan:
    case ConditionOperator::kNumericGreaterThanEquals:
    case ConditionOperator::kBool:
    case ConditionOperator::kNull:
      return false;
  }
  return false;
}

std::string Statement::label() const {
  if (sid.empty()) return fmt::format("statement {}", index + 1);
  // Decisions carry the label, so the common case (a plain Sid) skips JSON quoting.
  const bool plain = sid.size() <= kMaxShown && std::all_of(sid.begin(), sid.end(), [](char c) {
                       return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
                     });
  if (plain) return fmt::format("statement {} (Sid \"{}\")", index + 1, sid);
  return fmt::format("statement {} (Sid {})", index + 1, json_quote(sid));
}

Result<Policy> parse_policy(std::string_view text, PolicyKind kind, std::size_t max_chars) {
  const std::size_t chars = count_chars(text);
  if (chars > max_chars) {
    return fail(ErrorCode::kMalformedPolicy,
                fmt::format("the policy is {} characters long; the limit is {}", chars, max_chars));
  }
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return fail(ErrorCode::kMalformedPolicy, "the policy is empty");
  }
  try {
    std::string duplicate;
    const json doc = json::parse(text.begin(), text.end(), DuplicateKeyCheck(&duplicate));
    if (!duplicate.empty()) {
      return fail(ErrorCode::kMalformedPolicy,
                  fmt::format("the key {} appears twice in one JSON object", json_quote(duplicate)));
    }
    return Parser(kind).run(doc);
  } catch (const json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 9: ..." without the bracketed id.
    std::string_view what = e.what();
    if (const auto close = what.find("] "); what.rfind("[json.exception", 0) == 0 && close != std::string_view::npos) {
      what.remove_prefix(close + 2);
    }
    return fail(ErrorCode::kMalformedPolicy, fmt::format("the policy is not valid JSON: {}", what));
  }
}

}  // namespace berth::iam
