// The advisory source of a server without a vulnerability database: no advisories,
// version "" (scans complete with no findings and say why). The database (branch vulndb)
// replaces it in app/wiring.cpp.
#pragma once

#include <memory>

#include "vuln/snapshot.h"

namespace berth::scanning {

class NoAdvisories final : public vuln::AdvisorySource {
 public:
  Result<vuln::Snapshot> current() override { return vuln::Snapshot{"", matcher_}; }

 private:
  std::shared_ptr<const vuln::Matcher> matcher_ = std::make_shared<const vuln::Matcher>();
};

}  // namespace berth::scanning
