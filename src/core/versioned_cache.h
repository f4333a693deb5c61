// Values derived from the MetaStore (an access key's caller, parsed policies, manifests,
// tag pages) kept for as long as the store's data_version stays put. Any committed write,
// from this process or another (`berth admin` revoking a key), moves the version and
// empties the cache, so a revocation or a push takes effect on the next request, as
// without a cache.
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

template <class V>
class VersionedCache {
 public:
  // Both bound memory against callers naming ever new keys (repositories that do not
  // exist, tags after tags); `max_bytes` against large values, as weighed by put().
  explicit VersionedCache(size_t max_entries = 4096, size_t max_bytes = SIZE_MAX)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}

  std::optional<V> get(uint64_t version, const std::string& key) const {
    std::lock_guard lock(mu_);
    if (version != version_) return std::nullopt;
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second.value;
  }

  // `version` must have been read before the value was loaded: a write in between then
  // moves the version past it, and the value is never served. `bytes`: what the value
  // holds beyond its key (0 for small fixed-size values); one above max_bytes is not kept.
  void put(uint64_t version, const std::string& key, V value, size_t bytes = 0) {
    bytes += key.size();
    if (bytes > max_bytes_) return;
    std::lock_guard lock(mu_);
    if (version != version_) {
      clear_at(version);
    } else {
      auto it = entries_.find(key);
      const size_t replaced = it == entries_.end() ? 0 : it->second.bytes;  // a replaced value stops counting
      if ((it == entries_.end() && entries_.size() >= max_entries_) || bytes_ - replaced + bytes > max_bytes_) {
        clear_at(version);
      }
    }
    auto& entry = entries_[key];
    bytes_ = bytes_ - entry.bytes + bytes;
    entry = Entry{std::move(value), bytes};
  }

 private:
  void clear_at(uint64_t version) {
    entries_.clear();
    bytes_ = 0;
    version_ = version;
  }

  const size_t max_entries_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  uint64_t version_ = UINT64_MAX;
  size_t bytes_ = 0;
  struct Entry {
    V value{};
    size_t bytes = 0;
  };
  std::unordered_map<std::string, Entry> entries_;
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
