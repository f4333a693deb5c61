// The seam between the vulnerability database (which stores advisories and changes when
// they are imported) and the scan service (which matches inventories against them): a
// matcher built once per database version and shared read-only by every scan.
#pragma once

#include <memory>
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
};

}  // namespace berth::vuln
