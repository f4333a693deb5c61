#include "scanning/pull_gate.h"

#include <gtest/gtest.h>

#include "registry/testing.h"
#include "scanning/status.h"

namespace berth::scanning {
namespace {

constexpr char kScanner[] = "arn:aws:iam::123456789012:role/scanner";
constexpr char kDev[] = "arn:aws:iam::123456789012:user/dev";

std::string finding(const std::string& id, const std::string& severity) {
  return R"({"id":")" + id + R"(","severity":")" + severity +
         R"(","description":"d","uri":"","package_name":"lodash","package_version":"4.17.15","fixed_versions":[]})";
}

class PullGateTest : public registry::fixtures::EmbeddedRegistry {
 protected:
  void SetUp() override {
    EmbeddedRegistry::SetUp();
    ASSERT_TRUE(repos->create("team/app"));
    ASSERT_TRUE(repos->create("team/other"));
    gate = std::make_unique<PullGateService>(*meta);
    manifests->set_pull_gate(gate.get());
  }
  void TearDown() override {
    manifests->set_pull_gate(nullptr);
    gate.reset();
    EmbeddedRegistry::TearDown();
  }

  Digest image(const std::string& repo, const std::string& tag) {
    return push_image(repo, tag, R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"t":")" + tag + "\"}", {"layer-" + tag});
  }
  void scanned(const std::string& repo, const Digest& d, const std::string& status, const std::string& findings) {
    ASSERT_TRUE(meta->put_image_scan(repo, store::ImageScan{.digest = d, .status = status, .description = "why",
                                                            .started_at_ms = 1, .completed_at_ms = 2,
                                                            .findings_json = findings}));
  }
  Result<store::ManifestRecord> pull(const std::string& repo, const std::string& ref, std::string_view puller = kDev) {
    return manifests->get(repo, *registry::Reference::parse(ref), /*count_pull=*/true, registry::Puller{.arn = puller});
  }
  static PullGatePolicy policy(std::string_view severity, bool block_unscanned = false,
                               std::vector<std::string> exempt = {}) {
    return PullGatePolicy{.severity = *parse_gate_severity(severity), .block_unscanned = block_unscanned,
                          .exempt = std::move(exempt)};
  }

  std::unique_ptr<PullGateService> gate;
};

