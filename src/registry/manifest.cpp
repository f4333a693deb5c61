#include "registry/manifest.h"

#include <nlohmann/json.hpp>

namespace berth::registry {
namespace {

using nlohmann::json;

bool is_known_media_type(std::string_view m) {
  return m == media_types::kOciManifest || m == media_types::kOciIndex || m == media_types::kDockerManifest ||
         m == media_types::kDockerManifestList;
}

std::string_view strip_params(std::string_view content_type) {
  auto semi = content_type.find(';');
  std::string_view m = content_type.substr(0, semi);
  while (!m.empty() && m.back() == ' ') m.remove_suffix(1);
  return m;
}

Result<Digest> descriptor_digest(const json& d, std::string_view where) {
  if (!d.is_object()) return fail(ErrorCode::kManifestInvalid, std::string(where) + " is not a descriptor object");
  auto it = d.find("digest");
  if (it == d.end() || !it->is_string()) {
    return fail(ErrorCode::kManifestInvalid, std::string(where) + " has no digest");
  }
  auto digest = Digest::parse(it->get<std::string>());
  if (!digest) return fail(ErrorCode::kManifestInvalid, std::string(where) + ": " + digest.error().message);
  auto size = d.find("size");
  if (size == d.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return fail(ErrorCode::kManifestInvalid, std::string(where) + " has no valid size");
  }
  auto mt = d.find("mediaType");
  if (mt != d.end() && !mt->is_string()) {
    return fail(ErrorCode::kManifestInvalid, std::string(where) + " has a non-string mediaType");
  }
  return digest;
}

// Layers with `urls` (Docker foreign layers, OCI non-distributable) live elsewhere.
bool is_external(const json& d) {
  auto u = d.find("urls");
  return u != d.end() && u->is_array() && !u->empty();
}

}  // namespace

bool is_index_media_type(std::string_view m) {
  return m == media_types::kOciIndex || m == media_types::kDockerManifestList;
}

Result<ParsedManifest> parse_manifest(std::string_view content_type, std::string_view bytes) {
  if (bytes.size() > kMaxManifestBytes) {
    return fail(ErrorCode::kManifestTooLarge, "manifest is larger than the 4 MiB limit");
  }
  json doc = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return fail(ErrorCode::kManifestInvalid, "manifest is not a JSON object");
  }
  std::string declared;
  if (auto it = doc.find("mediaType"); it != doc.end()) {
    if (!it->is_string()) return fail(ErrorCode::kManifestInvalid, "mediaType must be a string");
    declared = it->get<std::string>();
  }
  std::string header(strip_params(content_type));
  if (header == media_types::kDockerSchema1 || header == media_types::kDockerSchema1Signed ||
      declared == media_types::kDockerSchema1 || declared == media_types::kDockerSchema1Signed) {
    return fail(ErrorCode::kUnsupported, "Docker schema 1 manifests are not supported; push schema 2 or OCI");
  }
  // Content-Type decides when it names a manifest type; the mediaType field must agree.
  std::string media_type;
  if (is_known_media_type(header)) {
    media_type = header;
    if (!declared.empty() && declared != media_type) {
      return fail(ErrorCode::kManifestInvalid,
                  "mediaType \"" + declared + "\" does not match Content-Type \"" + header + "\"");
    }
  } else if (is_known_media_type(declared)) {
    media_type = declared;
  } else if (declared.empty() && doc.contains("manifests")) {
    media_type = media_types::kOciIndex;  // OCI allows omitting mediaType
  } else if (declared.empty() && doc.contains("config")) {
    media_type = media_types::kOciManifest;
  } else {
    return fail(ErrorCode::kManifestInvalid,
                "unknown manifest media type \"" + (declared.empty() ? header : declared) + "\"");
  }
  auto sv = doc.find("schemaVersion");
  if (sv == doc.end() || !sv->is_number_integer() || sv->get<int>() != 2) {
    return fail(ErrorCode::kManifestInvalid, "schemaVersion must be 2");
  }

  ParsedManifest out;
  out.media_type = media_type;
  out.is_index = is_index_media_type(media_type);
  if (auto at = doc.find("artifactType"); at != doc.end()) {
    if (!at->is_string()) return fail(ErrorCode::kManifestInvalid, "artifactType must be a string");
    out.artifact_type = at->get<std::string>();
  }
  if (auto subj = doc.find("subject"); subj != doc.end()) {
    BERTH_TRY(auto d, descriptor_digest(*subj, "subject"));
    out.subject = std::move(d);
  }
  if (auto ann = doc.find("annotations"); ann != doc.end()) {
    if (!ann->is_object()) return fail(ErrorCode::kManifestInvalid, "annotations must be an object");
    for (const auto& [k, v] : ann->items()) {
      if (!v.is_string()) return fail(ErrorCode::kManifestInvalid, "annotation \"" + k + "\" must be a string");
    }
    out.annotations_json = ann->dump();
  }

  if (out.is_index) {
    auto ms = doc.find("manifests");
    if (ms == doc.end() || !ms->is_array()) {
      return fail(ErrorCode::kManifestInvalid, "an index needs a \"manifests\" array");
    }
    for (size_t i = 0; i < ms->size(); ++i) {
      BERTH_TRY(auto d, descriptor_digest((*ms)[i], "manifests[" + std::to_string(i) + "]"));
      out.children.push_back(std::move(d));
    }
    return out;
  }

  auto config = doc.find("config");
  if (config == doc.end()) return fail(ErrorCode::kManifestInvalid, "an image manifest needs a \"config\" descriptor");
  BERTH_TRY(auto config_digest, descriptor_digest(*config, "config"));
  out.blobs.push_back(config_digest);
  out.blob_sizes.push_back((*config)["size"].get<uint64_t>());
  // OCI 1.1: a manifest's artifact type is its artifactType, else its config's media type.
  if (out.artifact_type.empty()) {
    if (auto mt = config->find("mediaType"); mt != config->end() && mt->is_string()) out.artifact_type = mt->get<std::string>();
  }
  auto layers = doc.find("layers");
  if (layers != doc.end()) {
    if (!layers->is_array()) return fail(ErrorCode::kManifestInvalid, "\"layers\" must be an array");
    for (size_t i = 0; i < layers->size(); ++i) {
      BERTH_TRY(auto d, descriptor_digest((*layers)[i], "layers[" + std::to_string(i) + "]"));
      if (!is_external((*layers)[i])) {
        out.blobs.push_back(std::move(d));
        out.blob_sizes.push_back((*layers)[i]["size"].get<uint64_t>());
      }
    }
  } else if (media_type == media_types::kDockerManifest) {
    return fail(ErrorCode::kManifestInvalid, "a Docker schema 2 manifest needs a \"layers\" array");
  }
  return out;
}

}  // namespace berth::registry
