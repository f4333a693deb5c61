#include "auth/authorizer.h"

#include <ctime>
#include <memory>
#include <vector>

#include "core/log.h"
#include "iam/evaluator.h"
#include "iam/policy.h"

namespace berth::auth {
namespace {

// Stored policies were validated when they were put; one that no longer parses (a newer
// grammar, a hand-edited database) is logged and makes the request denied: ignoring it
// could drop a Deny and so allow more than its author meant.
constexpr size_t kMaxIdentityPolicyChars = 1 << 20;

std::string iso8601(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool is_root_arn(const std::string& arn) { return arn.size() > 5 && arn.compare(arn.size() - 5, 5, ":root") == 0; }

}  // namespace

std::string Authorizer::repository_arn(const std::string& repository) const {
  return "arn:aws:ecr:" + region_ + ":" + identity_.account_id() + ":repository/" + repository;
}

Result<void> Authorizer::authorize(const AccessRequest& request) const {
  iam::RequestContext context;
  context.action = request.action;
  context.resource = !request.resource.empty()      ? request.resource
                     : !request.repository.empty() ? repository_arn(request.repository)
                                                    : repository_arn("*");
  context.anonymous = request.caller == nullptr;
  if (request.caller) {
    context.principal_arn = request.caller->principal_arn;
    context.principal_account = request.caller->account_id;
  }
  context.keys["aws:currenttime"] = {iso8601(clock_.now_ms())};
  context.keys["aws:securetransport"] = {"false"};  // berth serves plain HTTP (TLS terminates in front, if at all)
  if (!request.source_ip.empty()) context.keys["aws:sourceip"] = {request.source_ip};

  iam::AuthorizationInput input;
  input.resource_account = identity_.account_id();
  std::vector<std::unique_ptr<iam::Policy>> owned;
  bool unparsable = false;
  if (request.caller) {
    input.caller_account = request.caller->account_id;
    input.caller_is_root = is_root_arn(request.caller->principal_arn);
    if (!input.caller_is_root) {
      BERTH_TRY(auto policies, meta_.list_principal_policies(request.caller->principal_arn));
      for (const auto& p : policies) {
        auto parsed = iam::parse_policy(p.document, iam::PolicyKind::kIdentity, kMaxIdentityPolicyChars);
        if (!parsed) {
          log::get("auth")->warn("inline policy {} of {} no longer parses: {}", p.name, request.caller->principal_arn,
                                 parsed.error().message);
          unparsable = true;
          continue;
        }
        parsed->name = "inline policy " + p.name + " of " + request.caller->principal_arn;
        owned.push_back(std::make_unique<iam::Policy>(std::move(*parsed)));
        input.identity_policies.push_back(owned.back().get());
      }
    }
  }
  if (!request.repository.empty()) {
    auto text = meta_.get_repository_policy(request.repository);
    if (!text && text.error().code != ErrorCode::kNameUnknown) return tl::unexpected(text.error());
    if (text && text->has_value()) {
      auto parsed = iam::parse_policy(**text, iam::PolicyKind::kResource, iam::kMaxRepositoryPolicyChars);
      if (!parsed) {
        log::get("auth")->warn("repository policy of {} no longer parses: {}", request.repository,
                               parsed.error().message);
        unparsable = true;
      } else {
        parsed->name = "repository policy";
        owned.push_back(std::make_unique<iam::Policy>(std::move(*parsed)));
        input.repository_policy = owned.back().get();
      }
    }
  }
  const auto decision = iam::authorize(input, context);
  if (decision.verdict == iam::Verdict::kAllow && !unparsable) return {};
  if (decision.verdict == iam::Verdict::kAllow) {
    return fail(ErrorCode::kDenied, "User: " + (context.anonymous ? std::string("anonymous") : context.principal_arn) +
                                        " is not authorized to perform: " + context.action + " on resource: " +
                                        context.resource + " because a policy that applies cannot be read");
  }
  return fail(ErrorCode::kDenied, iam::access_denied_message(context, decision));
}

}  // namespace berth::auth
