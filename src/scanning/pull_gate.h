// The pull gate (beyond ECR): a registry-wide setting and a per-repository one (the
// repository's wins) that refuse client pulls of images whose newest scan has findings
// at or above a severity, and optionally of images without a completed scan; principals
// listed as exempt (IAM user or role ARNs, e.g. a scanner) still pull.
//
// Image indexes and artifacts (signatures, SBOMs: a config that is not an image config)
// always pass: they run nothing, and an index's images are gated one by one when the
// client pulls them by digest. Only client GETs are gated (not HEAD, whose answer has no
// body to carry the reason, and which hands out no content).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/versioned_cache.h"
#include "core/result.h"
#include "registry/pull_gate.h"
#include "store/meta/meta_store.h"
#include "vuln/osv.h"

namespace berth::scanning {

// The registry's gate is kept in the settings table under this key; a repository's in
// its settings_json under kPullGateRepositoryKey.
inline constexpr char kPullGateSetting[] = "pull_gate";
inline constexpr char kPullGateRepositoryKey[] = "pullGate";

struct PullGatePolicy {
  // Findings at or above this refuse the pull; kUndefined ("ANY"): any finding does;
  // nullopt ("NONE"): findings never do (a repository can turn a registry gate off for
  // itself this way).
  std::optional<vuln::Severity> severity;
  bool block_unscanned = false;       // no completed scan (never scanned, queued, FAILED) refuses too
  std::vector<std::string> exempt;    // IAM user/role (or account root) ARNs that always pull
};

// CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, ANY or NONE; kInvalidParameter otherwise.
Result<std::optional<vuln::Severity>> parse_gate_severity(std::string_view name);
// arn:aws:iam::ACCOUNT:user/NAME, :role/NAME or :root, without wildcards (exemptions
// are exact); kInvalidParameter otherwise.
Result<void> validate_exempt_arn(std::string_view arn);
// The stored form: {"severity":"HIGH","blockUnscanned":false,"exempt":[...]}.
nlohmann::json to_json(const PullGatePolicy& policy);
Result<PullGatePolicy> pull_gate_from_json(const nlohmann::json& j);

// The gate that applies to a repository: its own when its settings have one, else the
// registry's (nullopt text: none). Unreadable stored text counts as no gate.
struct EffectiveGate {
  PullGatePolicy policy;
  bool repository_level = false;
};
std::optional<EffectiveGate> effective_gate(std::string_view repository_settings_json,
                                            const std::optional<std::string>& registry_setting);

bool is_exempt(const PullGatePolicy& policy, std::string_view puller);

// Pure: nullopt when the image passes the gate, else the refusal's message (naming
// repository@digest, the worst finding or the scan state, and how to override). Does not
// look at exemptions.
std::optional<std::string> gate_verdict(const EffectiveGate& gate, const std::string& repository,
                                        const store::ManifestRecord& manifest,
                                        const std::optional<store::ImageScan>& scan);

class PullGateService final : public registry::PullGate {
 public:
  explicit PullGateService(store::MetaStore& meta) : meta_(meta) {}

  // registry::PullGate. Answers from caches keyed by the store's data_version: a pull
  // that brings the version its request was authorized at costs no read while nothing
  // was written.
  Result<void> admit(const std::string& repository, const store::ManifestRecord& manifest,
                     const registry::Puller& puller) override;

  // `berth admin`: repository "" is the registry's gate. get answers nullopt when none is
  // set there; clear answers kNotFound then. kNameUnknown for an absent repository.
  Result<std::optional<PullGatePolicy>> get(const std::string& repository);
  Result<void> set(const std::string& repository, const PullGatePolicy& policy);
  Result<void> clear(const std::string& repository);

 private:
  Result<std::optional<EffectiveGate>> gate_of(uint64_t version, const std::string& repository);

  store::MetaStore& meta_;
  // Shared, since a hit copies the value out under the cache's lock.
  VersionedCache<std::shared_ptr<const std::optional<EffectiveGate>>> gates_;       // by repository
  VersionedCache<std::shared_ptr<const std::optional<std::string>>> verdicts_;      // by repository@digest
};

}  // namespace berth::scanning
