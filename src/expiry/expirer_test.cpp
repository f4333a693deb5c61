// The expirer over the real embedded stores: what the evaluator decides is what the store
// loses, in an order that never trips over an index or strands a referrer.
#include "expiry/expirer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "registry/testing.h"

namespace berth::expiry {
namespace {

constexpr auto kDay = std::chrono::hours(24);

class ExpirerTest : public registry::fixtures::EmbeddedRegistry {
 protected:
  void SetUp() override {
    EmbeddedRegistry::SetUp();
    auto audit_log = observe::AuditLog::open(dir_.path() / "audit", clock);
    auto event_sink = observe::EventSink::open(dir_.path() / "events", clock);
    ASSERT_TRUE(audit_log && event_sink);
    audit = std::move(*audit_log);
    events = std::move(*event_sink);
    expirer = std::make_unique<Expirer>(*meta, *repos, *manifests, clock,
                                        Options{.repository_arn_prefix = "arn:aws:ecr:us-east-1:123456789012:repository/",
                                                .page = 2},  // small pages: paging is exercised
                                        audit.get(), events.get(), &metrics);
    ASSERT_TRUE(repos->create("app"));
  }
  void TearDown() override {
    expirer.reset();
    EmbeddedRegistry::TearDown();
  }

  void put_policy(const std::string& text, const std::string& repository = "app") {
    ASSERT_TRUE(repos->edit_settings(repository, [&](nlohmann::json& s) -> Result<void> {
      set_policy(s, StoredPolicy{text, std::nullopt});
      return {};
    }));
  }

  bool exists(const Digest& d) { return static_cast<bool>(meta->get_manifest("app", d)); }

  RunReport run(bool dry_run = false) {
    auto r = expirer->run("app", dry_run);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : RunReport{};
  }

  // Lines of today's file under DATA/`kind`.
  std::vector<nlohmann::json> lines(const std::string& kind) {
    std::vector<nlohmann::json> out;
    for (const auto& f : std::filesystem::directory_iterator(dir_.path() / kind)) {
      std::ifstream in(f.path());
      for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }

  std::unique_ptr<observe::AuditLog> audit;
  std::unique_ptr<observe::EventSink> events;
  observe::Metrics metrics;
  std::unique_ptr<Expirer> expirer;
};

constexpr char kKeepTwoReleases[] = R"({"rules":[{"rulePriority":1,"description":"keep two releases",
  "selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":2},
  "action":{"type":"expire"}}]})";

TEST_F(ExpirerTest, KeepsTheNewestAndDeletesTheRestWithAuditEventsAndMetrics) {
  std::vector<Digest> pushed;
  for (int i = 1; i <= 4; ++i) {
    pushed.push_back(push_image("app", "v" + std::to_string(i), "config-" + std::to_string(i), {"shared"}));
    clock.advance(std::chrono::minutes(1));
  }
  const Digest other = push_image("app", "latest-dev", "config-dev", {"shared"});
  put_policy(kKeepTwoReleases);

  RunReport preview = run(/*dry_run=*/true);
  EXPECT_TRUE(preview.had_policy);
  EXPECT_EQ(preview.evaluated, 5u);
  EXPECT_EQ(preview.count(Outcome::kWouldExpire), 2u);
  for (const auto& d : pushed) EXPECT_TRUE(exists(d));  // a dry run changes nothing
  EXPECT_FALSE(stored_policy(*repos->get("app"))->last_evaluated_at_ms);

  RunReport report = run();
  EXPECT_EQ(report.count(Outcome::kExpired), 2u);
  EXPECT_FALSE(exists(pushed[0]));
  EXPECT_FALSE(exists(pushed[1]));
  EXPECT_TRUE(exists(pushed[2]));
  EXPECT_TRUE(exists(pushed[3]));
  EXPECT_TRUE(exists(other));
  EXPECT_FALSE(manifests->get("app", *registry::Reference::parse("v1"), false));  // tag gone with the image
  EXPECT_EQ(stored_policy(*repos->get("app"))->last_evaluated_at_ms, clock.now_ms());

  auto audit_lines = lines("audit");
  ASSERT_EQ(audit_lines.size(), 2u);
  EXPECT_EQ(audit_lines[0]["source"], "lifecycle");
  EXPECT_EQ(audit_lines[0]["action"], "lifecycle:ExpireImage");
  EXPECT_EQ(audit_lines[0]["resource"], "arn:aws:ecr:us-east-1:123456789012:repository/app");
  EXPECT_EQ(audit_lines[0]["detail"]["rulePriority"], 1);
  auto event_lines = lines("events");
  ASSERT_EQ(event_lines.size(), 2u);
  EXPECT_EQ(event_lines[0]["type"], "image.expire");
  EXPECT_NE(metrics.exposition().find("berth_lifecycle_expired_images_total 2"), std::string::npos);

  // Nothing left to expire: a second run is a no-op.
  EXPECT_EQ(run().count(Outcome::kExpired), 0u);
}

