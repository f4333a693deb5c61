#include "scanning/service.h"

#include <gtest/gtest.h>

#include "registry/testing.h"
#include "scan/testing.h"
#include "scanning/findings.h"
#include "vuln/osv.h"

namespace berth::scanning {
namespace {

using nlohmann::json;
using scan::fixtures::gzip_layer;

constexpr char kLodashAdvisory[] = R"({"id":"GHSA-35jh-r3h4-6jhm","summary":"Command Injection in lodash",
  "database_specific":{"severity":"HIGH"},"references":[{"type":"ADVISORY","url":"https://github.com/advisories/GHSA-35jh-r3h4-6jhm"}],
  "affected":[{"package":{"ecosystem":"npm","name":"lodash"},
  "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"4.17.21"}]}]}]})";
constexpr char kOpensslAdvisory[] = R"({"id":"CVE-2023-5678","summary":"openssl DH check",
  "database_specific":{"severity":"MEDIUM"},
  "affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},
  "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.13-1~deb12u1"}]}]}]})";
constexpr char kZlibAdvisory[] = R"({"id":"CVE-2022-37434","summary":"zlib inflate overflow",
  "affected":[{"package":{"ecosystem":"Debian:12","name":"zlib"},
  "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:1.2.13.dfsg-2"}]}]}]})";

// A test AdvisorySource: a matcher over fixture OSV records, replaced by set().
class FixtureAdvisories : public vuln::AdvisorySource {
 public:
  void set(std::string version, const std::vector<std::string>& records) {
    auto m = std::make_shared<vuln::Matcher>();
    for (const auto& r : records) {
      auto adv = vuln::parse_osv(r);
      EXPECT_TRUE(adv) << adv.error().message;
      if (adv) m->add(*adv);
    }
    std::lock_guard lk(mu_);
    snapshot_ = vuln::Snapshot{std::move(version), std::move(m)};
    unreadable_ = false;
  }
  // Until the next set(), the data cannot be read.
  void break_it() {
    std::lock_guard lk(mu_);
    unreadable_ = true;
  }
  Result<vuln::Snapshot> current() override {
    std::lock_guard lk(mu_);
    if (unreadable_) return fail(ErrorCode::kInternal, "advisories unreadable");
    return snapshot_;
  }

 private:
  std::mutex mu_;
  vuln::Snapshot snapshot_{"", std::make_shared<vuln::Matcher>()};
  bool unreadable_ = false;
};

const std::string kDebianLayer = gzip_layer(
    {{"etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"},
     {"var/lib/dpkg/status",
      "Package: libssl3\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u2\nSource: openssl\n\n"
      "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\nSource: zlib\n\n"}});
const std::string kNodeLayer =
    gzip_layer({{"app/node_modules/lodash/package.json", R"({"name":"lodash","version":"4.17.15"})"}});
constexpr char kScanOnPush[] = R"({"imageScanningConfiguration":{"scanOnPush":true}})";

class ScanServiceTest : public registry::fixtures::EmbeddedRegistry {
 protected:
  void SetUp() override {
    EmbeddedRegistry::SetUp();
    auto sink = observe::EventSink::open(dir_.path() / "events", clock);
    ASSERT_TRUE(sink);
    events = std::move(*sink);
    events->subscribe([this](const json& e) {
      std::lock_guard lk(events_mu);
      seen.push_back(e);
    });
    advisories.set("v1", {kLodashAdvisory, kOpensslAdvisory});
  }
  void TearDown() override {
    service.reset();
    EmbeddedRegistry::TearDown();
  }
  ScanService& make(Options options = {}) {
    service = std::make_unique<ScanService>(*meta, *blobs, advisories, clock, events.get(), options);
    manifests->set_push_listener(service.get());
    return *service;
  }
  // The image's scan ended FAILED because it was never run, for `why`.
  void expect_not_run(const std::string& repo, const Digest& d, const std::string& why) {
    const auto scan = scan_of(repo, d);
    EXPECT_EQ(scan.status, kFailed);
    EXPECT_NE(scan.description.find(why), std::string::npos) << scan.description;
  }
  store::ImageScan scan_of(const std::string& repo, const Digest& d) {
    auto s = service->scan_of(repo, d);
    EXPECT_TRUE(s) << s.error().message;
    EXPECT_TRUE(s && *s) << "no scan of " << d.str();
    return s && *s ? **s : store::ImageScan{.digest = d, .status = "NONE"};
  }
  static std::vector<std::string> finding_ids(const store::ImageScan& s) {
    std::vector<std::string> ids;
    for (const auto& f : findings_from_json(s.findings_json)) ids.push_back(f.id + " " + f.package_name);
    return ids;
  }

