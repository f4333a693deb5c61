// Runs ECR lifecycle policies against a repository's images: reads the images from the
// metadata store, asks the pure evaluator (src/lifecycle) what to expire, and deletes
// those images through the ManifestService, recording each expiry in the audit trail, as
// an `image.expire` event and in metrics. The preview (GetLifecyclePolicyPreview) and the
// dry run call the same evaluate(), so what a preview shows is what a run does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/result.h"
#include "lifecycle/evaluator.h"
#include "lifecycle/policy.h"
#include "observe/audit.h"
#include "observe/events.h"
#include "observe/metrics.h"
#include "registry/manifest_service.h"
#include "registry/repository_service.h"
#include "store/meta/meta_store.h"

namespace berth::expiry {

// A repository's lifecycle policy as kept in its settings (settings_json member
// "lifecyclePolicy": {"text": ..., "lastEvaluatedAt": ms}).
struct StoredPolicy {
  std::string text;
  std::optional<int64_t> last_evaluated_at_ms;
};
std::optional<StoredPolicy> stored_policy(const nlohmann::json& settings);
std::optional<StoredPolicy> stored_policy(const store::Repository& repo);
// Replaces the policy in `settings` (nullopt removes it).
void set_policy(nlohmann::json& settings, const std::optional<StoredPolicy>& policy);

struct ImageDecision {
  store::ImageRecord image;
  lifecycle::Decision decision;
};

// What happened to an image a run meant to expire.
enum class Outcome {
  kExpired,
  kWouldExpire,  // dry run
  kChanged,      // tagged, untagged or re-pushed since the evaluation: left for the next run
  kReferenced,   // an index pushed since the evaluation lists it
  kGone,         // deleted by someone else meanwhile
  kFailed,
};
std::string_view to_string(Outcome o);

struct Expiry {
  ImageDecision image;
  Outcome outcome = Outcome::kExpired;
  std::string message;  // for kFailed
};

struct RunReport {
  std::string repository;
  bool had_policy = false;
  size_t evaluated = 0;
  std::vector<ImageDecision> decisions;  // every image, in digest order
  std::vector<Expiry> expiries;          // those the policy expires, in deletion order
  size_t count(Outcome o) const;
};

struct Options {
  std::string repository_arn_prefix;  // "arn:aws:ecr:REGION:ACCOUNT:repository/", for audit records
  size_t page = 1000;                 // images read per store call
};

class Expirer {
 public:
  // Audit, events and metrics are optional (null: not recorded).
  Expirer(store::MetaStore& meta, registry::RepositoryService& repositories, registry::ManifestService& manifests,
          const Clock& clock, Options options, observe::AuditLog* audit = nullptr, observe::EventSink* events = nullptr,
          observe::Metrics* metrics = nullptr);

  // Every image of the repository with the policy's decision at the clock's now.
  Result<std::vector<ImageDecision>> evaluate(const std::string& repository, const lifecycle::Policy& policy);
  // Applies the repository's stored policy (a report with had_policy false when it has
  // none) and, unless `dry_run`, records lastEvaluatedAt.
  Result<RunReport> run(const std::string& repository, bool dry_run);
  // Every repository with a policy. A repository that fails is reported and skipped.
  Result<std::vector<RunReport>> run_all(bool dry_run);

 private:
  Result<void> expire(const std::string& repository, std::vector<Expiry>& expiries);
  void record(const std::string& repository, const Expiry& e);

  store::MetaStore& meta_;
  registry::RepositoryService& repositories_;
  registry::ManifestService& manifests_;
  const Clock& clock_;
  Options options_;
  observe::AuditLog* audit_;
  observe::EventSink* events_;
  observe::Counter* expired_total_ = nullptr;
  observe::Counter* runs_total_ = nullptr;
};

// A decision as JSON (CLI output and the preview's berth-only fields).
nlohmann::json to_json(const ImageDecision& d);
std::string_view to_string(lifecycle::Reason r);

}  // namespace berth::expiry
