#include "app/admin.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/wiring.h"
#include "iam/policy.h"
#include "scanning/pull_gate.h"
#include "sts/api.h"

namespace berth::app {
namespace {

using nlohmann::json;

// IAM's own limits: names of 1-64 characters from [A-Za-z0-9+=,.@_-]; an inline policy
// document of up to 2048 characters for users (10240 for roles; one limit keeps it simple).
constexpr size_t kMaxIdentityPolicyChars = 10240;
constexpr char kDefaultPolicyName[] = "default";

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("+=,.@_-").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool is_account_id(const std::string& s) {
  return s.size() == 12 && s.find_first_not_of("0123456789") == std::string::npos;
}

// A policy document from a file, validated as `kind` before anything uses it.
Result<std::string> read_policy(const std::string& path, iam::PolicyKind kind = iam::PolicyKind::kIdentity,
                                size_t max_chars = kMaxIdentityPolicyChars) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kInvalidParameter, "cannot read policy file " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = iam::parse_policy(text.str(), kind, max_chars);
  if (!parsed) return fail(ErrorCode::kMalformedPolicy, "policy file " + path + ": " + parsed.error().message);
  return text.str();
}

std::string random_account_id() {
  // Twelve digits not starting with 0, from the kernel's random source.
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  std::string out;
  while (out.size() < 12) {
    const int c = urandom.get();
    if (c < 0) break;
    if (c >= 250) continue;  // keeps the digits uniform
    const char d = static_cast<char>('0' + c % 10);
    if (out.empty() && d == '0') continue;
    out.push_back(d);
  }
  return out;
}

// {"scope": "registry" | "repository", "repositoryName"?, "pullGate": {...} | null}
json gate_json(const std::string& repository, const std::optional<scanning::PullGatePolicy>& policy) {
  json out = {{"scope", repository.empty() ? "registry" : "repository"},
              {"pullGate", policy ? scanning::to_json(*policy) : json(nullptr)}};
  if (!repository.empty()) out["repositoryName"] = repository;
  return out;
}

class Admin {
 public:
  explicit Admin(Registry& r) : r_(r) {}

  // The account a --account-id names: the registry's own, or one made by create-account.
  Result<std::string> account(const std::string& requested) {
    const std::string& own = r_.identity->account_id();
    if (requested.empty() || requested == own) return own;
    BERTH_TRY(auto accounts, r_.meta->list_accounts());
    for (const auto& a : accounts) {
      if (a == requested) return a;
    }
    return fail(ErrorCode::kNotFound, "no account " + requested + " in this data dir (see create-account)");
  }

  Result<store::PrincipalRecord> principal(const std::string& kind, const std::string& name,
                                           const std::string& account_id) {
    if (!valid_name(name)) {
      return fail(ErrorCode::kInvalidParameter, "names are 1-64 characters of letters, digits and +=,.@_-");
    }
    BERTH_TRY(auto acct, account(account_id));
    return r_.meta->get_principal("arn:aws:iam::" + acct + ":" + kind + "/" + name);
  }

  Result<void> forget_trust_policy(const std::string& role_arn) {
    auto gone = r_.meta->delete_setting(sts::trust_policy_setting(role_arn));
    if (!gone && gone.error().code != ErrorCode::kNotFound) return gone;
    return {};
  }

