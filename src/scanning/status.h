// ECR's scan statuses berth stores in ImageScan::status. Apart from service.h so that
// code that only reads scans (findings, the pull gate, the ECR handlers) need not pull
// in the scan service.
#pragma once

namespace berth::scanning {

inline constexpr char kInProgress[] = "IN_PROGRESS";
inline constexpr char kComplete[] = "COMPLETE";
inline constexpr char kFailed[] = "FAILED";
inline constexpr char kUnsupportedImage[] = "UNSUPPORTED_IMAGE";

}  // namespace berth::scanning
