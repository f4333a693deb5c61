#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "observe/audit.h"
#include "observe/events.h"
#include "observe/metrics.h"
#include "support/temp_dir.h"

namespace berth::observe {
namespace {

using namespace std::chrono_literals;

class ObserveTest : public ::testing::Test {
 protected:
  static std::vector<nlohmann::json> read_lines(const std::filesystem::path& file) {
    std::vector<nlohmann::json> out;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }

  test::TempDir dir_{"berth-observe"};
  // 2026-11-25T23:59:59.500Z
  ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::milliseconds(1795651199500))};
};

TEST_F(ObserveTest, Iso8601) {
  EXPECT_EQ(iso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601(1795651199500), "2026-11-25T23:59:59.500Z");
}

TEST_F(ObserveTest, AuditRecordsOneLinePerCallAndRotatesDaily) {
  auto audit = AuditLog::open(dir_.path() / "audit", clock_);
  ASSERT_TRUE(audit) << audit.error().message;
  AuditRecord push;
  push.source = "ecr";
  push.action = "ecr:PutImage";
  push.principal = "arn:aws:iam::123456789012:user/ci";
  push.access_key_id = "AKIAEXAMPLE";
  push.source_ip = "127.0.0.1";
  push.user_agent = "aws-cli/1";
  push.resource = "arn:aws:ecr:us-east-1:123456789012:repository/app";
  push.detail = {{"imageTag", "v1"}};
  (*audit)->record(push);
  clock_.advance(1s);  // next day
  AuditRecord denied;
  denied.source = "registry";
  denied.action = "ecr:PutImage";
  denied.source_ip = "10.0.0.1";
  denied.resource = push.resource;
  denied.outcome = Outcome::kDenied;
  denied.error_code = "DENIED";
  denied.message = "not \xff allowed";
  (*audit)->record(denied);

  auto first = read_lines(dir_.path() / "audit" / "2026-11-25.jsonl");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]["time"], "2026-11-25T23:59:59.500Z");
  EXPECT_EQ(first[0]["action"], "ecr:PutImage");
  EXPECT_EQ(first[0]["principal"], "arn:aws:iam::123456789012:user/ci");
  EXPECT_EQ(first[0]["result"], "success");
  EXPECT_EQ(first[0]["detail"]["imageTag"], "v1");
  EXPECT_FALSE(first[0].contains("errorCode"));

  auto second = read_lines(dir_.path() / "audit" / "2026-11-26.jsonl");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_TRUE(second[0]["principal"].is_null());
  EXPECT_EQ(second[0]["result"], "denied");
  EXPECT_EQ(second[0]["errorCode"], "DENIED");
  EXPECT_EQ(second[0]["sourceIp"], "10.0.0.1");
  EXPECT_NE(second[0]["errorMessage"].get<std::string>().find("allowed"), std::string::npos);
}

TEST_F(ObserveTest, ConcurrentAppendsNeverInterleave) {
  auto a = JsonLinesFile::open(dir_.path(), clock_);
  auto b = JsonLinesFile::open(dir_.path(), clock_);  // a second writer, as another process would be
  ASSERT_TRUE(a && b);
  const std::string payload(3000, 'x');
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto& file = t % 2 ? *a : *b;
      for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE(file->append(nlohmann::json{{"t", t}, {"i", i}, {"p", payload}}.dump()));
      }
    });
  }
  for (auto& th : threads) th.join();
  auto lines = read_lines(dir_.path() / "2026-11-25.jsonl");  // parse throws on a torn line
  EXPECT_EQ(lines.size(), 800u);
}

TEST_F(ObserveTest, EventsReachTheFileAndSubscribers) {
  auto events = EventSink::open(dir_.path() / "events", clock_);
  ASSERT_TRUE(events);
  std::vector<std::string> seen;
  (*events)->subscribe([&](const nlohmann::json& e) { seen.push_back(e["type"]); });
  (*events)->publish({.type = "image.push", .repository = "app", .detail = {{"imageDigest", "sha256:ab"}}});
  ASSERT_EQ(seen, std::vector<std::string>{"image.push"});
  auto lines = read_lines(dir_.path() / "events" / "2026-11-25.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["repository"], "app");
  EXPECT_EQ(lines[0]["detail"]["imageDigest"], "sha256:ab");
}

TEST_F(ObserveTest, MetricsExposition) {
  Metrics m;
  m.counter("berth_expired_images_total", "Images expired by lifecycle policies.", {{"repository", "a\"b"}}).inc(2);
  m.counter("berth_expired_images_total", "Images expired by lifecycle policies.", {{"repository", "a\"b"}}).inc();
  m.gauge("berth_storage_bytes", "Bytes stored.").set(42);
  const std::string text = m.exposition();
  EXPECT_NE(text.find("# TYPE berth_expired_images_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("berth_expired_images_total{repository=\"a\\\"b\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE berth_storage_bytes gauge\nberth_storage_bytes 42\n"), std::string::npos);
}

}  // namespace
}  // namespace berth::observe
