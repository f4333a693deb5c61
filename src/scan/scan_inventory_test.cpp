#include "scan/scan_inventory.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "scan/testing.h"
#include "store/blob/fs/fs_blob_store.h"
#include "store/meta/sqlite/sqlite_meta_store.h"
#include "support/temp_dir.h"

namespace berth::scan {
namespace {

using fixtures::gzip_layer;

class InventoryOf : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() / "blobs");
    auto b = store::FsBlobStore::open((dir_.path() / "blobs").string());
    ASSERT_TRUE(b) << b.error().message;
    blobs_ = std::move(*b);
    auto m = store::SqliteMetaStore::open((dir_.path() / "meta.db").string());
    ASSERT_TRUE(m) << m.error().message;
    meta_ = std::move(*m);
  }
  Digest put(const std::string& bytes) {
    Digest d = crypto::sha256(bytes);
    const std::string id = "00000000-0000-4000-8000-" + d.hex().substr(0, 12);
    EXPECT_TRUE(blobs_->create_upload(id));
    auto w = blobs_->append_upload(id, 0);
    EXPECT_TRUE(w);
    EXPECT_TRUE((*w)->write(bytes));
    w->reset();
    EXPECT_TRUE(blobs_->commit_upload(id, d, bytes.size()));
    return d;
  }
  test::TempDir dir_{"berth-scan"};  // declared first, so removed after the stores in it close
  std::unique_ptr<store::FsBlobStore> blobs_;
  std::unique_ptr<store::SqliteMetaStore> meta_;
};

TEST_F(InventoryOf, ComposesLayersAndReusesStoredInventories) {
  Digest base = put(gzip_layer({{"etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n"},
                                {"lib/apk/db/installed", "P:musl\nV:1.2.4-r2\n\nP:zlib\nV:1.3-r2\n"},
                                {"app/node_modules/lodash/package.json", R"({"name":"lodash","version":"4.17.15"})"}}));
  Digest upper = put(gzip_layer({{"app/node_modules/.wh.lodash", ""}}));
  ScanStats first;
  auto inv = inventory_of({base, upper}, *blobs_, *meta_, {}, &first);
  ASSERT_TRUE(inv) << inv.error().message;
  EXPECT_EQ(first.layers_read, 2);
  EXPECT_EQ(inv->os.id, "alpine");
  auto pkgs = inv->packages();
  ASSERT_EQ(pkgs.size(), 2u);
  EXPECT_EQ(pkgs[0].name, "musl");
  EXPECT_EQ(pkgs[1].name, "zlib");

  // The layers are gone from the blob store: a rescan must not need them.
  ASSERT_TRUE(blobs_->remove(base));
  ASSERT_TRUE(blobs_->remove(upper));
  ScanStats again;
  auto rescan = inventory_of({base}, *blobs_, *meta_, {}, &again);
  ASSERT_TRUE(rescan) << rescan.error().message;
  EXPECT_EQ(again.layers_read, 0);
  EXPECT_EQ(again.layers_reused, 1);
  EXPECT_EQ(rescan->packages().size(), 3u);  // without the whiteout layer lodash is back
}

TEST_F(InventoryOf, BadLayerFailsNamingTheLayerAndStoresNothing) {
  Digest bad = put("definitely not a tar archive, not even compressed" + std::string(1024, '!'));
  auto inv = inventory_of({bad}, *blobs_, *meta_);
  ASSERT_FALSE(inv);
  EXPECT_EQ(inv.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(inv.error().message.find(bad.str()), std::string::npos) << inv.error().message;
  auto stored = meta_->get_layer_inventory(bad, kParserVersion);
  ASSERT_TRUE(stored);
  EXPECT_FALSE(*stored);
}

}  // namespace
}  // namespace berth::scan
