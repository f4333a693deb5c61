#include "scan/inventory.h"

#include <gtest/gtest.h>

// Fixtures name only the fields a case is about.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace berth::scan {
namespace {

PackageSource src(std::string path, std::string name, std::string version = "1") {
  return {.path = std::move(path), .packages = {{.ecosystem = "npm", .name = std::move(name), .version = std::move(version)}}};
}

std::vector<std::string> names(const ImageInventory& inv) {
  std::vector<std::string> out;
  for (const auto& p : inv.packages()) out.push_back(p.name);
  return out;
}

TEST(Compose, UpperRewriteReplacesLowerSource) {
  LayerInventory lower{.sources = {src("app/node_modules/a/package.json", "a", "1")}};
  LayerInventory upper{.sources = {src("app/node_modules/a/package.json", "a", "2")}};
  auto inv = compose({lower, upper});
  ASSERT_EQ(inv.packages().size(), 1u);
  EXPECT_EQ(inv.packages()[0].version, "2");
  // The source is the upper layer's: findings name the layer their package came from.
  ASSERT_EQ(inv.sources.size(), 1u);
  EXPECT_EQ(inv.sources[0].layer, 1);
}

TEST(Compose, EachSourceKnowsItsLayer) {
  LayerInventory base{.sources = {src("var/lib/dpkg/status", "libc6")}};
  LayerInventory app{.sources = {src("app/node_modules/a/package.json", "a")}};
  auto inv = compose({base, LayerInventory{}, app});
  ASSERT_EQ(inv.sources.size(), 2u);  // sorted by path
  EXPECT_EQ(inv.sources[0].path, "app/node_modules/a/package.json");
  EXPECT_EQ(inv.sources[0].layer, 2);
  EXPECT_EQ(inv.sources[1].layer, 0);
}

TEST(Compose, WhiteoutRemovesLowerSourcesUnderPath) {
  LayerInventory lower{.sources = {src("app/node_modules/a/package.json", "a"),
                                   src("app/node_modules/ab/package.json", "ab")}};
  LayerInventory upper{.whiteouts = {"app/node_modules/a"}};
  EXPECT_EQ(names(compose({lower, upper})), std::vector<std::string>{"ab"});
}

TEST(Compose, WhiteoutDoesNotRemoveSameLayerFiles) {
  LayerInventory layer{.sources = {src("x/package.json", "x")}, .whiteouts = {"x"}};
  EXPECT_EQ(names(compose({layer})), std::vector<std::string>{"x"});
}

TEST(Compose, OpaqueDirHidesLowerContentsOnly) {
  LayerInventory lower{.sources = {src("opt/node_modules/a/package.json", "a"), src("srv/node_modules/b/package.json", "b")}};
  LayerInventory upper{.sources = {src("opt/node_modules/c/package.json", "c")}, .opaque_dirs = {"opt"}};
  EXPECT_EQ(names(compose({lower, upper})), (std::vector<std::string>{"c", "b"}));
}

TEST(Compose, OsReleasePrefersEtcAndHonoursWhiteouts) {
  LayerInventory base{.os_releases = {{"etc/os-release", {"debian", "12"}}, {"usr/lib/os-release", {"debian", "11"}}}};
  EXPECT_EQ(compose({base}).os.version_id, "12");
  LayerInventory del{.whiteouts = {"etc/os-release"}};
  EXPECT_EQ(compose({base, del}).os.version_id, "11");
}

TEST(Compose, JsonRoundTrip) {
  LayerInventory inv{.sources = {{.path = "var/lib/dpkg/status",
                                  .packages = {{"dpkg", "libc6", "2.36-9", "glibc", "2.36-9"}}}},
                     .os_releases = {{"etc/os-release", {"alpine", "3.19.1"}}},
                     .whiteouts = {"a"},
                     .opaque_dirs = {"b"},
                     .skipped_records = 2};
  auto back = layer_inventory_from_json(to_json(inv));
  ASSERT_TRUE(back);
  EXPECT_EQ(to_json(*back), to_json(inv));
  EXPECT_EQ(back->sources[0].packages[0].source_name, "glibc");
  EXPECT_FALSE(layer_inventory_from_json("{}"));
  EXPECT_FALSE(layer_inventory_from_json("garbage"));
}

}  // namespace
}  // namespace berth::scan
