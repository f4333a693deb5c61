#include "app/lifecycle_cli.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "app/wiring.h"
#include "expiry/expirer.h"

namespace berth::app {
namespace {

nlohmann::json report_json(const expiry::RunReport& r) {
  nlohmann::json decisions = nlohmann::json::array();
  for (const auto& d : r.decisions) decisions.push_back(expiry::to_json(d));
  nlohmann::json expiries = nlohmann::json::array();
  for (const auto& e : r.expiries) {
    nlohmann::json j = {{"imageDigest", e.image.image.digest.str()}, {"outcome", expiry::to_string(e.outcome)}};
    if (!e.message.empty()) j["message"] = e.message;
    expiries.push_back(std::move(j));
  }
  return {{"repository", r.repository},
          {"hasPolicy", r.had_policy},
          {"evaluated", r.evaluated},
          {"expired", r.count(expiry::Outcome::kExpired)},
          {"wouldExpire", r.count(expiry::Outcome::kWouldExpire)},
          {"decisions", decisions},
          {"expiries", expiries}};
}

std::string tags_text(const std::vector<std::string>& tags) {
  if (tags.empty()) return "<untagged>";
  std::string out;
  for (const auto& t : tags) out += (out.empty() ? "" : ",") + t;
  return out;
}

void print_report(const expiry::RunReport& r, bool dry_run) {
  if (!r.had_policy) {
    std::printf("%s: no lifecycle policy\n", r.repository.c_str());
    return;
  }
  const size_t n = r.count(dry_run ? expiry::Outcome::kWouldExpire : expiry::Outcome::kExpired);
  std::printf("%s: %zu images evaluated, %zu %s\n", r.repository.c_str(), r.evaluated, n,
              dry_run ? "would expire" : "expired");
  for (const auto& d : r.decisions) {
    std::string why(expiry::to_string(d.decision.reason));
    if (d.decision.rule_priority) why.append(" ").append(std::to_string(*d.decision.rule_priority));  // append: g++ 12 -O3 warns falsely on +
    std::printf("  %-6s %s %s (%s)\n", d.decision.expired ? "EXPIRE" : "keep", d.image.digest.str().c_str(),
                tags_text(d.image.tags).c_str(), why.c_str());
  }
  for (const auto& e : r.expiries) {
    if (e.outcome == expiry::Outcome::kExpired || e.outcome == expiry::Outcome::kWouldExpire) continue;
    std::printf("  not expired: %s: %s %s\n", e.image.image.digest.str().c_str(),
                std::string(expiry::to_string(e.outcome)).c_str(), e.message.c_str());
  }
}

}  // namespace

int lifecycle_command(const LifecycleCliOptions& options) {
  RegistryOptions registry_options;
  registry_options.data_dir = options.data_dir;
  auto reg = Registry::open(registry_options);
  if (!reg) {
    std::fprintf(stderr, "berth lifecycle: %s\n", reg.error().message.c_str());
    return 1;
  }
  Registry& r = **reg;
  expiry::Expirer expirer(*r.meta, *r.repositories, *r.manifests, r.clock,
                          expiry::Options{.repository_arn_prefix = "arn:aws:ecr:" + options.region + ":" +
                                                                   r.identity->account_id() + ":repository/",
                                          .page = 1000},
                          r.audit.get(), r.events.get(), &r.metrics);
  std::vector<expiry::RunReport> reports;
  if (!options.repository.empty()) {
    auto one = expirer.run(options.repository, options.dry_run);
    if (!one) {
      std::fprintf(stderr, "berth lifecycle: %s: %s\n", options.repository.c_str(), one.error().message.c_str());
      return 1;
    }
    reports.push_back(std::move(*one));
  } else {
    auto all = expirer.run_all(options.dry_run);
    if (!all) {
      std::fprintf(stderr, "berth lifecycle: %s\n", all.error().message.c_str());
      return 1;
    }
    reports = std::move(*all);
  }
  r.pulls->flush();
  bool failed = false;
  nlohmann::json out = nlohmann::json::array();
  for (const auto& rep : reports) {
    failed = failed || rep.count(expiry::Outcome::kFailed) > 0;
    if (options.json) {
      out.push_back(report_json(rep));
    } else {
      print_report(rep, options.dry_run);
    }
  }
  if (options.json) std::printf("%s\n", nlohmann::json{{"dryRun", options.dry_run}, {"repositories", out}}.dump(2).c_str());
  if (!options.json && reports.empty()) std::printf("no repository has a lifecycle policy\n");
  return failed ? 1 : 0;
}

}  // namespace berth::app