  FixtureAdvisories advisories;
  std::unique_ptr<observe::EventSink> events;
  std::mutex events_mu;
  std::vector<json> seen;
  std::unique_ptr<ScanService> service;
};

TEST_F(ScanServiceTest, ScanOnPushMatchesDpkgAndNpmPackages) {
  auto& s = make();
  s.start();
  ASSERT_TRUE(repos->create("app", kScanOnPush));
  const Digest img = push_image("app", "v1", "{}", {kDebianLayer, kNodeLayer});
  s.wait_idle();
  const auto scan = scan_of("app", img);
  EXPECT_EQ(scan.status, kComplete) << scan.description;
  EXPECT_EQ(scan.vulndb_version, "v1");
  ASSERT_TRUE(scan.completed_at_ms);
  // Worst first; zlib has no advisory in v1.
  EXPECT_EQ(finding_ids(scan), (std::vector<std::string>{"GHSA-35jh-r3h4-6jhm lodash", "CVE-2023-5678 libssl3"}));
  EXPECT_EQ(json::parse(scan.severity_counts_json), (json{{"HIGH", 1}, {"MEDIUM", 1}}));
  const auto findings = findings_from_json(scan.findings_json);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].package_version, "4.17.15");
  EXPECT_EQ(findings[0].fixed_versions, std::vector<std::string>{"4.17.21"});
  EXPECT_EQ(findings[0].uri, "https://github.com/advisories/GHSA-35jh-r3h4-6jhm");
  // Where each vulnerable package came from: its file, and the layer that holds it.
  EXPECT_EQ(findings[0].ecosystem, "npm");
  EXPECT_EQ(findings[0].file_path, "app/node_modules/lodash/package.json");
  EXPECT_EQ(findings[0].layer_digest, crypto::sha256(kNodeLayer).str());
  EXPECT_EQ(findings[1].ecosystem, "dpkg");
  EXPECT_EQ(findings[1].file_path, "var/lib/dpkg/status");
  EXPECT_EQ(findings[1].layer_digest, crypto::sha256(kDebianLayer).str());
}