  Result<json> create_principal(const std::string& kind, const AdminOptions& o) {
    if (!valid_name(o.name)) {
      return fail(ErrorCode::kInvalidParameter, "names are 1-64 characters of letters, digits and +=,.@_-");
    }
    BERTH_TRY(auto acct, account(o.account_id));
    std::string policy;
    if (!o.policy_file.empty()) {  // read and validated before anything is created
      BERTH_TRY(policy, read_policy(o.policy_file));
    }
    std::string trust;
    if (!o.trust_policy_file.empty()) {
      if (kind != "role") return fail(ErrorCode::kInvalidParameter, "only roles have a trust policy");
      BERTH_TRY(trust, read_policy(o.trust_policy_file, iam::PolicyKind::kResource, iam::kMaxRepositoryPolicyChars));
    }
    const store::PrincipalRecord p{.arn = "arn:aws:iam::" + acct + ":" + kind + "/" + o.name,
                                   .account_id = acct,
                                   .kind = kind,
                                   .name = o.name,
                                   .created_at_ms = r_.clock.now_ms()};
    auto created = r_.meta->create_principal(p);
    if (!created && created.error().code == ErrorCode::kInvalidParameter) {
      return fail(ErrorCode::kInvalidParameter, kind + " " + o.name + " already exists");
    }
    if (!created) return tl::unexpected(created.error());
    if (!policy.empty()) {
      BERTH_TRY_VOID(r_.meta->put_principal_policy(p.arn, kDefaultPolicyName, policy));
    }
    if (kind == "role") {
      // Without a trust policy of its own the role gets the default; any left by a
      // deleted role of the same name must not apply.
      if (trust.empty()) {
        BERTH_TRY_VOID(forget_trust_policy(p.arn));
      } else {
        BERTH_TRY_VOID(r_.meta->put_setting(sts::trust_policy_setting(p.arn), trust));
      }
      return json{{"RoleName", o.name}, {"Arn", p.arn}};
    }
    BERTH_TRY(auto key, r_.identity->create_access_key(p.arn, acct));
    return json{{"UserName", o.name}, {"Arn", p.arn}, {"AccessKeyId", key.first}, {"SecretAccessKey", key.second}};
  }

  Result<json> run(const std::string& verb, const AdminOptions& o) {
    if (verb == "create-user") return create_principal("user", o);
    if (verb == "create-role") return create_principal("role", o);
    if (verb == "create-access-key") {
      const bool role = !o.role.empty();
      BERTH_TRY(auto p, principal(role ? "role" : "user", role ? o.role : o.user, o.account_id));
      BERTH_TRY(auto key, r_.identity->create_access_key(p.arn, p.account_id));
      return json{{role ? "RoleName" : "UserName", p.name}, {"Arn", p.arn}, {"AccessKeyId", key.first},
                  {"SecretAccessKey", key.second}};
    }
    if (verb == "delete-access-key") {
      BERTH_TRY(auto key, r_.meta->get_access_key(o.name));
      if (key.principal_arn == r_.identity->root_arn()) {
        // Deleting the last root key would lock the account out of its own registry.
        BERTH_TRY(auto root_keys, r_.meta->list_access_keys(key.principal_arn));
        if (root_keys.size() <= 1) return fail(ErrorCode::kInvalidParameter, "this is the account root's only key");
      }
      BERTH_TRY_VOID(r_.meta->delete_access_key(o.name));
      return json{{"AccessKeyId", o.name}, {"Deleted", true}};
    }
    if (verb == "put-user-policy") {
      if (o.policy_name.empty() || o.policy_file.empty()) {
        return fail(ErrorCode::kInvalidParameter, "put-user-policy needs --policy-name and --policy-file");
      }
      if (!valid_name(o.policy_name)) return fail(ErrorCode::kInvalidParameter, "invalid policy name");
      BERTH_TRY(auto p, principal("user", o.user, o.account_id));
      BERTH_TRY(auto policy, read_policy(o.policy_file));
      BERTH_TRY_VOID(r_.meta->put_principal_policy(p.arn, o.policy_name, policy));
      return json{{"UserName", p.name}, {"PolicyName", o.policy_name}};
    }
    if (verb == "create-account") {
      std::string id = o.account_id.empty() ? random_account_id() : o.account_id;
      if (!is_account_id(id)) return fail(ErrorCode::kInvalidParameter, "--account-id must be 12 digits");
      if (id == r_.identity->account_id()) {
        return fail(ErrorCode::kInvalidParameter, "account " + id + " is this registry's own account");
      }
      BERTH_TRY_VOID(r_.meta->create_account(id, r_.clock.now_ms()));
      const std::string arn = "arn:aws:iam::" + id + ":root";
      BERTH_TRY(auto key, r_.identity->create_access_key(arn, id));
      return json{{"AccountId", id}, {"Arn", arn}, {"AccessKeyId", key.first}, {"SecretAccessKey", key.second}};
    }
    if (verb == "list-users") {
      BERTH_TRY(auto acct, account(o.account_id));
      BERTH_TRY(auto all, r_.meta->list_principals(acct));
      json users = json::array();
      for (const auto& p : all) {
        if (p.kind != "user") continue;
        BERTH_TRY(auto policies, r_.meta->list_principal_policies(p.arn));
        json names = json::array();
        for (const auto& pol : policies) names.push_back(pol.name);
        users.push_back({{"UserName", p.name}, {"Arn", p.arn}, {"CreateDate", p.created_at_ms / 1000},
                         {"PolicyNames", names}});
      }
      return json{{"Users", users}};
    }
    if (verb == "list-access-keys") {
      BERTH_TRY(auto p, principal("user", o.user, o.account_id));
      BERTH_TRY(auto keys, r_.meta->list_access_keys(p.arn));
      json out = json::array();
      for (const auto& k : keys) {
        out.push_back({{"UserName", p.name}, {"AccessKeyId", k.id}, {"CreateDate", k.created_at_ms / 1000}});
      }
      return json{{"AccessKeyMetadata", out}};
    }
    if (verb == "delete-user" || verb == "delete-role") {
      const bool user = verb == "delete-user";
      BERTH_TRY(auto p, principal(user ? "user" : "role", o.name, o.account_id));
      BERTH_TRY_VOID(r_.meta->delete_principal(p.arn));
      if (!user) BERTH_TRY_VOID(forget_trust_policy(p.arn));
      return json{{user ? "UserName" : "RoleName", p.name}, {"Deleted", true}};
    }
    if (verb == "set-repository-policy") {
      BERTH_TRY(auto text, read_policy(o.policy_file, iam::PolicyKind::kResource, iam::kMaxRepositoryPolicyChars));
      BERTH_TRY_VOID(r_.meta->set_repository_policy(o.name, text));
      return json{{"repositoryName", o.name}, {"policyText", text}};
    }
    if (verb == "set-pull-gate") {
      BERTH_TRY(auto severity, scanning::parse_gate_severity(o.severity));
      const scanning::PullGatePolicy policy{.severity = severity, .block_unscanned = o.block_unscanned,
                                            .exempt = o.exempt};
      BERTH_TRY_VOID(r_.pull_gate->set(o.repository, policy));
      return gate_json(o.repository, policy);
    }
    if (verb == "get-pull-gate") {
      BERTH_TRY(auto policy, r_.pull_gate->get(o.repository));
      if (!policy) {
        json out = gate_json(o.repository, std::nullopt);
        // A repository without its own gate falls under the registry's.
        if (!o.repository.empty()) {
          BERTH_TRY(auto registry_gate, r_.pull_gate->get(""));
          out["effective"] = registry_gate ? scanning::to_json(*registry_gate) : json(nullptr);
        }
        return out;
      }
      return gate_json(o.repository, *policy);
    }
    if (verb == "clear-pull-gate") {
      BERTH_TRY_VOID(r_.pull_gate->clear(o.repository));
      return gate_json(o.repository, std::nullopt);
    }
    return fail(ErrorCode::kInvalidParameter, "unknown admin verb " + verb);
  }

