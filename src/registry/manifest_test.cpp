#include "registry/manifest.h"

#include <gtest/gtest.h>

namespace berth::registry {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

std::string image(const std::string& extra = "", const std::string& config_mt = "application/vnd.oci.image.config.v1+json") {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("config":{"mediaType":")" + config_mt + R"(","digest":")" + kA + R"(","size":2},)"
         R"("layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + kB +
         R"(","size":10}])" + extra + "}";
}

TEST(Manifest, OciImage) {
  auto m = parse_manifest("application/vnd.oci.image.manifest.v1+json", image());
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_FALSE(m->is_index);
  ASSERT_EQ(m->blobs.size(), 2u);
  EXPECT_EQ(m->blobs[0].str(), kA);
  EXPECT_EQ(m->blobs[1].str(), kB);
  EXPECT_EQ(m->artifact_type, "application/vnd.oci.image.config.v1+json");
  EXPECT_FALSE(m->subject);
}

TEST(Manifest, ArtifactWithSubject) {
  auto m = parse_manifest("", image(R"(,"artifactType":"application/x.sig","subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kC + R"(","size":5},"annotations":{"a":"b"})"));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->artifact_type, "application/x.sig");
  ASSERT_TRUE(m->subject);
  EXPECT_EQ(m->subject->str(), kC);
  EXPECT_EQ(m->annotations_json, R"({"a":"b"})");
}

TEST(Manifest, CustomConfigMediaTypeIsArtifactType) {
  auto m = parse_manifest("", image("", "application/vnd.example.config+json"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->artifact_type, "application/vnd.example.config+json");
}

TEST(Manifest, Index) {
  const std::string idx = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
                          R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kA +
                          R"(","size":1,"platform":{"architecture":"amd64","os":"linux"}}]})";
  auto m = parse_manifest("application/vnd.oci.image.index.v1+json", idx);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->is_index);
  ASSERT_EQ(m->children.size(), 1u);
  EXPECT_TRUE(m->blobs.empty());
}

TEST(Manifest, ForeignLayersAreNotRequired) {
  const std::string d = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
                        R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")" + kA +
                        R"(","size":2},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":")" +
                        kB + R"(","size":3,"urls":["https://example.com/x"]}]})";
  auto m = parse_manifest("application/vnd.docker.distribution.manifest.v2+json", d);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->blobs.size(), 1u);
}

TEST(Manifest, Rejections) {
  auto code = [](std::string_view ct, std::string_view body) {
    auto m = parse_manifest(ct, body);
    return m ? std::string("ok") : std::string(to_string(m.error().code));
  };
  EXPECT_EQ(code("", "not json"), "ManifestInvalid");
  EXPECT_EQ(code("", "[]"), "ManifestInvalid");
  EXPECT_EQ(code("application/vnd.docker.distribution.manifest.v2+json", image()), "ManifestInvalid");  // mismatch
  EXPECT_EQ(code("", R"({"schemaVersion":1,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{}})"),
            "ManifestInvalid");
  EXPECT_EQ(code("", R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:abc","size":1}})"),
            "ManifestInvalid");
  EXPECT_EQ(code("", R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":")" + kA + R"("}})"),
            "ManifestInvalid");
  EXPECT_EQ(code("application/vnd.docker.distribution.manifest.v1+prettyjws", "{}"), "Unsupported");
  EXPECT_EQ(code("", R"({"schemaVersion":2,"mediaType":"text/plain"})"), "ManifestInvalid");
  EXPECT_EQ(code("", std::string(kMaxManifestBytes + 1, ' ')), "ManifestTooLarge");
}

}  // namespace
}  // namespace berth::registry
