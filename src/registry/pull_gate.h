// A rule that may refuse a client's pull of a manifest after it was found (the
// vulnerability pull gate of src/scanning). ManifestService asks it on every client GET
// (the /v2/ manifest GET and ECR BatchGetImage), before the pull is counted; the
// registry itself knows nothing of scans.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "store/meta/meta_store.h"

namespace berth::registry {

// Whose pull it is. `data_version` is the MetaStore version the request was authorized
// at, so that the gate decides on the same data without reading the version again
// (nullopt: the gate reads it).
struct Puller {
  std::string_view arn;  // the IAM user or role ARN, "" when anonymous
  std::optional<uint64_t> data_version;

  // The version to decide and read at: the request's, else the store's now.
  Result<uint64_t> version(store::MetaStore& meta) const {
    return data_version ? Result<uint64_t>(*data_version) : meta.data_version();
  }
};

class PullGate {
 public:
  virtual ~PullGate() = default;
  // {} to serve the manifest; kDenied with a message naming the image, the reason and
  // how to override otherwise. Called on the hottest path: it must answer from a cache
  // while nothing changed.
  [[nodiscard]] virtual Result<void> admit(const std::string& repository, const store::ManifestRecord& manifest,
                                           const Puller& puller) = 0;
};

}  // namespace berth::registry
