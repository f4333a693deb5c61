#include "scanning/pull_gate.h"

#include <algorithm>
#include <cctype>

#include "registry/manifest.h"
#include "registry/repository_settings.h"
#include "scanning/findings.h"
#include "scanning/status.h"

namespace berth::scanning {
namespace {

using nlohmann::json;

bool is_image_config(std::string_view media_type) {
  return media_type == "application/vnd.oci.image.config.v1+json" ||
         media_type == "application/vnd.docker.container.image.v1+json";
}

// Indexes and artifacts carry nothing that runs (see the header).
bool is_gated_kind(const store::ManifestRecord& manifest) {
  if (registry::is_index_media_type(manifest.media_type)) return false;
  const json doc = json::parse(manifest.content, nullptr, false);
  if (!doc.is_object()) return true;
  auto c = doc.find("config");
  if (c == doc.end() || !c->is_object()) return true;
  return is_image_config(c->value("mediaType", ""));
}

std::string override_hint(const EffectiveGate& gate, const std::string& repository) {
  const std::string where = gate.repository_level ? " --repository " + repository : "";
  return "pull as a principal the gate lists as exempt, or change the gate: berth admin set-pull-gate" + where +
         " ... (or clear-pull-gate" + where + ").";
}

// The stored and shown name of a gate severity.
std::string level_name(vuln::Severity s) {
  return s == vuln::Severity::kUndefined ? "ANY" : std::string(vuln::severity_name(s));
}

std::string gate_name(const EffectiveGate& gate, const std::string& repository) {
  return gate.repository_level ? "the pull gate of repository " + repository : "the registry's pull gate";
}

}  // namespace

Result<std::optional<vuln::Severity>> parse_gate_severity(std::string_view name) {
  std::string up(name);
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (up == "NONE") return std::optional<vuln::Severity>();
  // Debian and Alpine data carry no severities: their findings are UNDEFINED, below
  // every named level, so only ANY gates them.
  if (up == "ANY") return std::optional<vuln::Severity>(vuln::Severity::kUndefined);
  for (auto s : {vuln::Severity::kCritical, vuln::Severity::kHigh, vuln::Severity::kMedium, vuln::Severity::kLow,
                 vuln::Severity::kInformational}) {
    if (up == vuln::severity_name(s)) return std::optional<vuln::Severity>(s);
  }
  return fail(ErrorCode::kInvalidParameter, "severity \"" + std::string(name) +
                                                "\" is not one of CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, ANY, NONE");
}

Result<void> validate_exempt_arn(std::string_view arn) {
  constexpr std::string_view kPrefix = "arn:aws:iam::";
  auto bad = [&] {
    return fail(ErrorCode::kInvalidParameter, "exempt principal \"" + std::string(arn) +
                                                  "\" is not an IAM ARN (arn:aws:iam::ACCOUNT:user/NAME, "
                                                  ":role/NAME or :root)");
  };
  if (!arn.starts_with(kPrefix)) return bad();
  // Exemptions compare ARNs exactly; a pattern would silently exempt nobody.
  if (arn.find_first_of("*?") != std::string_view::npos) {
    return fail(ErrorCode::kInvalidParameter, "exempt principal \"" + std::string(arn) +
                                                  "\" has a wildcard: exemptions are exact ARNs; list each user or "
                                                  "role ARN");
  }
  std::string_view rest = arn.substr(kPrefix.size());
  if (rest.size() < 13 || rest[12] != ':' ||
      rest.substr(0, 12).find_first_not_of("0123456789") != std::string_view::npos) {
    return bad();
  }
  rest.remove_prefix(13);
  if (rest == "root") return {};
  for (std::string_view kind : {"user/", "role/"}) {
    if (rest.starts_with(kind) && rest.size() > kind.size()) return {};
  }
  return bad();
}

json to_json(const PullGatePolicy& policy) {
  return json{{"severity", policy.severity ? level_name(*policy.severity) : "NONE"},
              {"blockUnscanned", policy.block_unscanned},
              {"exempt", policy.exempt}};
}

Result<PullGatePolicy> pull_gate_from_json(const json& j) {
  if (!j.is_object()) return fail(ErrorCode::kInvalidParameter, "a pull gate is a JSON object");
  PullGatePolicy p;
  auto sev = j.find("severity");
  if (sev == j.end() || !sev->is_string()) return fail(ErrorCode::kInvalidParameter, "a pull gate needs a severity");
  BERTH_TRY(p.severity, parse_gate_severity(sev->get<std::string>()));
  if (auto b = j.find("blockUnscanned"); b != j.end()) {
    if (!b->is_boolean()) return fail(ErrorCode::kInvalidParameter, "blockUnscanned must be true or false");
    p.block_unscanned = b->get<bool>();
  }
  if (auto e = j.find("exempt"); e != j.end()) {
    if (!e->is_array()) return fail(ErrorCode::kInvalidParameter, "exempt must list ARNs");
    for (const auto& a : *e) {
      if (!a.is_string()) return fail(ErrorCode::kInvalidParameter, "exempt must list ARNs");
      BERTH_TRY_VOID(validate_exempt_arn(a.get<std::string>()));
      p.exempt.push_back(a.get<std::string>());
    }
  }
  return p;
}

std::optional<EffectiveGate> effective_gate(std::string_view repository_settings_json,
                                            const std::optional<std::string>& registry_setting) {
  const json settings = json::parse(repository_settings_json, nullptr, false);
  if (settings.is_object()) {
    if (auto g = settings.find(kPullGateRepositoryKey); g != settings.end()) {
      auto p = pull_gate_from_json(*g);
      if (p) return EffectiveGate{.policy = std::move(*p), .repository_level = true};
    }
  }
  if (!registry_setting) return std::nullopt;
  auto p = pull_gate_from_json(json::parse(*registry_setting, nullptr, false));
  if (!p) return std::nullopt;
  return EffectiveGate{.policy = std::move(*p), .repository_level = false};
}

bool is_exempt(const PullGatePolicy& policy, std::string_view puller) {
  if (puller.empty()) return false;
  return std::find(policy.exempt.begin(), policy.exempt.end(), puller) != policy.exempt.end();
}

std::optional<std::string> gate_verdict(const EffectiveGate& gate, const std::string& repository,
                                        const store::ManifestRecord& manifest,
                                        const std::optional<store::ImageScan>& scan) {
  const PullGatePolicy& p = gate.policy;
  if (!p.severity && !p.block_unscanned) return std::nullopt;
  if (!is_gated_kind(manifest)) return std::nullopt;
  const std::string image = repository + "@" + manifest.digest.str();
  if (scan && scan->status == kUnsupportedImage) return std::nullopt;
  if (!scan || scan->status != kComplete) {
    if (!p.block_unscanned) return std::nullopt;
    std::string state = !scan ? "has never been scanned"
                        : scan->status == kFailed ? "has no completed scan (its scan FAILED: " + scan->description + ")"
                                                  : "has no completed scan (its scan is " + scan->status + ")";
    return "pull refused: image " + image + " " + state + ", and " + gate_name(gate, repository) +
           " refuses images without a completed scan. Scan it (aws ecr start-image-scan) and pull again once it "
           "passes. To pull it anyway, " + override_hint(gate, repository);
  }
  if (!p.severity) return std::nullopt;
  const auto findings = findings_from_json(scan->findings_json);
  const vuln::Finding* worst = nullptr;
  size_t reaching = 0;
  for (const auto& f : findings) {
    if (f.severity < *p.severity) continue;
    ++reaching;
    if (!worst || f.severity > worst->severity) worst = &f;
  }
  if (!worst) return std::nullopt;
  std::string finding = std::string(vuln::severity_name(worst->severity)) + " finding " + worst->id;
  if (!worst->package_name.empty()) finding += " in " + worst->package_name + " " + worst->package_version;
  const bool any = *p.severity == vuln::Severity::kUndefined;
  const std::string threshold = any ? "any severity (UNDEFINED included)" : level_name(*p.severity) + " or above";
  const bool vowel = worst->severity == vuln::Severity::kInformational || worst->severity == vuln::Severity::kUndefined;
  std::string msg = "pull refused: image " + image + " has " + (vowel ? "an " : "a ") + finding;
  if (reaching > 1) msg += " (and " + std::to_string(reaching - 1) + " more" + (any ? "" : " at " + threshold) + ")";
  msg += ", and " + gate_name(gate, repository) + " refuses images with findings of " + threshold +
         ". Push a fixed image, or, to pull this one anyway, " + override_hint(gate, repository);
  return msg;
}

Result<std::optional<EffectiveGate>> PullGateService::gate_of(uint64_t version, const std::string& repository) {
  if (auto hit = gates_.get(version, repository)) return **hit;
  BERTH_TRY(auto repo, meta_.get_repository(repository));
  BERTH_TRY(auto registry_gate, meta_.get_setting(kPullGateSetting));
  auto gate = std::make_shared<const std::optional<EffectiveGate>>(effective_gate(repo.settings_json, registry_gate));
  gates_.put(version, repository, gate);
  return *gate;
}

Result<void> PullGateService::admit(const std::string& repository, const store::ManifestRecord& manifest,
                                    const registry::Puller& puller) {
  BERTH_TRY(const uint64_t version, puller.version(meta_));
  BERTH_TRY(auto gate, gate_of(version, repository));
  if (!gate || is_exempt(gate->policy, puller.arn)) return {};
  const std::string key = repository + "@" + manifest.digest.str();
  std::shared_ptr<const std::optional<std::string>> verdict;
  if (auto hit = verdicts_.get(version, key)) {
    verdict = *hit;
  } else {
    BERTH_TRY(auto scan, meta_.get_image_scan(repository, manifest.digest));
    verdict = std::make_shared<const std::optional<std::string>>(gate_verdict(*gate, repository, manifest, scan));
    verdicts_.put(version, key, verdict);
  }
  if (*verdict) return fail(ErrorCode::kDenied, **verdict);
  return {};
}

Result<std::optional<PullGatePolicy>> PullGateService::get(const std::string& repository) {
  if (repository.empty()) {
    BERTH_TRY(auto text, meta_.get_setting(kPullGateSetting));
    if (!text) return std::optional<PullGatePolicy>();
    BERTH_TRY(auto p, pull_gate_from_json(json::parse(*text, nullptr, false)));
    return std::optional<PullGatePolicy>(std::move(p));
  }
  BERTH_TRY(auto repo, meta_.get_repository(repository));
  const json settings = registry::settings_object(repo.settings_json);
  if (!settings.contains(kPullGateRepositoryKey)) return std::optional<PullGatePolicy>();
  BERTH_TRY(auto p, pull_gate_from_json(settings[kPullGateRepositoryKey]));
  return std::optional<PullGatePolicy>(std::move(p));
}

Result<void> PullGateService::set(const std::string& repository, const PullGatePolicy& policy) {
  for (const auto& a : policy.exempt) BERTH_TRY_VOID(validate_exempt_arn(a));
  if (repository.empty()) return meta_.put_setting(kPullGateSetting, to_json(policy).dump());
  return registry::edit_repository_settings(meta_, repository, [&](json& settings) -> Result<void> {
    settings[kPullGateRepositoryKey] = to_json(policy);
    return {};
  });
}

Result<void> PullGateService::clear(const std::string& repository) {
  if (repository.empty()) {
    auto done = meta_.delete_setting(kPullGateSetting);
    if (!done && done.error().code == ErrorCode::kNotFound) {
      return fail(ErrorCode::kNotFound, "the registry has no pull gate");
    }
    return done;
  }
  return registry::edit_repository_settings(meta_, repository, [&](json& settings) -> Result<void> {
    if (settings.erase(kPullGateRepositoryKey) == 0) {
      return fail(ErrorCode::kNotFound, "repository " + repository + " has no pull gate of its own");
    }
    return {};
  });
}

}  // namespace berth::scanning
