#include "scan/scan_inventory.h"

#include "store/blob/blob_store.h"
#include "store/meta/meta_store.h"

namespace berth::scan {

Result<ImageInventory> inventory_of(const std::vector<Digest>& layers, store::BlobStore& blobs,
                                    store::MetaStore& meta, const Limits& limits, ScanStats* stats) {
  std::vector<LayerInventory> inventories;
  inventories.reserve(layers.size());
  for (const auto& digest : layers) {
    BERTH_TRY(auto stored, meta.get_layer_inventory(digest, kParserVersion));
    if (stored) {
      // A row that no longer parses is recomputed rather than trusted.
      if (auto inv = layer_inventory_from_json(*stored)) {
        inventories.push_back(std::move(*inv));
        if (stats) ++stats->layers_reused;
        continue;
      }
    }
    BERTH_TRY(auto reader, blobs.open(digest));
    auto inv = read_layer(*reader, limits);
    if (!inv) return fail(inv.error().code, "layer " + digest.str() + ": " + inv.error().message);
    BERTH_TRY_VOID(meta.put_layer_inventory(digest, kParserVersion, to_json(*inv)));
    inventories.push_back(std::move(*inv));
    if (stats) ++stats->layers_read;
  }
  return compose(inventories);
}

}  // namespace berth::scan
