#pragma once

// Streams one layer (gzip, zstd or plain tar, detected by content) through libarchive and
// returns its LayerInventory. Nothing is unpacked to disk; only files an extractor reads
// are held in memory, each capped; everything else is skipped after its header. Symlinks
// are never followed (only regular files are read), so link loops cannot hang a scan.
// Executables are streamed past a Go build info scanner (a bounded window, never the
// whole binary); an rpmdb.sqlite is spooled to a private 0600 temp file, removed after.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>

#include "core/result.h"
#include "scan/inventory.h"

namespace berth::store {
class BlobReader;
}

namespace berth::scan {

struct Limits {
  uint64_t max_entries = 500'000;                    // per layer
  uint64_t max_bytes = uint64_t{16} << 30;           // uncompressed tar bytes per layer
  uint64_t max_file_bytes = uint64_t{64} << 20;      // one database/manifest held in memory
  size_t max_path_bytes = 4096;
  size_t max_path_depth = 256;
  // rpmdb.sqlite is spooled to a private temp file (SQLite needs a file), never memory.
  uint64_t max_rpmdb_bytes = uint64_t{256} << 20;
  // Bytes of one executable searched for Go build info: the section lies at the start of
  // the data segment, after all code, so this must cover the largest binaries expected.
  uint64_t max_binary_scan_bytes = uint64_t{512} << 20;
  std::filesystem::path temp_dir;  // empty: the system temp directory
};

// Pulls the next chunk of compressed bytes; 0 means end of stream.
using ReadChunk = std::function<Result<size_t>(std::span<char>)>;

// A bad layer is kInvalidParameter (not a tar, truncated, corrupt) or kPayloadTooLarge
// (a cap was hit); the message names the reason and is safe to show as the scan's reason.
Result<LayerInventory> read_layer(const ReadChunk& read, const Limits& limits = {});
Result<LayerInventory> read_layer(store::BlobReader& blob, const Limits& limits = {});

}  // namespace berth::scan