 private:
  Registry& r_;
};

}  // namespace

int admin(const std::string& verb, const AdminOptions& options) {
  RegistryOptions registry;
  registry.data_dir = options.data_dir;
  auto reg = Registry::open(registry);
  if (!reg) {
    std::fprintf(stderr, "berth admin %s: %s\n", verb.c_str(), reg.error().message.c_str());
    return 1;
  }
  auto out = Admin(**reg).run(verb, options);
  if (!verb.starts_with("list-") && !verb.starts_with("get-")) {
    observe::AuditRecord a;
    a.source = "admin";
    a.action = "admin:" + verb;
    a.principal = "local";  // whoever can write the data dir
    a.resource = !options.name.empty() ? options.name : !options.user.empty() ? options.user : options.role;
    if (verb.ends_with("-pull-gate")) {
      a.resource = options.repository.empty() ? "*" : options.repository;
      if (out) a.detail = *out;
    }
    if (!out) {
      a.outcome = observe::Outcome::kFailed;
      a.error_code = std::string(to_string(out.error().code));
      a.message = out.error().message;
    }
    (*reg)->audit->record(a);
  }
  if (!out) {
    std::fprintf(stderr, "berth admin %s: %s\n", verb.c_str(), out.error().message.c_str());
    return 1;
  }
  std::printf("%s\n", out->dump().c_str());
  return 0;
}

}  // namespace berth::app