TEST_F(PullGateTest, RefusesFindingsAtOrAboveTheSeverityNamingImageWorstFindingAndOverride) {
  const Digest d = image("team/app", "v1");
  scanned("team/app", d, kComplete, "[" + finding("GHSA-low", "LOW") + "," + finding("GHSA-bad", "CRITICAL") + "," +
                                        finding("GHSA-high", "HIGH") + "]");
  ASSERT_TRUE(pull("team/app", "v1"));  // no gate yet
  ASSERT_TRUE(gate->set("", policy("HIGH")));
  auto refused = pull("team/app", "v1");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kDenied);
  const std::string& msg = refused.error().message;
  EXPECT_NE(msg.find("team/app@" + d.str()), std::string::npos) << msg;
  EXPECT_NE(msg.find("CRITICAL finding GHSA-bad in lodash 4.17.15"), std::string::npos) << msg;
  EXPECT_NE(msg.find("and 1 more at HIGH or above"), std::string::npos) << msg;
  EXPECT_NE(msg.find("exempt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("berth admin set-pull-gate ..."), std::string::npos) << msg;
  // By digest too, and BatchGetImage-style gets go the same way; HEAD and internal reads do not.
  EXPECT_FALSE(pull("team/app", d.str()));
  EXPECT_TRUE(manifests->get("team/app", *registry::Reference::parse("v1"), /*count_pull=*/false,
                            registry::Puller{.arn = kDev}));
}

// A request brings the version it was authorized at, and the gate decides on that data
// rather than reading the version again (nullopt: it reads the version).
TEST_F(PullGateTest, DecidesAtTheVersionTheRequestBrings) {
  const Digest d = image("team/app", "v1");
  scanned("team/app", d, kComplete, "[" + finding("GHSA-bad", "CRITICAL") + "]");
  ASSERT_TRUE(gate->set("", policy("HIGH")));
  const auto before = meta->data_version();
  ASSERT_TRUE(before);
  auto at = [&](std::optional<uint64_t> v) {
    return manifests->get("team/app", *registry::Reference::parse("v1"), /*count_pull=*/true,
                          registry::Puller{.arn = kDev, .data_version = v});
  };
  EXPECT_FALSE(at(*before));
  ASSERT_TRUE(gate->clear(""));
  ASSERT_NE(*meta->data_version(), *before);
  EXPECT_FALSE(at(*before));      // a request authorized before the gate was cleared
  EXPECT_TRUE(at(std::nullopt));  // reads the version: the gate is gone
  EXPECT_TRUE(at(*meta->data_version()));
}

TEST_F(PullGateTest, FindingsBelowTheSeverityPass) {
  const Digest d = image("team/app", "v1");
  scanned("team/app", d, kComplete, "[" + finding("GHSA-high", "HIGH") + "," + finding("X", "UNDEFINED") + "]");
  ASSERT_TRUE(gate->set("", policy("CRITICAL")));
  EXPECT_TRUE(pull("team/app", "v1"));
  ASSERT_TRUE(gate->set("", policy("high")));
  EXPECT_FALSE(pull("team/app", "v1"));
  ASSERT_TRUE(gate->set("", policy("NONE")));
  EXPECT_TRUE(pull("team/app", "v1"));
}

TEST_F(PullGateTest, ExemptPrincipalsPullAndAnonymousIsNeverExempt) {
  const Digest d = image("team/app", "v1");
  scanned("team/app", d, kComplete, "[" + finding("GHSA-high", "HIGH") + "]");
  ASSERT_TRUE(gate->set("", policy("HIGH", false, {kScanner})));
  EXPECT_TRUE(pull("team/app", "v1", kScanner));
  EXPECT_FALSE(pull("team/app", "v1", kDev));
  EXPECT_FALSE(pull("team/app", "v1", ""));
}

TEST_F(PullGateTest, TheRepositorySettingWinsOverTheRegistrys) {
  const Digest a = image("team/app", "v1");
  const Digest o = image("team/other", "v1");
  scanned("team/app", a, kComplete, "[" + finding("GHSA-med", "MEDIUM") + "]");
  scanned("team/other", o, kComplete, "[" + finding("GHSA-med", "MEDIUM") + "]");
  ASSERT_TRUE(gate->set("", policy("MEDIUM")));
  ASSERT_TRUE(gate->set("team/app", policy("NONE")));
  EXPECT_TRUE(pull("team/app", "v1"));
  auto refused = pull("team/other", "v1");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("the registry's pull gate"), std::string::npos);

  ASSERT_TRUE(gate->set("team/app", policy("LOW")));
  refused = pull("team/app", "v1");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("pull gate of repository team/app"), std::string::npos);
  EXPECT_NE(refused.error().message.find("set-pull-gate --repository team/app"), std::string::npos);

  ASSERT_TRUE(gate->clear("team/app"));
  EXPECT_FALSE(pull("team/app", "v1"));  // the registry's gate applies again
  ASSERT_TRUE(gate->clear(""));
  EXPECT_TRUE(pull("team/app", "v1"));
  EXPECT_TRUE(pull("team/other", "v1"));
  EXPECT_EQ(gate->clear("").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(gate->clear("team/app").error().code, ErrorCode::kNotFound);
}

TEST_F(PullGateTest, UnscannedAndFailedImagesPassUnlessBlockUnscanned) {
  const Digest never = image("team/app", "never");
  const Digest failed = image("team/app", "failed");
  const Digest running = image("team/app", "running");
  scanned("team/app", failed, kFailed, "[]");
  scanned("team/app", running, kInProgress, "[]");
  ASSERT_TRUE(gate->set("", policy("HIGH")));
  EXPECT_TRUE(pull("team/app", "never"));
  EXPECT_TRUE(pull("team/app", "failed"));
  ASSERT_TRUE(gate->set("", policy("NONE", /*block_unscanned=*/true)));
  auto refused = pull("team/app", "never");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("team/app@" + never.str() + " has never been scanned"), std::string::npos)
      << refused.error().message;
  refused = pull("team/app", "failed");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("its scan FAILED: why"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(pull("team/app", "running"));
  scanned("team/app", never, kComplete, "[]");
  EXPECT_TRUE(pull("team/app", "never"));  // the cache follows the store's writes
}

