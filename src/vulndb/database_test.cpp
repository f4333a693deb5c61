#include "vulndb/database.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <utility>
#include <vector>

#include "store/meta/sqlite/sqlite_meta_store.h"
#include "support/temp_dir.h"

namespace berth::vulndb {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string osv(const std::string& id, const std::string& name, const std::string& fixed,
                const std::string& modified = "2024-01-01T00:00:00Z") {
  return R"({"id": ")" + id + R"(", "modified": ")" + modified + R"(", "summary": ")" + id +
         R"( summary", "affected": [{"package": {"ecosystem": "npm", "name": ")" + name +
         R"("}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": ")" + fixed + R"("}]}]}]})";
}

constexpr char kDsaList[] =
    "[03 Oct 2023] DSA-5514-1 glibc - security update\n"
    "\t{CVE-2023-4911}\n"
    "\t[bookworm] - glibc 2.36-9+deb12u3\n";
constexpr char kCveList[] =
    "CVE-2023-4911 (buffer overflow in ld.so)\n"
    "\t- glibc <unfixed>\n"
    "\t[buster] - glibc <not-affected> (Vulnerable code introduced later)\n";
constexpr char kAlpine[] = R"({"distroversion": "v3.20", "reponame": "main", "packages": [
  {"pkg": {"name": "musl", "secfixes": {"1.2.5-r1": ["CVE-2025-26519"]}}},
  {"pkg": {"name": "openssl", "secfixes": {"3.3.2-r0": ["CVE-2024-6119"]}}}]})";

struct Fixture : ::testing::Test {
  test::TempDir dir{"berth-vulndb"};
  ManualClock clock{std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'000))};
  std::unique_ptr<store::SqliteMetaStore> store;

  void SetUp() override {
    auto opened = store::SqliteMetaStore::open((dir.path() / "meta.db").string());
    ASSERT_TRUE(opened) << opened.error().message;
    store = std::move(*opened);
  }
  fs::path data() const { return dir.path() / "data"; }

  void write_sample() {
    write(data() / "osv/npm/GHSA-aaaa.json", osv("GHSA-aaaa", "lodash", "4.17.20"));
    write(data() / "osv/npm/GHSA-bbbb.json", osv("GHSA-bbbb", "minimist", "1.2.6"));
    write(data() / "debian/DSA-list", kDsaList);
    write(data() / "debian/CVE-list", kCveList);
    write(data() / "alpine/v3.20/main.json", kAlpine);
    write(data() / "README.md", "# advisories\n");
  }
};

std::vector<std::string> finding_ids(const vuln::Snapshot& s, const vuln::OsInfo& os, const vuln::Package& pkg) {
  std::vector<std::string> ids;
  for (const auto& f : s.matcher->match(os, {pkg})) ids.push_back(f.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

const vuln::Package kLodash{"npm", "lodash", "4.17.15"};
const vuln::Package kGlibc{"dpkg", "libc6", "2.36-9+deb12u2", "glibc", "2.36-9+deb12u2"};
const vuln::OsInfo kBookworm{"debian", "12.1"};

TEST_F(Fixture, ImportsEveryFormatAndMatchesWhatItImported) {
  write_sample();
  Database db(*store, clock);
  auto empty = db.current();
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_EQ(empty->version, "");
  ASSERT_NE(empty->matcher, nullptr);
  EXPECT_EQ(empty->matcher->size(), 0u);

  std::vector<std::string> read_files;
  auto report = db.import(data().string(), [&](const ImportEvent& e) {
    if (e.kind == ImportEvent::Kind::kFileRead) read_files.push_back(e.file);
  });
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->files_read, 5u);
  EXPECT_EQ(read_files.front(), "alpine/v3.20/main.json");  // name order
  EXPECT_TRUE(report->skipped.empty());
  ASSERT_EQ(report->ignored.size(), 1u);
  EXPECT_EQ(report->ignored[0].file, "README.md");
  // 2 OSV + CVE-2023-4911 (the DSA naming a known CVE is folded into it) + 2 Alpine CVEs.
  EXPECT_EQ(report->added, 5u);
  EXPECT_EQ(report->changed + report->unchanged + report->removed, 0u);
  EXPECT_TRUE(report->pruned);
  EXPECT_EQ(report->sources.size(), 3u);

  auto snap = db.current();
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_EQ(snap->version, std::to_string(report->version));
  EXPECT_EQ(finding_ids(*snap, {}, kLodash), std::vector<std::string>{"GHSA-aaaa"});
  // The CVE list says <unfixed> for unstable; bookworm's fix comes from the DSA.
  EXPECT_EQ(finding_ids(*snap, kBookworm, kGlibc), std::vector<std::string>{"CVE-2023-4911"});
  auto fixed_glibc = kGlibc;
  fixed_glibc.source_version = "2.36-9+deb12u3";
  EXPECT_TRUE(finding_ids(*snap, kBookworm, fixed_glibc).empty());
  EXPECT_EQ(finding_ids(*snap, {"alpine", "3.20.3"}, {"apk", "musl", "1.2.5-r0"}),
            std::vector<std::string>{"CVE-2025-26519"});

  auto status = db.status();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->version, report->version);
  ASSERT_TRUE(status->last_import);
  EXPECT_EQ(status->last_import->added, 5u);
  EXPECT_EQ(status->last_import->files_read, 5u);
  EXPECT_EQ(status->last_import->started_at_ms, clock.now_ms());
}

TEST_F(Fixture, ReimportIsIdempotentAndAFullReimportRemovesWhatIsGone) {
  write_sample();
  Database db(*store, clock);
  auto first = db.import(data().string());
  ASSERT_TRUE(first) << first.error().message;
  auto snap1 = db.current();
  ASSERT_TRUE(snap1);

  auto again = db.import(data().string());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->added + again->changed + again->removed, 0u);
  EXPECT_EQ(again->unchanged, first->added);
  EXPECT_EQ(again->version, first->version);
  auto snap2 = db.current();
  ASSERT_TRUE(snap2);
  EXPECT_EQ(snap2->version, snap1->version);
  EXPECT_EQ(snap2->matcher, snap1->matcher);  // not rebuilt

