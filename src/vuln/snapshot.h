// The seam between the vulnerability database (which stores advisories and changes when
// they are imported) and the scan service (which matches inventories against them): a
// matcher built once per database version and shared read-only by every scan.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"
#include "vuln/matcher.h"

namespace berth::vuln {

struct Snapshot {
  // Changes whenever an import changed what is stored ("" when nothing was imported yet).
  std::string version;
  std::shared_ptr<const Matcher> matcher;  // never null
};

class AdvisorySource {
 public:
  virtual ~AdvisorySource() = default;
  // The current snapshot; cheap when the version did not move since the last call.
  virtual Result<Snapshot> current() = 0;
  // When the data of a snapshot version was last updated (epoch ms): ECR's
  // vulnerabilitySourceUpdatedAt of a scan matched against it. nullopt when unknown
  // (no data imported, or a source that keeps no history).
  virtual Result<std::optional<int64_t>> updated_at_ms(const std::string& version) {
    (void)version;
    return std::optional<int64_t>();
  }
};

}  // namespace berth::vuln
