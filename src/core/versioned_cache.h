// Values derived from the MetaStore (an access key's caller, parsed policies, manifests,
// tag pages) kept for as long as the store's data_version stays put. Any committed write,
// from this process or another (`berth admin` revoking a key), moves the version, and a
// request at the new version never sees a value loaded at an older one, so a revocation
// or a push takes effect on the next request, as without a cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/result.h"

namespace berth {

// Two generations: the entries of the current version and of the one before it. A
// request that read the version just before a commit and finishes just after it (its
// put arrives at the older version) then lands in the older generation instead of
// emptying the cache, and requests on either side of a commit keep their hits.
// Versions are fingerprints, not counters: "older" only means "the other generation".
template <class V>
class VersionedCache {
 public:
  // Both bound memory against callers naming ever new keys (repositories that do not
  // exist, tags after tags); `max_bytes` against large values, as weighed by put().
  // Each generation has these bounds.
  explicit VersionedCache(size_t max_entries = 4096, size_t max_bytes = SIZE_MAX)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}

  std::optional<V> get(uint64_t version, const std::string& key) const {
    std::lock_guard lock(mu_);
    for (const Generation* g : {&current_, &previous_}) {
      if (g->version != version) continue;
      auto it = g->entries.find(key);
      if (it == g->entries.end()) return std::nullopt;
      return it->second.value;
    }
    return std::nullopt;
  }

  // `version` must have been read before the value was loaded: a write in between then
  // moves the version past it, and the value is never served. `bytes`: what the value
  // holds beyond its key (0 for small fixed-size values); one above max_bytes is not kept.
  void put(uint64_t version, const std::string& key, V value, size_t bytes = 0) {
    bytes += key.size();
    if (bytes > max_bytes_) return;
    std::lock_guard lock(mu_);
    if (version == previous_.version) {
      std::swap(current_, previous_);
    } else if (version != current_.version) {
      previous_ = std::move(current_);
      current_ = Generation{};
      current_.version = version;
    }
    Generation& g = current_;
    auto it = g.entries.find(key);
    const size_t replaced = it == g.entries.end() ? 0 : it->second.bytes;  // a replaced value stops counting
    if ((it == g.entries.end() && g.entries.size() >= max_entries_) || g.bytes - replaced + bytes > max_bytes_) {
      g.entries.clear();
      g.bytes = 0;
    }
    auto& entry = g.entries[key];
    g.bytes = g.bytes - entry.bytes + bytes;
    entry = Entry{std::move(value), bytes};
  }

 private:
  struct Entry {
    V value{};
    size_t bytes = 0;
  };
  struct Generation {
    uint64_t version = UINT64_MAX;
    size_t bytes = 0;
    std::unordered_map<std::string, Entry> entries;
  };

  const size_t max_entries_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  Generation current_;
  Generation previous_;
};

// `load()` (-> Result<T>) answered from `cache` while the data version stays `version`
// (read before calling); successful answers are kept, weighed by `weigh(const T&)`.
// Without a version (the store could not tell one), every call loads.
template <class T, class Load, class Weigh>
Result<T> read_through(VersionedCache<std::shared_ptr<const T>>& cache, const Result<uint64_t>& version,
                       const std::string& key, Load&& load, Weigh&& weigh) {
  if (!version) return load();
  if (auto hit = cache.get(*version, key)) return **hit;
  Result<T> loaded = load();
  if (loaded) cache.put(*version, key, std::make_shared<const T>(*loaded), weigh(*loaded));
  return loaded;
}

}  // namespace berth
