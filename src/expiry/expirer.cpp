#include "expiry/expirer.h"

#include <algorithm>
#include <iterator>

#include "core/log.h"
#include "registry/repository_settings.h"

namespace berth::expiry {

using nlohmann::json;

namespace {

lifecycle::Image evaluator_image(const store::ImageRecord& r) {
  lifecycle::Image img{.digest = r.digest.str(),
                       .tags = r.tags,
                       .pushed_at_ms = r.pushed_at_ms,
                       .last_pulled_ms = r.last_pulled_at_ms,
                       .media_type = r.media_type,
                       .children = {},
                       .subject = r.subject ? r.subject->str() : std::string()};
  for (const auto& c : r.children) img.children.push_back(c.str());
  return img;
}

// Referrers go before their subjects and indexes before their children, so no step
// leaves an artifact without its subject or trips over an index that still lists a child.
int deletion_rank(const Expiry& e) {
  if (e.image.decision.reason == lifecycle::Reason::kSubject) return 0;
  return e.image.image.children.empty() ? 2 : 1;
}

}  // namespace

std::optional<StoredPolicy> stored_policy(const store::Repository& repo) {
  return stored_policy(registry::settings_object(repo.settings_json));
}

std::optional<StoredPolicy> stored_policy(const json& s) {
  const auto it = s.find("lifecyclePolicy");
  if (it == s.end() || !it->is_object() || !it->contains("text") || !(*it)["text"].is_string()) return std::nullopt;
  StoredPolicy p{.text = (*it)["text"].get<std::string>(), .last_evaluated_at_ms = std::nullopt};
  if (auto at = it->find("lastEvaluatedAt"); at != it->end() && at->is_number_integer()) {
    p.last_evaluated_at_ms = at->get<int64_t>();
  }
  return p;
}

void set_policy(json& s, const std::optional<StoredPolicy>& policy) {
  if (!policy) {
    s.erase("lifecyclePolicy");
  } else {
    json p = {{"text", policy->text}};
    if (policy->last_evaluated_at_ms) p["lastEvaluatedAt"] = *policy->last_evaluated_at_ms;
    s["lifecyclePolicy"] = std::move(p);
  }
}

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::kExpired: return "expired";
    case Outcome::kWouldExpire: return "would-expire";
    case Outcome::kChanged: return "skipped-changed";
    case Outcome::kReferenced: return "skipped-referenced";
    case Outcome::kGone: return "already-gone";
    case Outcome::kFailed: return "failed";
  }
  return "failed";
}

std::string_view to_string(lifecycle::Reason r) {
  switch (r) {
    case lifecycle::Reason::kRule: return "rule";
    case lifecycle::Reason::kUnmatched: return "no-rule";
    case lifecycle::Reason::kIndex: return "index";
    case lifecycle::Reason::kSubject: return "subject";
  }
  return "rule";
}

json to_json(const ImageDecision& d) {
  json out = {{"imageDigest", d.image.digest.str()},
              {"imageTags", d.image.tags},
              {"imagePushedAt", d.image.pushed_at_ms},
              {"action", d.decision.expired ? "EXPIRE" : "KEEP"},
              {"reason", to_string(d.decision.reason)}};
  if (d.decision.rule_priority) out["rulePriority"] = *d.decision.rule_priority;
  return out;
}

size_t RunReport::count(Outcome o) const {
  return static_cast<size_t>(std::count_if(expiries.begin(), expiries.end(), [o](const Expiry& e) { return e.outcome == o; }));
}

Expirer::Expirer(store::MetaStore& meta, registry::RepositoryService& repositories,
                 registry::ManifestService& manifests, const Clock& clock, Options options, observe::AuditLog* audit,
                 observe::EventSink* events, observe::Metrics* metrics)
    : meta_(meta),
      repositories_(repositories),
      manifests_(manifests),
      clock_(clock),
      options_(std::move(options)),
      audit_(audit),
      events_(events) {
  if (metrics) {
    expired_total_ = &metrics->counter("berth_lifecycle_expired_images_total", "Images expired by lifecycle policies");
    runs_total_ = &metrics->counter("berth_lifecycle_runs_total", "Lifecycle policy runs over one repository");
  }
}

Result<std::vector<ImageDecision>> Expirer::evaluate(const std::string& repository, const lifecycle::Policy& policy) {
  std::vector<store::ImageRecord> records;
  std::string after;
  for (;;) {
    BERTH_TRY(auto page, meta_.list_images(repository, after, options_.page));
    if (page.empty()) break;
    after = page.back().digest.str();
    const bool last = page.size() < options_.page;
    std::move(page.begin(), page.end(), std::back_inserter(records));
    if (last) break;
  }
  std::vector<lifecycle::Image> images;
  images.reserve(records.size());
  for (const auto& r : records) images.push_back(evaluator_image(r));
  auto decisions = lifecycle::evaluate(policy, images, clock_.now_ms());
  std::vector<ImageDecision> out;
  out.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) out.push_back({std::move(records[i]), std::move(decisions[i])});
  return out;
}

