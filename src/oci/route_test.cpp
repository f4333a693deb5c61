#include "oci/route.h"

#include <gtest/gtest.h>

namespace berth::oci {
namespace {

TEST(Route, Endpoints) {
  EXPECT_EQ(match_route("/v2/").endpoint, Endpoint::kBase);
  EXPECT_EQ(match_route("/v2/_catalog").endpoint, Endpoint::kCatalog);
  auto r = match_route("/v2/team/app/api/tags/list");
  EXPECT_EQ(r.endpoint, Endpoint::kTags);
  EXPECT_EQ(r.name, "team/app/api");
  r = match_route("/v2/a/b/manifests/latest");
  EXPECT_EQ(r.endpoint, Endpoint::kManifest);
  EXPECT_EQ(r.name, "a/b");
  EXPECT_EQ(r.reference, "latest");
  r = match_route("/v2/a/blobs/uploads/");
  EXPECT_EQ(r.endpoint, Endpoint::kUploadStart);
  EXPECT_EQ(r.name, "a");
  r = match_route("/v2/a/blobs/uploads");
  EXPECT_EQ(r.endpoint, Endpoint::kUploadStart);
  r = match_route("/v2/a/blobs/uploads/1234");
  EXPECT_EQ(r.endpoint, Endpoint::kUpload);
  EXPECT_EQ(r.reference, "1234");
  r = match_route("/v2/x/blobs/y/blobs/sha256:ab");
  EXPECT_EQ(r.endpoint, Endpoint::kBlob);
  EXPECT_EQ(r.name, "x/blobs/y");
  r = match_route("/v2/a/referrers/sha256:ab");
  EXPECT_EQ(r.endpoint, Endpoint::kReferrers);
}

TEST(Route, Unknown) {
  EXPECT_EQ(match_route("/").endpoint, Endpoint::kNone);
  EXPECT_EQ(match_route("/v2/a").endpoint, Endpoint::kNone);
  EXPECT_EQ(match_route("/v2/a/manifests/").endpoint, Endpoint::kNone);
  EXPECT_EQ(match_route("/v2/a/manifests/x/y").endpoint, Endpoint::kNone);
  EXPECT_EQ(match_route("/v2//tags/list").endpoint, Endpoint::kNone);
  EXPECT_EQ(match_route("/v3/a/tags/list").endpoint, Endpoint::kNone);
}

}  // namespace
}  // namespace berth::oci
