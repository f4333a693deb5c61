// Pull times, coalesced: recording every manifest GET as a write would put a database
// write on the hottest read path. Pulls are noted in memory and written in batches;
// ECR itself only promises the time to within a day.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "core/digest.h"
#include "store/meta/meta_store.h"

namespace berth::registry {

class PullRecorder {
 public:
  explicit PullRecorder(store::MetaStore& meta) : meta_(meta) {}
  void note(const std::string& repository, const Digest& digest, int64_t now_ms);
  // Writes the pending pull times; returns how many were written.
  size_t flush();

 private:
  store::MetaStore& meta_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::pair<Digest, int64_t>> pending_;
};

}  // namespace berth::registry
