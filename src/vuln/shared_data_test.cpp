#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "vuln/native.h"
#include "vuln/osv.h"

namespace berth::vuln {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The real data set beside the repository (<repo>/../shared/vulndata); skipped where absent.
// __FILE__ may be relative to the build directory (ccache's base dir), where tests run.
fs::path shared() {
  return fs::weakly_canonical(fs::absolute(__FILE__)).parent_path().parent_path().parent_path().parent_path() /
         "shared" / "vulndata";
}

TEST(SharedVulnData, EveryRecordParses) {
  if (!fs::exists(shared())) GTEST_SKIP() << "no " << shared();
  size_t osv = 0;
  for (const auto& e : fs::recursive_directory_iterator(shared() / "osv")) {
    if (e.path().extension() != ".json") continue;
    auto adv = parse_osv(slurp(e.path()));
    EXPECT_TRUE(adv) << e.path();
    ++osv;
  }
  EXPECT_GT(osv, 6900u);
  for (const char* list : {"debian/bookworm/DSA-list", "debian/bookworm/CVE-list", "debian/security-tracker-2023-04/DSA-list",
                           "debian/security-tracker-2023-04/DLA-list"}) {
    auto advs = parse_debian_list(slurp(shared() / list));
    ASSERT_TRUE(advs) << list << ": " << advs.error().message;
    EXPECT_FALSE(advs->empty()) << list;
  }
  auto alpine = parse_alpine_secdb_json(slurp(shared() / "alpine/secdb/v3.20/main.json"));
  ASSERT_TRUE(alpine);
  EXPECT_FALSE(alpine->empty());
}

}  // namespace
}  // namespace berth::vuln
