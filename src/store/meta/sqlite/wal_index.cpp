#include "store/meta/sqlite/wal_index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <string_view>

namespace berth::store::sqlite_detail {
namespace {

// walformat.html: two copies of a 48-byte header, then 40 bytes of checkpoint information.
constexpr size_t kHeaderSize = 48;
constexpr size_t kMinFileSize = 2 * kHeaderSize + 40;
constexpr uint32_t kWalIndexVersion = 3007000;  // iVersion, the header's first field
constexpr size_t kIsInitOffset = 12;            // after iVersion, unused, iChange
constexpr size_t kMapSize = 4096;

struct Header {
  unsigned char bytes[kHeaderSize];
};

// The two copies, read in the order a writer does not store them in (first, then
// second): equal copies were not torn by a concurrent writer.
std::optional<Header> consistent_header(const void* map) {
  const auto* base = static_cast<const unsigned char*>(map);
  Header first, second;
  std::memcpy(first.bytes, base, kHeaderSize);
  std::atomic_thread_fence(std::memory_order_acquire);
  std::memcpy(second.bytes, base + kHeaderSize, kHeaderSize);
  if (std::memcmp(first.bytes, second.bytes, kHeaderSize) != 0) return std::nullopt;
  if (first.bytes[kIsInitOffset] == 0) return std::nullopt;
  uint32_t version;
  std::memcpy(&version, first.bytes, sizeof version);
  if (version != kWalIndexVersion) return std::nullopt;
  return first;
}

}  // namespace

std::unique_ptr<WalIndexWatch> WalIndexWatch::open(const std::string& shm_path) {
  const int fd = ::open(shm_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st {};
  void* map = MAP_FAILED;
  // Mapping past the end of the file would fault on access; SQLite only grows it.
  if (::fstat(fd, &st) == 0 && static_cast<size_t>(st.st_size) >= kMinFileSize) {
    map = ::mmap(nullptr, kMapSize, PROT_READ, MAP_SHARED, fd, 0);
  }
  ::close(fd);  // the mapping keeps the file
  if (map == MAP_FAILED) return nullptr;
  std::unique_ptr<WalIndexWatch> watch(new WalIndexWatch(map));
  if (!consistent_header(map)) return nullptr;
  return watch;
}

WalIndexWatch::~WalIndexWatch() { ::munmap(const_cast<void*>(map_), kMapSize); }

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
