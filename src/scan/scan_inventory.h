#pragma once

// The scanner's entry point for the scan service: an image's effective package inventory
// from its layers, reading only layers that have no stored inventory for this parser
// version (continuous rescans therefore read no layer at all).

#include <vector>

#include "core/digest.h"
#include "core/result.h"
#include "scan/inventory.h"
#include "scan/layer_reader.h"

namespace berth::store {
class BlobStore;
class MetaStore;
}  // namespace berth::store

namespace berth::scan {

struct ScanStats {
  int layers_read = 0;    // streamed through libarchive this time
  int layers_reused = 0;  // served from the MetaStore
};

Result<ImageInventory> inventory_of(const std::vector<Digest>& layers_lower_to_upper, store::BlobStore& blobs,
                                    store::MetaStore& meta, const Limits& limits = {}, ScanStats* stats = nullptr);

}  // namespace berth::scan