TEST_F(ExpirerTest, AnIndexAndItsChildrenAreOneUnitAndReferrersFollowTheirSubject) {
  const Digest amd = push_image("app", "", "config-amd", {"layer-amd"});
  const Digest arm = push_image("app", "", "config-arm", {"layer-arm"});
  const Digest old_index = push_index("app", "v1", {amd, arm});
  const Digest signature = push_image("app", "", "sig-config", {"sig-bytes"}, old_index);
  clock.advance(kDay * 3);
  const Digest amd2 = push_image("app", "", "config-amd2", {"layer-amd2"});
  const Digest new_index = push_index("app", "v2", {amd2, arm});  // shares the arm image
  const Digest lone = push_image("app", "", "config-lone", {"layer-lone"});
  clock.advance(kDay * 3);
  put_policy(R"({"rules":[
    {"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
    {"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}]})");

  RunReport report = run();
  // v1 goes with its amd child and its signature; arm stays for v2; the untagged children
  // of v2 are never expired by the untagged rule; the lone untagged image is.
  EXPECT_FALSE(exists(old_index));
  EXPECT_FALSE(exists(amd));
  EXPECT_FALSE(exists(signature));
  EXPECT_FALSE(exists(lone));
  EXPECT_TRUE(exists(arm));
  EXPECT_TRUE(exists(amd2));
  EXPECT_TRUE(exists(new_index));
  EXPECT_EQ(report.count(Outcome::kExpired), 4u);
  for (const auto& d : report.decisions) {
    if (d.image.digest == amd) {
      EXPECT_EQ(d.decision.reason, lifecycle::Reason::kIndex);
      EXPECT_EQ(d.decision.rule_priority, 1);
    }
    if (d.image.digest == signature) {
      EXPECT_EQ(d.decision.reason, lifecycle::Reason::kSubject);
    }
    if (d.image.digest == arm) {
      EXPECT_FALSE(d.decision.expired);
    }
  }
  // Deletion order: referrer, then index, then children.
  ASSERT_GE(report.expiries.size(), 3u);
  EXPECT_EQ(report.expiries[0].image.image.digest, signature);
  EXPECT_EQ(report.expiries[1].image.image.digest, old_index);
}

TEST_F(ExpirerTest, SinceImagePulledCountsFromTheLastRecordedPull) {
  const Digest pulled = push_image("app", "", "config-pulled", {"a"});
  const Digest idle = push_image("app", "", "config-idle", {"b"});
  clock.advance(kDay * 10);
  ASSERT_TRUE(manifests->get("app", registry::Reference{std::nullopt, pulled}, /*count_pull=*/true));
  pulls->flush();
  clock.advance(kDay * 2);
  put_policy(R"({"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"sinceImagePulled",
    "countUnit":"days","countNumber":5},"action":{"type":"expire"}}]})");
  run();
  EXPECT_TRUE(exists(pulled));
  EXPECT_FALSE(exists(idle));
}

TEST_F(ExpirerTest, WithoutAPolicyNothingHappens) {
  const Digest d = push_image("app", "v1", "config", {"l"});
  RunReport report = run();
  EXPECT_FALSE(report.had_policy);
  EXPECT_TRUE(exists(d));
  auto absent = expirer->run("absent", false);
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code, ErrorCode::kNameUnknown);
}

TEST_F(ExpirerTest, RunAllVisitsEveryRepositoryWithAPolicy) {
  ASSERT_TRUE(repos->create("other"));
  push_image("other", "v1", "c1", {"l"});
  clock.advance(std::chrono::minutes(1));
  push_image("other", "v2", "c2", {"l"});
  clock.advance(std::chrono::minutes(1));
  push_image("app", "v1", "c3", {"l"});
  put_policy(
      R"({"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]})",
      "other");
  auto reports = expirer->run_all(false);
  ASSERT_TRUE(reports);
  ASSERT_EQ(reports->size(), 1u);  // "app" has no policy
  EXPECT_EQ((*reports)[0].repository, "other");
  EXPECT_EQ((*reports)[0].count(Outcome::kExpired), 1u);
  EXPECT_FALSE(manifests->get("other", *registry::Reference::parse("v1"), false));
  EXPECT_TRUE(manifests->get("other", *registry::Reference::parse("v2"), false));
}

TEST(StoredPolicy, RoundTripsThroughSettingsAndKeepsOtherSettings) {
  auto settings = nlohmann::json::parse(R"({"imageTagMutability":"IMMUTABLE"})");
  set_policy(settings, StoredPolicy{"{}", 42});
  store::Repository repo;
  repo.settings_json = settings.dump();
  auto p = stored_policy(repo);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->text, "{}");
  EXPECT_EQ(p->last_evaluated_at_ms, 42);
  set_policy(settings, std::nullopt);
  EXPECT_FALSE(stored_policy(settings));
  EXPECT_EQ(settings.value("imageTagMutability", ""), "IMMUTABLE");
}

}  // namespace
}  // namespace berth::expiry
