// Which /v2/ endpoint a path names. Repository names contain slashes, so the endpoint is
// found from the right: the last /manifests/, /blobs/, /tags/list, /referrers/.
#pragma once

#include <string>
#include <string_view>

namespace berth::oci {

enum class Endpoint { kNone, kBase, kCatalog, kTags, kManifest, kBlob, kUploadStart, kUpload, kReferrers };

struct Route {
  Endpoint endpoint = Endpoint::kNone;
  std::string name;       // repository (not yet validated)
  std::string reference;  // tag, digest or upload id (not yet validated)
};

Route match_route(std::string_view path);

}  // namespace berth::oci