  // A malformed file: reported, the rest imports, and nothing is removed.
  fs::remove(data() / "osv/npm/GHSA-bbbb.json");
  write(data() / "osv/npm/GHSA-cccc.json", "{\"id\": \"GHSA-cccc\", \"affected\": [");
  write(data() / "osv/npm/GHSA-aaaa.json", osv("GHSA-aaaa", "lodash", "4.17.21", "2024-06-01T00:00:00Z"));
  auto partial = db.import(data().string());
  ASSERT_TRUE(partial) << partial.error().message;
  ASSERT_EQ(partial->skipped.size(), 1u);
  EXPECT_EQ(partial->skipped[0].file, "osv/npm/GHSA-cccc.json");
  EXPECT_NE(partial->skipped[0].reason.find("invalid JSON"), std::string::npos) << partial->skipped[0].reason;
  EXPECT_EQ(partial->changed, 1u);
  EXPECT_FALSE(partial->pruned);
  EXPECT_EQ(partial->removed, 0u);
  EXPECT_NE(partial->version, first->version);
  auto snap3 = db.current();
  ASSERT_TRUE(snap3);
  EXPECT_NE(snap3->matcher, snap1->matcher);
  EXPECT_EQ(finding_ids(*snap3, {}, {"npm", "minimist", "1.2.5"}), std::vector<std::string>{"GHSA-bbbb"});
  EXPECT_EQ(finding_ids(*snap3, {}, {"npm", "lodash", "4.17.20"}), std::vector<std::string>{"GHSA-aaaa"});

  // Fixed: now the full re-import removes the advisory whose file is gone.
  fs::remove(data() / "osv/npm/GHSA-cccc.json");
  auto full = db.import(data().string());
  ASSERT_TRUE(full) << full.error().message;
  EXPECT_TRUE(full->pruned);
  EXPECT_EQ(full->removed, 1u);
  auto snap4 = db.current();
  ASSERT_TRUE(snap4);
  EXPECT_TRUE(finding_ids(*snap4, {}, {"npm", "minimist", "1.2.5"}).empty());

