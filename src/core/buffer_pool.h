// Large, page-aligned I/O buffers of one size, kept for reuse.
//
// Each buffer is its own mapping, aligned to 2 MiB and marked MADV_HUGEPAGE, so where
// the kernel has transparent huge pages (mode "madvise" or "always") a 2 MiB buffer is
// one page: the receive copy and SHA-256 miss the TLB less, and a direct write of it is
// one physically contiguous segment, so the disk gets one request instead of three (a
// virtio disk takes 254 segments per request). Mapping and zeroing such a page costs
// more than reusing it (on a VM whose free memory went back to the host, tens of ms the
// first time), so released buffers are kept, up to `keep`, for the next upload.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

namespace berth {

class BufferPool {
 public:
  // A buffer on loan; goes back to its pool (or is unmapped) when destroyed. It must not
  // outlive its pool (berth's server, whose sessions hold them, goes before the Api).
  class Buffer {
   public:
    Buffer() = default;
    Buffer(Buffer&& o) noexcept { *this = std::move(o); }
    Buffer& operator=(Buffer&& o) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { reset(); }

    char* data() const { return data_; }
    size_t size() const { return size_; }
    explicit operator bool() const { return data_ != nullptr; }
    void reset();

   private:
    friend class BufferPool;
    Buffer(BufferPool* pool, char* data, size_t size) : pool_(pool), data_(data), size_(size) {}
    BufferPool* pool_ = nullptr;
    char* data_ = nullptr;
    size_t size_ = 0;
  };

  // `buffer_bytes` is rounded up to whole pages.
  BufferPool(size_t buffer_bytes, size_t keep);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A kept buffer if there is one, else a new mapping. Throws std::bad_alloc when the
  // system has no memory left, as operator new would.
  Buffer take();

  // Maps and touches `n` buffers now and keeps them (at most `keep`), so the first uploads
  // do not pay for faulting their pages in.
  void reserve(size_t n);

  size_t buffer_bytes() const { return bytes_; }
  size_t kept() const;

 private:
  void give_back(char* data);

  size_t bytes_;
  size_t keep_;
  mutable std::mutex mu_;
  std::vector<char*> free_;
};

}  // namespace berth