Result<RunReport> Expirer::run(const std::string& repository, bool dry_run) {
  RunReport report{.repository = repository, .had_policy = false, .evaluated = 0, .decisions = {}, .expiries = {}};
  BERTH_TRY(auto repo, repositories_.get(repository));
  const auto stored = stored_policy(repo);
  if (!stored) return report;
  report.had_policy = true;
  // The text was validated when it was put; a parser that grew stricter since refuses it here.
  BERTH_TRY(auto policy, lifecycle::parse_policy(stored->text));
  BERTH_TRY(report.decisions, evaluate(repository, policy));
  report.evaluated = report.decisions.size();
  for (const auto& d : report.decisions) {
    if (d.decision.expired) report.expiries.push_back({d, dry_run ? Outcome::kWouldExpire : Outcome::kExpired, ""});
  }
  std::stable_sort(report.expiries.begin(), report.expiries.end(),
                   [](const Expiry& a, const Expiry& b) { return deletion_rank(a) < deletion_rank(b); });
  if (dry_run) return report;
  BERTH_TRY_VOID(expire(repository, report.expiries));
  if (runs_total_) runs_total_->inc();
  // Only stamp the policy this run applied: a policy put meanwhile has not been evaluated.
  BERTH_TRY_VOID(repositories_.edit_settings(repository, [&](json& settings) -> Result<void> {
    if (auto current = stored_policy(settings); current && current->text == stored->text) {
      current->last_evaluated_at_ms = clock_.now_ms();
      set_policy(settings, current);
    }
    return {};
  }));
  return report;
}

// Each image is re-read just before it is deleted: one tagged or untagged since the
// evaluation is left for the next run rather than deleted on stale facts. An index
// pushed meanwhile that lists an image makes the store refuse the delete
// (kManifestReferenced); the image then stays, as the index keeps it.
Result<void> Expirer::expire(const std::string& repository, std::vector<Expiry>& expiries) {
  std::vector<Expiry*> pending;
  for (auto& e : expiries) {
    auto now = meta_.get_image(repository, e.image.image.digest);
    if (!now && now.error().code == ErrorCode::kManifestUnknown) {
      e.outcome = Outcome::kGone;
    } else if (!now) {
      return tl::unexpected(now.error());
    } else if (now->tags != e.image.image.tags) {
      e.outcome = Outcome::kChanged;
    } else {
      pending.push_back(&e);
    }
  }
  // Nested indexes may need more than one pass; every pass deletes something or ends.
  for (bool progress = true; progress && !pending.empty();) {
    progress = false;
    std::vector<Expiry*> referenced;
    for (Expiry* e : pending) {
      auto done = manifests_.remove(repository, registry::Reference{std::nullopt, e->image.image.digest});
      if (done) {
        e->outcome = Outcome::kExpired;
        progress = true;
        record(repository, *e);
      } else if (done.error().code == ErrorCode::kManifestReferenced) {
        e->outcome = Outcome::kReferenced;
        referenced.push_back(e);
      } else if (done.error().code == ErrorCode::kManifestUnknown) {
        e->outcome = Outcome::kGone;
      } else {
        e->outcome = Outcome::kFailed;
        e->message = done.error().message;
        record(repository, *e);
      }
    }
    pending.swap(referenced);
  }
  return {};
}

void Expirer::record(const std::string& repository, const Expiry& e) {
  const auto& d = e.image;
  if (e.outcome == Outcome::kExpired) {
    if (expired_total_) expired_total_->inc();
    if (events_) {
      json detail = to_json(d);
      detail.erase("action");
      events_->publish(observe::Event{.type = "image.expire", .repository = repository, .detail = std::move(detail)});
    }
  } else {
    log::get("lifecycle")->warn("expiring {}@{} failed: {}", repository, d.image.digest.str(), e.message);
  }
  if (!audit_) return;
  observe::AuditRecord r;
  r.source = "lifecycle";
  r.action = "lifecycle:ExpireImage";
  r.resource = options_.repository_arn_prefix + repository;
  if (e.outcome != Outcome::kExpired) {
    r.outcome = observe::Outcome::kFailed;
    r.error_code = "ServerException";
    r.message = e.message;
  }
  r.detail = to_json(d);
  r.detail.erase("action");
  audit_->record(r);
}

Result<std::vector<RunReport>> Expirer::run_all(bool dry_run) {
  std::vector<RunReport> reports;
  std::string after;
  constexpr size_t kPage = 100;
  for (;;) {
    BERTH_TRY(auto names, repositories_.list(after, kPage));
    for (const auto& name : names) {
      auto report = run(name, dry_run);
      if (report && report->had_policy) {
        reports.push_back(std::move(*report));
      } else if (!report && report.error().code != ErrorCode::kNameUnknown) {  // deleted meanwhile: nothing to do
        log::get("lifecycle")->warn("lifecycle policy of {} not applied: {}", name, report.error().message);
      }
    }
    if (names.size() < kPage) break;
    after = names.back();
  }
  return reports;
}

}  // namespace berth::expiry
