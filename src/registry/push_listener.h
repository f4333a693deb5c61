// Something that reacts to a manifest push once it has committed (the scan service's
// scan on push). An interface so the registry does not depend on what listens.
#pragma once

#include <string>
#include <string_view>

#include "core/digest.h"

namespace berth::registry {

class PushListener {
 public:
  virtual ~PushListener() = default;
  // Called on the pushing thread after the manifest committed, for a manifest new to
  // the repository. Must be quick and must not fail the push: queue work, never do it.
  virtual void manifest_pushed(const std::string& repository, const Digest& digest,
                               std::string_view media_type) noexcept = 0;
};

}  // namespace berth::registry