  // Another path is another source: importing it removes nothing of the first.
  write(dir.path() / "more/GHSA-dddd.json", osv("GHSA-dddd", "semver", "7.5.2"));
  auto other = db.import((dir.path() / "more").string());
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_EQ(other->added, 1u);
  EXPECT_EQ(other->removed, 0u);
  auto history = store->vulndb_imports(10);
  ASSERT_TRUE(history);
  EXPECT_EQ(history->size(), 5u);
}

TEST_F(Fixture, UpdatedAtIsTheEndOfTheImportThatProducedTheVersion) {
  write_sample();
  Database db(*store, clock);
  auto none = db.updated_at_ms("");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto first = db.import(data().string());
  ASSERT_TRUE(first) << first.error().message;
  const int64_t first_done = clock.now_ms();
  auto v1 = db.current();
  ASSERT_TRUE(v1);
  // An identical re-import later keeps the version, and the data's date.
  clock.advance(std::chrono::hours(1));
  ASSERT_TRUE(db.import(data().string()));
  auto at1 = db.updated_at_ms(v1->version);
  ASSERT_TRUE(at1) << at1.error().message;
  ASSERT_TRUE(*at1);
  EXPECT_EQ(**at1, first_done);
  // A changing import dates the new version; the old one keeps its date.
  clock.advance(std::chrono::hours(1));
  write(data() / "osv/npm/GHSA-aaaa.json", osv("GHSA-aaaa", "lodash", "4.17.21", "2024-06-01T00:00:00Z"));
  ASSERT_TRUE(db.import(data().string()));
  auto v2 = db.current();
  ASSERT_TRUE(v2);
  ASSERT_NE(v2->version, v1->version);
  auto at2 = db.updated_at_ms(v2->version);
  ASSERT_TRUE(at2 && *at2);
  EXPECT_EQ(**at2, clock.now_ms());
  EXPECT_EQ(**db.updated_at_ms(v1->version), first_done);
  // A version no recorded import reached (an import under way) is not dated yet.
  auto ahead = db.updated_at_ms(std::to_string(std::stoull(v2->version) + 1));
  ASSERT_TRUE(ahead);
  EXPECT_FALSE(*ahead);
  EXPECT_FALSE(*db.updated_at_ms("not-a-version"));
}

TEST_F(Fixture, NothingReadableWritesNothing) {
  write(data() / "notes.txt", "hello\n");
  write(data() / "broken.json", "{");
  Database db(*store, clock);
  auto report = db.import(data().string());
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->files_read, 0u);
  EXPECT_EQ(report->skipped.size(), 1u);
  EXPECT_EQ(report->ignored.size(), 1u);
  auto history = store->vulndb_imports(10);
  ASSERT_TRUE(history);
  EXPECT_TRUE(history->empty());
  auto missing = db.import((dir.path() / "absent").string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

// A zip written with libarchive, as osv.dev publishes ecosystems (all.zip).
void write_zip(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& entries) {
  archive* a = archive_write_new();
  ASSERT_EQ(archive_write_set_format_zip(a), ARCHIVE_OK);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& [name, text] : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(text.size()));
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
    ASSERT_EQ(archive_write_data(a, text.data(), text.size()), static_cast<la_ssize_t>(text.size()));
    archive_entry_free(e);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

TEST_F(Fixture, ImportsAZipWithoutExtractingIt) {
  const fs::path zip = dir.path() / "all.zip";
  write_zip(zip, {{"GHSA-aaaa.json", osv("GHSA-aaaa", "lodash", "4.17.20")},
                  {"GHSA-bbbb.json", osv("GHSA-bbbb", "minimist", "1.2.6")},
                  {"bad.json", "not json"},
                  {"dir/CVE-list", kCveList}});
  const auto before = std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator());
  Database db(*store, clock);
  auto report = db.import(zip.string());
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->files_read, 3u);
  ASSERT_EQ(report->skipped.size(), 1u);
  EXPECT_EQ(report->skipped[0].file, "all.zip:bad.json");
  EXPECT_EQ(report->added, 3u);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), before);
  auto snap = db.current();
  ASSERT_TRUE(snap);
  EXPECT_EQ(finding_ids(*snap, {}, kLodash), std::vector<std::string>{"GHSA-aaaa"});

  // A truncated archive: the file is reported, not a crash, and the import still reports.
  const auto size = fs::file_size(zip);
  fs::resize_file(zip, size / 2);
  auto truncated = db.import(zip.string());
  ASSERT_TRUE(truncated) << truncated.error().message;
  EXPECT_FALSE(truncated->skipped.empty());
  EXPECT_FALSE(truncated->pruned);
}

