#include "store/meta/sqlite/wal_index.h"

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <string_view>

namespace berth::store::sqlite_detail {
namespace {

// walformat.html: two copies of a 48-byte header at the start of the first 32 KiB region.
constexpr size_t kHeaderSize = 48;
constexpr int kRegionSize = 32768;
constexpr uint32_t kWalIndexVersion = 3007000;  // iVersion, the header's first field
constexpr size_t kIsInitOffset = 12;            // after iVersion, unused, iChange

struct Header {
  unsigned char bytes[kHeaderSize];
};

// The two copies, read in the order a writer does not store them in (first, then
// second): equal copies were not torn by a concurrent writer.
std::optional<Header> consistent_header(const volatile void* map) {
  const auto* base = static_cast<const unsigned char*>(const_cast<const void*>(map));
  Header first, second;
  std::memcpy(first.bytes, base, kHeaderSize);
  std::atomic_thread_fence(std::memory_order_acquire);
  std::memcpy(second.bytes, base + kHeaderSize, kHeaderSize);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (std::memcmp(first.bytes, second.bytes, kHeaderSize) != 0) return std::nullopt;
  if (first.bytes[kIsInitOffset] == 0) return std::nullopt;
  uint32_t version;
  std::memcpy(&version, first.bytes, sizeof version);
  if (version != kWalIndexVersion) return std::nullopt;
  return first;
}

bool in_wal_mode(sqlite3* db) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA main.journal_mode", -1, &stmt, nullptr) != SQLITE_OK) return false;
  bool wal = false;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    const auto* mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    wal = mode != nullptr && std::string_view(mode) == "wal";
  }
  sqlite3_finalize(stmt);
  return wal;
}

}  // namespace

std::unique_ptr<WalIndexWatch> WalIndexWatch::open(sqlite3* db) {
  // Asking a database in another mode would create its -shm file.
  if (db == nullptr || !in_wal_mode(db)) return nullptr;
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || file == nullptr ||
      file->pMethods == nullptr || file->pMethods->iVersion < 2 || file->pMethods->xShmMap == nullptr) {
    return nullptr;
  }
  // Region 0 stays mapped, at this address, while any connection of the process is open.
  volatile void* region = nullptr;
  if (file->pMethods->xShmMap(file, 0, kRegionSize, 0, &region) != SQLITE_OK || region == nullptr) return nullptr;
  if (!consistent_header(region)) return nullptr;
  return std::unique_ptr<WalIndexWatch>(new WalIndexWatch(region));
}

std::optional<uint64_t> WalIndexWatch::fingerprint() const {
  // A writer stores the header in a few instructions; a handful of retries rides that out.
  for (int attempt = 0; attempt < 64; ++attempt) {
    if (auto header = consistent_header(map_)) {
      return std::hash<std::string_view>{}(
          std::string_view(reinterpret_cast<const char*>(header->bytes), kHeaderSize));
    }
  }
  return std::nullopt;
}

}  // namespace berth::store::sqlite_detail
