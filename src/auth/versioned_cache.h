// Values derived from the MetaStore (an access key's caller, parsed policies) kept for as
// long as the store's data_version stays put. Any committed write, from this process or
// another (`berth admin` revoking a key), moves the version and empties the cache, so a
// revocation takes effect on the next request, as without a cache.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace berth::auth {

template <class V>
class VersionedCache {
 public:
  // Bounds memory against callers naming ever new keys (repositories that do not exist).
  explicit VersionedCache(size_t max_entries = 4096) : max_entries_(max_entries) {}

  std::optional<V> get(uint64_t version, const std::string& key) const {
    std::lock_guard lock(mu_);
    if (version != version_) return std::nullopt;
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }

  // `version` must have been read before the value was loaded: a write in between then
  // moves the version past it, and the value is never served.
  void put(uint64_t version, const std::string& key, V value) {
    std::lock_guard lock(mu_);
    if (version != version_ || entries_.size() >= max_entries_) {
      entries_.clear();
      version_ = version;
    }
    entries_.insert_or_assign(key, std::move(value));
  }

 private:
  const size_t max_entries_;
  mutable std::mutex mu_;
  uint64_t version_ = UINT64_MAX;
  std::unordered_map<std::string, V> entries_;
};

}  // namespace berth::auth
