#pragma once

// Go build info (the .go.buildinfo section, Go 1.18+ inline format) found by content in
// executable files. The section sits near the start of the data segment, i.e. late in the
// file, so a binary is scanned as a stream: only a small carry-over and, once the magic is
// found, a bounded block after it are kept in memory.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "scan/extract.h"

namespace berth::scan {

inline constexpr std::string_view kGoBuildInfoMagic{"\xff Go buildinf:", 14};

// Parses a block that starts with the magic: 32-byte header, then (flag 2 set) two
// uvarint-length-prefixed strings, the toolchain version and the module info.
// Packages: ecosystem "go"; the main module when it has a version, every dep (after
// `=>` replacements), and "stdlib" at the toolchain version as OSV's Go ecosystem names it.
Extracted parse_go_buildinfo(std::string_view block);

// "go1.21.5" -> "1.21.5", "go1.20" -> "1.20.0", "go1.21rc2" -> "1.21.0-rc.2"; nullopt for
// devel toolchains, whose version says nothing comparable.
std::optional<std::string> go_stdlib_version(std::string_view toolchain);

class GoBuildInfoScanner {
 public:
  // The block kept after the magic; real module info is a few KiB to tens of KiB.
  static constexpr size_t kMaxBlockBytes = size_t{1} << 20;

  explicit GoBuildInfoScanner(uint64_t max_examined_bytes) : max_examined_(max_examined_bytes) {}

  // Feeds the file's next bytes; false when no more are wanted (block complete or cap hit).
  bool feed(std::string_view chunk);
  // nullopt when the file holds no build info within the bytes examined.
  std::optional<Extracted> finish() const;

 private:
  uint64_t max_examined_;
  uint64_t examined_ = 0;
  uint64_t base_ = 0;  // file offset of window_[0]
  std::string window_;
  std::string block_;
  bool found_ = false;
};

}  // namespace berth::scan
