#include "oci/route.h"

namespace berth::oci {
namespace {

// Splits "NAME<marker>REF" at the last marker, with REF free of slashes.
bool split_last(std::string_view rest, std::string_view marker, Route& out) {
  const auto at = rest.rfind(marker);
  if (at == std::string_view::npos || at == 0) return false;
  const std::string_view ref = rest.substr(at + marker.size());
  if (ref.find('/') != std::string_view::npos) return false;
  out.name = std::string(rest.substr(0, at));
  out.reference = std::string(ref);
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

Route match_route(std::string_view path) {
  Route r;
  if (path == "/v2/" || path == "/v2") {
    r.endpoint = Endpoint::kBase;
    return r;
  }
  constexpr std::string_view kPrefix = "/v2/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return r;
  const std::string_view rest = path.substr(kPrefix.size());
  if (rest == "_catalog") {
    r.endpoint = Endpoint::kCatalog;
    return r;
  }
  if (ends_with(rest, "/tags/list") && rest.size() > 10) {
    r.endpoint = Endpoint::kTags;
    r.name = std::string(rest.substr(0, rest.size() - 10));
    return r;
  }
  if (ends_with(rest, "/blobs/uploads") && rest.size() > 14) {
    r.endpoint = Endpoint::kUploadStart;
    r.name = std::string(rest.substr(0, rest.size() - 14));
    return r;
  }
  if (split_last(rest, "/blobs/uploads/", r)) {
    r.endpoint = r.reference.empty() ? Endpoint::kUploadStart : Endpoint::kUpload;
    return r;
  }
  if (split_last(rest, "/manifests/", r) && !r.reference.empty()) {
    r.endpoint = Endpoint::kManifest;
    return r;
  }
  if (split_last(rest, "/blobs/", r) && !r.reference.empty()) {
    r.endpoint = Endpoint::kBlob;
    return r;
  }
  if (split_last(rest, "/referrers/", r) && !r.reference.empty()) {
    r.endpoint = Endpoint::kReferrers;
    return r;
  }
  return Route{};
}

}  // namespace berth::oci
