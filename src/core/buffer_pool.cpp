#include "core/buffer_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <new>

namespace berth {
namespace {

constexpr size_t kHugePage = 2 * 1024 * 1024;

size_t page_size() {
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

// Maps `bytes` at a 2 MiB boundary: over-map by one huge page, then unmap the slack on
// either side, so the mapping is exactly the buffer.
char* map_aligned(size_t bytes) {
  const size_t span = bytes + kHugePage;
  void* m = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(m);
  const uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > start) ::munmap(m, aligned - start);
  if (const uintptr_t end = start + span, used = aligned + bytes; end > used)
    ::munmap(reinterpret_cast<void*>(used), end - used);
  char* data = reinterpret_cast<char*>(aligned);
  // Advice only: without transparent huge pages the buffer is ordinary pages.
  (void)::madvise(data, bytes, MADV_HUGEPAGE);
  return data;
}

}  // namespace

BufferPool::Buffer& BufferPool::Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    reset();
    pool_ = o.pool_;
    data_ = o.data_;
    size_ = o.size_;
    o.pool_ = nullptr;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

void BufferPool::Buffer::reset() {
  if (data_) pool_->give_back(data_);
  pool_ = nullptr;
  data_ = nullptr;
  size_ = 0;
}

BufferPool::BufferPool(size_t buffer_bytes, size_t keep)
    : bytes_((std::max<size_t>(buffer_bytes, 1) + page_size() - 1) / page_size() * page_size()), keep_(keep) {}

BufferPool::~BufferPool() {
  for (char* p : free_) ::munmap(p, bytes_);
}

BufferPool::Buffer BufferPool::take() {
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      char* p = free_.back();
      free_.pop_back();
      return Buffer(this, p, bytes_);
    }
  }
  return Buffer(this, map_aligned(bytes_), bytes_);
}

void BufferPool::reserve(size_t n) {
  std::vector<Buffer> warm;
  for (size_t i = 0; i < n; ++i) {
    warm.push_back(take());
    for (size_t off = 0; off < bytes_; off += page_size()) warm.back().data()[off] = 0;
  }
}  // back into the pool here

size_t BufferPool::kept() const {
  std::lock_guard lock(mu_);
  return free_.size();
}

void BufferPool::give_back(char* data) {
  {
    std::lock_guard lock(mu_);
    if (free_.size() < keep_) {
      free_.push_back(data);
      return;
    }
  }
  ::munmap(data, bytes_);
}

}  // namespace berth