TEST_F(ScanServiceTest, NoScanOnPushWithoutConfiguration) {
  auto& s = make();
  s.start();
  ASSERT_TRUE(repos->create("quiet"));
  const Digest img = push_image("quiet", "v1", "{}", {kNodeLayer});
  s.wait_idle();
  auto none = s.scan_of("quiet", img);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_F(ScanServiceTest, RegistryRuleTurnsOnScanOnPushByWildcard) {
  auto& s = make();
  s.start();
  auto config = parse_registry_config(json::parse(
      R"({"scanType":"BASIC","rules":[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"team/*","filterType":"WILDCARD"}]}]})"));
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_TRUE(s.put_registry_config(*config));
  ASSERT_TRUE(repos->create("team/app"));
  ASSERT_TRUE(repos->create("other"));
  const Digest a = push_image("team/app", "v1", "{}", {kNodeLayer});
  const Digest b = push_image("other", "v1", "{}", {kNodeLayer});
  s.wait_idle();
  EXPECT_EQ(scan_of("team/app", a).status, kComplete);
  auto none = s.scan_of("other", b);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_F(ScanServiceTest, RegistryConfigurationOverridesTheRepositoryFlagOncePut) {
  auto& s = make();
  s.start();
  ASSERT_TRUE(repos->create("flagged", kScanOnPush));
  const Digest before = push_image("flagged", "v1", "{}", {kNodeLayer});
  s.wait_idle();
  EXPECT_EQ(scan_of("flagged", before).status, kComplete);
  // As ECR: once the registry configuration is put, even with no rule, the repository's
  // scanOnPush no longer scans.
  auto config = parse_registry_config(json::parse(R"({"scanType":"BASIC","rules":[]})"));
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_TRUE(s.put_registry_config(*config));
  const Digest after = push_image("flagged", "v2", "{\"v\":2}", {kNodeLayer});
  s.wait_idle();
  auto none = s.scan_of("flagged", after);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto applied = s.repository_config("flagged");
  ASSERT_TRUE(applied);
  EXPECT_FALSE(applied->scan_on_push);
  EXPECT_EQ(applied->frequency, Frequency::kManual);
}

TEST_F(ScanServiceTest, BadLayersEndTheScanFailedWithTheReason) {
  auto& s = make();
  s.start();
  ASSERT_TRUE(repos->create("app", kScanOnPush));
  const Digest not_tar = push_image("app", "junk", "{}", {std::string(4096, 'x')});
  std::string truncated = kDebianLayer.substr(0, kDebianLayer.size() / 2);
  const Digest cut = push_image("app", "cut", "{\"cut\":1}", {truncated});
  s.wait_idle();
  for (const Digest& d : {not_tar, cut}) {
    const auto scan = scan_of("app", d);
    EXPECT_EQ(scan.status, kFailed) << d.str();
    EXPECT_NE(scan.description.find("The scan failed: layer sha256:"), std::string::npos) << scan.description;
    EXPECT_EQ(scan.findings_json, "[]");
  }
}

TEST_F(ScanServiceTest, TarBombCapsEndTheScanFailed) {
  Options options;
  options.limits.max_entries = 3;
  auto& s = make(options);
  s.start();
  ASSERT_TRUE(repos->create("app", kScanOnPush));
  const Digest bomb = push_image("app", "bomb", "{}",
                                 {gzip_layer({{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}})});
  s.wait_idle();
  const auto scan = scan_of("app", bomb);
  EXPECT_EQ(scan.status, kFailed);
  EXPECT_FALSE(scan.description.empty());
}

TEST_F(ScanServiceTest, AFullQueueDropsTheScanWithAReasonAndThePushGoesOn) {
  auto& s = make(Options{.workers = 1, .queue_limit = 1});
  ASSERT_TRUE(repos->create("app", kScanOnPush));
  // Workers not started: the first scan waits in the queue, the second finds it full.
  const Digest first = push_image("app", "a", "{}", {kNodeLayer});
  const Digest second = push_image("app", "b", "{\"b\":1}", {kNodeLayer});
  EXPECT_EQ(scan_of("app", first).status, kInProgress);
  // DescribeImages' listing agrees with scan_of: queued, not stored yet, IN_PROGRESS.
  std::vector<Digest> page{std::min(first, second, [](const Digest& x, const Digest& y) { return x.str() < y.str(); }),
                           std::max(first, second, [](const Digest& x, const Digest& y) { return x.str() < y.str(); })};
  auto listed = s.scans_of_page("app", "", page);
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE((*listed)[i]) << page[i].str();
    EXPECT_EQ((*listed)[i]->digest, page[i]);
    EXPECT_EQ((*listed)[i]->status, page[i] == first ? kInProgress : kFailed);
  }
  expect_not_run("app", second, "scan queue is full");
  s.start();
  s.wait_idle();
  EXPECT_EQ(scan_of("app", first).status, kComplete);
}

TEST_F(ScanServiceTest, AScanStillQueuedAtShutdownIsRecordedAsNotRunAndGivesItsQuotaBack) {
  auto& s = make(Options{.workers = 1, .queue_limit = 4});
  ASSERT_TRUE(repos->create("app"));
  const Digest img = push_image("app", "v1", "{}", {kNodeLayer});
  auto started = s.start_manual_scan("app", img);
  ASSERT_TRUE(started) << started.error().message;
  EXPECT_EQ(started->status, kInProgress);
  s.stop();  // workers never started: the scan was still queued
  expect_not_run("app", img, "server stopped");

  // The next server: the image is not stuck IN_PROGRESS, and today's quota is still there.
  auto& next = make(Options{.workers = 1});
  next.start();
  EXPECT_EQ(scan_of("app", img).status, kFailed);
  auto again = next.start_manual_scan("app", img);
  ASSERT_TRUE(again) << again.error().message;
  next.wait_idle();
  const auto completed = scan_of("app", img);
  EXPECT_EQ(completed.status, kComplete);

  // A rescan that never runs leaves the completed result as it was.
  clock.advance(std::chrono::hours(25));
  auto& last = make(Options{.workers = 1});
  auto rescan = last.start_manual_scan("app", img);
  ASSERT_TRUE(rescan) << rescan.error().message;
  EXPECT_EQ(rescan->status, kInProgress);
  last.stop();
  const auto kept = scan_of("app", img);
  EXPECT_EQ(kept.status, kComplete);
  EXPECT_EQ(kept.completed_at_ms, completed.completed_at_ms);
  EXPECT_EQ(kept.findings_json, completed.findings_json);
}

TEST_F(ScanServiceTest, FindingsKeepWhenFirstObservedAcrossScansThatFailed) {
  // Workers never started and no room in the queue: every enqueue is dropped (FAILED).
  auto& s = make(Options{.workers = 1, .queue_limit = 0});
  ASSERT_TRUE(repos->create("app"));
  const Digest img = push_image("app", "v1", "{}", {kDebianLayer});
  ASSERT_TRUE(s.scan_now("app", img));
  const int64_t first_scan_ms = clock.now_ms();
  ASSERT_EQ(finding_ids(scan_of("app", img)), std::vector<std::string>{"CVE-2023-5678 libssl3"});

  clock.advance(std::chrono::hours(1));
  advisories.break_it();
  auto failed = s.scan_now("app", img);
  ASSERT_TRUE(failed) << failed.error().message;
  EXPECT_EQ(failed->status, kFailed);
  clock.advance(std::chrono::hours(1));
  EXPECT_FALSE(s.enqueue("app", img));
  expect_not_run("app", img, "scan queue is full");
  EXPECT_EQ(scan_of("app", img).findings_json, "[]");  // a scan that failed shows no findings

  clock.advance(std::chrono::hours(1));
  advisories.set("v2", {kOpensslAdvisory, kZlibAdvisory});
  auto done = s.scan_now("app", img);
  ASSERT_TRUE(done) << done.error().message;
  ASSERT_EQ(done->status, kComplete) << done->description;
  const auto findings = findings_from_json(done->findings_json);
  ASSERT_EQ(findings.size(), 2u);
  for (const auto& f : findings) {
    EXPECT_EQ(f.first_observed_ms, std::optional<int64_t>(f.id == "CVE-2022-37434" ? clock.now_ms() : first_scan_ms))
        << f.id;
  }
}

TEST_F(ScanServiceTest, IndexIsUnsupportedAndItsImagesAreScannedOnTheirOwn) {
  auto& s = make();
  s.start();
  ASSERT_TRUE(repos->create("multi", kScanOnPush));
  const Digest amd = push_image("multi", "", "{\"arch\":\"amd64\"}", {kNodeLayer});
  const Digest arm = push_image("multi", "", "{\"arch\":\"arm64\"}", {kDebianLayer});
  const Digest index = push_index("multi", "v1", {amd, arm});
  s.wait_idle();
  EXPECT_EQ(scan_of("multi", index).status, kUnsupportedImage);
  EXPECT_EQ(finding_ids(scan_of("multi", amd)), std::vector<std::string>{"GHSA-35jh-r3h4-6jhm lodash"});
  EXPECT_EQ(finding_ids(scan_of("multi", arm)), std::vector<std::string>{"CVE-2023-5678 libssl3"});
  auto manual = s.start_manual_scan("multi", index);
  ASSERT_FALSE(manual);
  EXPECT_EQ(manual.error().code, ErrorCode::kUnsupportedImageType);
}

TEST_F(ScanServiceTest, AnIndexPushedWithScanOnPushScansItsUnscannedImages) {
  auto& s = make();
  s.start();
  ASSERT_TRUE(repos->create("late"));
  // Pushed while the repository did not scan on push.
  const Digest amd = push_image("late", "", "{\"arch\":\"amd64\"}", {kNodeLayer});
  s.wait_idle();
  auto none = s.scan_of("late", amd);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  ASSERT_TRUE(repos->edit_settings("late", [](nlohmann::json& settings) -> Result<void> {
    settings = nlohmann::json::parse(kScanOnPush);
    return {};
  }));
  const Digest index = push_index("late", "v1", {amd});
  s.wait_idle();
  EXPECT_EQ(scan_of("late", index).status, kUnsupportedImage);
  EXPECT_EQ(scan_of("late", amd).status, kComplete);
}

TEST_F(ScanServiceTest, ManualScanOncePerImagePerDay) {
  auto& s = make();
  s.start();
  ASSERT_TRUE(repos->create("app"));
  const Digest img = push_image("app", "v1", "{}", {kNodeLayer});
  auto never = s.scan_of("app", img);
  ASSERT_TRUE(never);
  EXPECT_FALSE(*never);
  auto first = s.start_manual_scan("app", img);
  ASSERT_TRUE(first) << first.error().message;
  s.wait_idle();
  EXPECT_EQ(scan_of("app", img).status, kComplete);
  auto again = s.start_manual_scan("app", img);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kLimitExceeded);
  clock.advance(std::chrono::hours(24));
  auto next_day = s.start_manual_scan("app", img);
  ASSERT_TRUE(next_day) << next_day.error().message;
  s.wait_idle();
  auto unknown = s.start_manual_scan("app", crypto::sha256("nothing"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kManifestUnknown);
  auto no_repo = s.start_manual_scan("nope", img);
  ASSERT_FALSE(no_repo);
  EXPECT_EQ(no_repo.error().code, ErrorCode::kNameUnknown);
}

TEST_F(ScanServiceTest, AManualScanThatNeverRanOrFailedDoesNotUseTheQuota) {
  auto& s = make(Options{.workers = 1, .queue_limit = 1});
  ASSERT_TRUE(repos->create("app"));
  const Digest waiting = push_image("app", "a", "{}", {kNodeLayer});
  const Digest img = push_image("app", "b", "{\"b\":1}", {kNodeLayer});
  const Digest bad = push_image("app", "c", "{\"c\":1}", {std::string(4096, 'x')});
  // Workers not started: the first scan fills the queue, the second is not run.
  ASSERT_TRUE(s.start_manual_scan("app", waiting));
  auto dropped = s.start_manual_scan("app", img);
  ASSERT_TRUE(dropped) << dropped.error().message;
  EXPECT_EQ(dropped->status, kFailed);
  s.start();
  s.wait_idle();
  auto retried = s.start_manual_scan("app", img);
  ASSERT_TRUE(retried) << retried.error().message;
  s.wait_idle();
  EXPECT_EQ(scan_of("app", img).status, kComplete);
  auto again = s.start_manual_scan("app", img);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kLimitExceeded);
  // A scan that ends FAILED does not count either.
  ASSERT_TRUE(s.start_manual_scan("app", bad));
  s.wait_idle();
  EXPECT_EQ(scan_of("app", bad).status, kFailed);
  auto bad_again = s.start_manual_scan("app", bad);
  ASSERT_TRUE(bad_again) << bad_again.error().message;
  s.wait_idle();
}

TEST_F(ScanServiceTest, RescanRematchesContinuousRepositoriesWithoutReadingLayers) {
  auto& s = make();
  s.start();
  auto config = parse_registry_config(json::parse(
      R"({"scanType":"ENHANCED","rules":[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"team/*","filterType":"WILDCARD"}]},
          {"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"*","filterType":"WILDCARD"}]}]})"));
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_TRUE(s.put_registry_config(*config));
  ASSERT_TRUE(repos->create("team/app"));
  ASSERT_TRUE(repos->create("once"));
  const Digest img = push_image("team/app", "v1", "{}", {kDebianLayer});
  const Digest other = push_image("once", "v1", "{}", {kDebianLayer});
  s.wait_idle();
  EXPECT_EQ(finding_ids(scan_of("team/app", img)), std::vector<std::string>{"CVE-2023-5678 libssl3"});

  // Nothing changed: nothing to do.
  auto idle = s.rescan_changed();
  ASSERT_TRUE(idle) << idle.error().message;
  EXPECT_EQ(idle->images_rematched, 0u);

  // The layers' bytes go away: a rescan must not need them.
  auto manifest = meta->get_manifest("team/app", img);
  ASSERT_TRUE(manifest);
  const json doc = json::parse(manifest->content);
  for (const auto& l : doc["layers"]) {
    ASSERT_TRUE(blobs->remove(*Digest::parse(l["digest"].get<std::string>())));
  }
  const int64_t first_scan_ms = clock.now_ms();
  clock.advance(std::chrono::hours(2));
  advisories.set("v2", {kLodashAdvisory, kOpensslAdvisory, kZlibAdvisory});
  auto report = s.rescan_changed();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->vulndb_version, "v2");
  EXPECT_EQ(report->images_rematched, 1u);  // "once" is SCAN_ON_PUSH only
  EXPECT_EQ(report->images_with_new_findings, 1u);
  EXPECT_EQ(report->layers_read, 0);
  const auto rescanned = scan_of("team/app", img);
  EXPECT_EQ(rescanned.status, kComplete) << rescanned.description;
  EXPECT_EQ(rescanned.vulndb_version, "v2");
  EXPECT_EQ(finding_ids(rescanned),
            (std::vector<std::string>{"CVE-2023-5678 libssl3", "CVE-2022-37434 zlib1g"}));  // MEDIUM, UNDEFINED
  EXPECT_EQ(scan_of("once", other).vulndb_version, "v1");
  // A finding seen before keeps when it was first seen; a new one is seen now.
  for (const auto& f : findings_from_json(rescanned.findings_json)) {
    EXPECT_EQ(f.first_observed_ms, std::optional<int64_t>(f.id == "CVE-2022-37434" ? clock.now_ms() : first_scan_ms))
        << f.id;
  }
  // So does a full scan of the image.
  clock.advance(std::chrono::hours(1));
  auto full = s.scan_now("team/app", img);
  ASSERT_TRUE(full) << full.error().message;
  for (const auto& f : findings_from_json(scan_of("team/app", img).findings_json)) {
    EXPECT_EQ(f.first_observed_ms,
              std::optional<int64_t>(f.id == "CVE-2022-37434" ? clock.now_ms() - 3600 * 1000 : first_scan_ms))
        << f.id;
  }
  {
    std::lock_guard lk(events_mu);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0]["type"], "image.scan.findings");
    EXPECT_EQ(seen[0]["repository"], "team/app");
    EXPECT_EQ(seen[0]["detail"]["imageDigest"], img.str());
    ASSERT_EQ(seen[0]["detail"]["newFindings"].size(), 1u);
    EXPECT_EQ(seen[0]["detail"]["newFindings"][0]["name"], "CVE-2022-37434");
  }
  // Same data again: no more events.
  auto quiet = s.rescan_changed();
  ASSERT_TRUE(quiet);
  EXPECT_EQ(quiet->images_rematched, 0u);
  std::lock_guard lk(events_mu);
  EXPECT_EQ(seen.size(), 1u);
}

TEST(ScanningConfig, ValidatesRulesAsTheEcrModel) {
  EXPECT_FALSE(parse_registry_config(json{{"scanType", "FANCY"}}));
  EXPECT_FALSE(parse_registry_config(json::parse(R"({"rules":[{"scanFrequency":"HOURLY","repositoryFilters":[]}]})")));
  EXPECT_FALSE(parse_registry_config(
      json::parse(R"({"rules":[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"Team/*","filterType":"WILDCARD"}]}]})")));
  EXPECT_FALSE(parse_registry_config(
      json::parse(R"({"rules":[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"a//b","filterType":"WILDCARD"}]}]})")));
  EXPECT_FALSE(parse_registry_config(
      json::parse(R"({"rules":[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"a","filterType":"PREFIX"}]}]})")));
  EXPECT_FALSE(parse_registry_config(json::parse(
      R"({"rules":[{"scanFrequency":"MANUAL","repositoryFilters":[]},{"scanFrequency":"MANUAL","repositoryFilters":[]},{"scanFrequency":"MANUAL","repositoryFilters":[]}]})")));
  auto ok = parse_registry_config(
      json::parse(R"({"scanType":"ENHANCED","rules":[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"prod-*","filterType":"WILDCARD"}]}]})"));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(to_json(*ok)["rules"][0]["repositoryFilters"][0]["filter"], "prod-*");
  EXPECT_EQ(registry_config_from_text(to_json(*ok).dump()).rules.size(), 1u);
  EXPECT_EQ(registry_config_from_text(std::nullopt).scan_type, "BASIC");
  EXPECT_FALSE(registry_config_from_text(std::nullopt).configured);
  EXPECT_TRUE(registry_config_from_text(to_json(*ok).dump()).configured);
}

TEST(ScanningConfig, ContinuousScanNeedsEnhanced) {
  const char* basic_continuous =
      R"({"scanType":"BASIC","rules":[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"*","filterType":"WILDCARD"}]},
          {"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"prod/*","filterType":"WILDCARD"}]}]})";
  auto refused = parse_registry_config(json::parse(basic_continuous));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(refused.error().message.find("rules[1].scanFrequency"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("ENHANCED"), std::string::npos);
  // No scanType is BASIC too.
  EXPECT_FALSE(parse_registry_config(json::parse(
      R"({"rules":[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"*","filterType":"WILDCARD"}]}]})")));
  // ENHANCED takes CONTINUOUS_SCAN and SCAN_ON_PUSH only.
  auto manual = parse_registry_config(json::parse(
      R"({"scanType":"ENHANCED","rules":[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"*","filterType":"WILDCARD"}]},
          {"scanFrequency":"MANUAL","repositoryFilters":[{"filter":"dev/*","filterType":"WILDCARD"}]}]})"));
  ASSERT_FALSE(manual);
  EXPECT_EQ(manual.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(manual.error().message.find("rules[1].scanFrequency"), std::string::npos) << manual.error().message;
  EXPECT_NE(manual.error().message.find("MANUAL"), std::string::npos);
  // One stored before this was refused still reads, rules and all.
  const auto stored = registry_config_from_text(std::string(basic_continuous));
  EXPECT_TRUE(stored.configured);
  ASSERT_EQ(stored.rules.size(), 2u);
  EXPECT_EQ(stored.rules[1].frequency, Frequency::kContinuous);
}

TEST(ScanningConfig, MostFrequentMatchingRuleWinsElseTheRepositoryFlag) {
  auto config = parse_registry_config(json::parse(
      R"({"scanType":"ENHANCED","rules":[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"*","filterType":"WILDCARD"}]},
                   {"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"prod/*","filterType":"WILDCARD"}]}]})"));
  ASSERT_TRUE(config);
  auto prod = repository_scanning("prod/api", "{}", *config);
  EXPECT_EQ(prod.frequency, Frequency::kContinuous);
  EXPECT_TRUE(prod.scan_on_push);
  ASSERT_EQ(prod.applied_filters.size(), 1u);
  EXPECT_EQ(prod.applied_filters[0].filter, "prod/*");
  EXPECT_EQ(repository_scanning("dev", "{}", *config).frequency, Frequency::kScanOnPush);
  const RegistryScanningConfig none;
  EXPECT_EQ(repository_scanning("dev", "{}", none).frequency, Frequency::kManual);
  EXPECT_FALSE(repository_scanning("dev", "{}", none).scan_on_push);
  EXPECT_TRUE(repository_scanning("dev", kScanOnPush, none).scan_on_push);
  // Once put, the rules decide alone: a repository no rule matches is MANUAL whatever
  // its flag, and a matching rule scans it whatever its flag.
  auto only_prod = parse_registry_config(json::parse(
      R"({"rules":[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"prod/*","filterType":"WILDCARD"}]}]})"));
  ASSERT_TRUE(only_prod);
  EXPECT_FALSE(repository_scanning("dev", kScanOnPush, *only_prod).scan_on_push);
  EXPECT_EQ(repository_scanning("dev", kScanOnPush, *only_prod).frequency, Frequency::kManual);
  EXPECT_TRUE(repository_scanning("prod/api", "{}", *only_prod).scan_on_push);
  auto empty = parse_registry_config(json::object());
  ASSERT_TRUE(empty);
  EXPECT_FALSE(repository_scanning("dev", kScanOnPush, *empty).scan_on_push);
  EXPECT_TRUE(filter_matches("team/*", "team/a/b"));
  EXPECT_FALSE(filter_matches("team/*", "teams"));
}

}  // namespace
}  // namespace berth::scanning