TEST_F(Fixture, CurrentIsSafeWhileAnImportRuns) {
  for (int i = 0; i < 60; ++i) {
    write(data() / ("GHSA-" + std::to_string(1000 + i) + ".json"),
          osv("GHSA-" + std::to_string(1000 + i), "pkg" + std::to_string(i), "2.0.0"));
  }
  Database db(*store, clock, Database::Options{.batch = 7});
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done.load()) {
        auto s = db.current();
        if (!s || !s->matcher) ++failures;
      }
    });
  }
  auto report = db.import(data().string());
  done = true;
  for (auto& t : readers) t.join();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(report->added, 60u);
  auto snap = db.current();
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->matcher->size(), 60u);
  EXPECT_EQ(snap->version, std::to_string(report->version));
}

// The real data set beside the repository (<repo>/../shared/vulndata); skipped where absent.
// __FILE__ may be relative to the build directory (ccache's base dir), where tests run.
fs::path shared() {
  return fs::weakly_canonical(fs::absolute(__FILE__)).parent_path().parent_path().parent_path().parent_path() /
         "shared" / "vulndata";
}

TEST_F(Fixture, SharedVulnDataImportsWholeAndTwiceTheSame) {
  if (!fs::exists(shared())) GTEST_SKIP() << "no " << shared();
  Database db(*store, clock);
  auto report = db.import(shared().string());
  ASSERT_TRUE(report) << report.error().message;
  for (const auto& s : report->skipped) ADD_FAILURE() << s.file << ": " << s.reason;
  EXPECT_GT(report->files_read, 6950u);  // 6,969 OSV, 4 Debian lists, 19 Alpine YAML + 1 JSON
  EXPECT_TRUE(report->pruned);
  EXPECT_EQ(report->sources.size(), 3u);
  auto snap = db.current();
  ASSERT_TRUE(snap) << snap.error().message;
  // GHSA-p6mc-m468-83gw: lodash < 4.17.20.
  auto lodash = finding_ids(*snap, {}, kLodash);
  EXPECT_NE(std::find(lodash.begin(), lodash.end(), "GHSA-p6mc-m468-83gw"), lodash.end());
  // Debian: bookworm's glibc fix from DSA-5514-1 applied to CVE-2023-4911.
  auto glibc = finding_ids(*snap, kBookworm, kGlibc);
  EXPECT_NE(std::find(glibc.begin(), glibc.end(), "CVE-2023-4911"), glibc.end());
  // Alpine from the YAML secdb: ansible 2.9.3-r0 fixes CVE-2019-14904 on v3.11.
  auto ansible = finding_ids(*snap, {"alpine", "3.11.6"}, {"apk", "ansible", "2.9.2-r0"});
  EXPECT_NE(std::find(ansible.begin(), ansible.end(), "CVE-2019-14904"), ansible.end());
  auto fixed_ansible = finding_ids(*snap, {"alpine", "3.11.6"}, {"apk", "ansible", "2.9.3-r0"});
  EXPECT_EQ(std::find(fixed_ansible.begin(), fixed_ansible.end(), "CVE-2019-14904"), fixed_ansible.end());

  auto again = db.import(shared().string());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->added + again->changed + again->removed, 0u);
  EXPECT_EQ(again->unchanged, report->added);
  EXPECT_EQ(again->version, report->version);
}

}  // namespace
}  // namespace berth::vulndb