TEST_F(PullGateTest, IndexesAndArtifactsPassTheImagesOfAnIndexAreGated) {
  const Digest child = image("team/app", "");
  scanned("team/app", child, kComplete, "[" + finding("GHSA-high", "HIGH") + "]");
  const Digest index = push_index("team/app", "multi", {child});
  const std::string artifact = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                               R"("config":{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json",)"
                               R"("digest":")" + push_blob("team/app", "sig").str() + R"(","size":3},"layers":[]})";
  put_manifest("team/app", "sig", "application/vnd.oci.image.manifest.v1+json", artifact);
  ASSERT_TRUE(gate->set("", policy("HIGH", /*block_unscanned=*/true)));
  EXPECT_TRUE(pull("team/app", "multi"));
  EXPECT_TRUE(pull("team/app", index.str()));
  EXPECT_TRUE(pull("team/app", "sig"));
  EXPECT_FALSE(pull("team/app", child.str()));
}

TEST_F(PullGateTest, AnyRefusesUndefinedFindingsWhichNamedLevelsLetThrough) {
  const Digest d = image("team/app", "os");
  scanned("team/app", d, kComplete, "[" + finding("CVE-2022-37434", "UNDEFINED") + "]");
  ASSERT_TRUE(gate->set("", policy("INFORMATIONAL")));
  EXPECT_TRUE(pull("team/app", "os"));
  ASSERT_TRUE(gate->set("", policy("ANY")));
  auto refused = pull("team/app", "os");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("an UNDEFINED finding CVE-2022-37434"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("findings of any severity"), std::string::npos) << refused.error().message;
  auto stored = gate->get("");
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ(to_json(**stored)["severity"], "ANY");
  EXPECT_EQ((*stored)->severity, vuln::Severity::kUndefined);
  scanned("team/app", d, kComplete, "[]");
  EXPECT_TRUE(pull("team/app", "os"));
}

TEST(PullGatePolicy, ValidatesSeverityAndExemptArns) {
  EXPECT_EQ(*parse_gate_severity("any"), vuln::Severity::kUndefined);
  auto wildcard = validate_exempt_arn("arn:aws:iam::123456789012:role/scan*");
  ASSERT_FALSE(wildcard);
  EXPECT_NE(wildcard.error().message.find("wildcard"), std::string::npos) << wildcard.error().message;
  EXPECT_FALSE(validate_exempt_arn("arn:aws:iam::123456789012:user/a?c"));
  EXPECT_FALSE(parse_gate_severity("SEVERE"));
  EXPECT_FALSE(parse_gate_severity("UNDEFINED"));
  EXPECT_EQ(*parse_gate_severity("informational"), vuln::Severity::kInformational);
  EXPECT_FALSE(*parse_gate_severity("NONE"));
  EXPECT_TRUE(validate_exempt_arn(kScanner));
  EXPECT_TRUE(validate_exempt_arn("arn:aws:iam::123456789012:root"));
  EXPECT_FALSE(validate_exempt_arn("arn:aws:iam::12345:user/x"));
  EXPECT_FALSE(validate_exempt_arn("arn:aws:iam::123456789012:group/x"));
  EXPECT_FALSE(validate_exempt_arn("scanner"));
  auto round = pull_gate_from_json(to_json(PullGatePolicy{.severity = vuln::Severity::kLow, .block_unscanned = true,
                                                          .exempt = {kScanner}}));
  ASSERT_TRUE(round);
  EXPECT_EQ(round->severity, vuln::Severity::kLow);
  EXPECT_TRUE(round->block_unscanned);
  EXPECT_EQ(round->exempt, std::vector<std::string>{kScanner});
  EXPECT_FALSE(pull_gate_from_json(nlohmann::json{{"severity", "HIGH"}, {"exempt", {"nobody"}}}));
  EXPECT_FALSE(effective_gate("{}", std::string("not json")));
}

}  // namespace
}  // namespace berth::scanning
