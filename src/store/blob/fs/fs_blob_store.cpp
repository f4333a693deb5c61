#include "store/blob/fs/fs_blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>  // renameat2, RENAME_NOREPLACE (glibc >= 2.28, _GNU_SOURCE)
#include <cstring>
#include <filesystem>
#include <limits>
#include <string_view>
#include <system_error>
#include <utility>

#include "core/ids.h"
#include "core/log.h"

namespace berth::store {
namespace {

constexpr mode_t kDirMode = 0750;  // private to the service user and its group
constexpr mode_t kFileMode = 0640;
constexpr const char* kBlobsDir = "blobs";
constexpr const char* kUploadsDir = "uploads";
constexpr const char* kUploadData = "data";

// Owns one descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  // close() errors on a descriptor we only read or already fsynced carry no news.
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string describe(int err) {
  if (const char* text = ::strerrordesc_np(err)) return text;
  return "errno " + std::to_string(err);
}

// An OS failure as an Error whose message is safe for a client (no path; the log line
// has it). Codes a retry may cure map to kUnavailable, everything else to kInternal.
Error os_error(int err, std::string_view what, const std::string& root, std::string_view relative) {
  log::get("store")->warn("fs blob store {}: {}/{}: {}", what, root, relative, describe(err));
  ErrorCode code = ErrorCode::kInternal;
  switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EROFS:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EAGAIN:
    case EBUSY:
    case EINTR:
      code = ErrorCode::kUnavailable;
      break;
    default:
      break;
  }
  return Error{code, "blob storage: " + std::string(what) + ": " + describe(err)};
}

tl::unexpected<Error> os_fail(int err, std::string_view what, const std::string& root, std::string_view relative) {
  return tl::unexpected<Error>(os_error(err, what, root, relative));
}

// blobs/sha256/ab: a fan-out of at most 256 directories per algorithm keeps every
// directory small, as distribution does.
std::string blob_dir(const Digest& digest) {
  return std::string(kBlobsDir) + "/" + std::string(digest.algorithm_name()) + "/" + digest.hex().substr(0, 2);
}
std::string blob_path(const Digest& digest) { return blob_dir(digest) + "/" + digest.hex(); }
std::string upload_dir(const std::string& id) { return std::string(kUploadsDir) + "/" + id; }
std::string upload_data(const std::string& id) { return upload_dir(id) + "/" + kUploadData; }

tl::unexpected<Error> upload_unknown(const std::string& id) {
  // The id may come from a URL: quote it only when it has the shape of one of ours.
  return fail(ErrorCode::kBlobUploadUnknown, is_uuid(id) ? "upload " + id + " is unknown" : "upload id is not a UUID");
}

tl::unexpected<Error> blob_unknown(const Digest& digest) {
  return fail(ErrorCode::kBlobUnknown, "blob " + digest.str() + " is unknown");
}

constexpr uint64_t kMaxOffset = static_cast<uint64_t>(std::numeric_limits<off_t>::max());

// A committed blob or a staged upload, read with pread so one reader may serve
// concurrent ranges; the size is fixed when the file is opened.
class FdBlobReader final : public BlobReader {
 public:
  FdBlobReader(UniqueFd fd, uint64_t size, std::string root, std::string relative)
      : fd_(std::move(fd)), size_(size), root_(std::move(root)), relative_(std::move(relative)) {}

  uint64_t size() const override { return size_; }

  Result<size_t> read(uint64_t offset, std::span<char> out) override {
    if (offset >= size_ || out.empty()) return 0;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), size_ - offset));
    size_t got = 0;
    while (got < want) {
      const ssize_t n = ::pread(fd_.get(), out.data() + got, want - got, static_cast<off_t>(offset + got));
      if (n < 0) {
        if (errno == EINTR) continue;
        return os_fail(errno, "read", root_, relative_);
      }
      if (n == 0) break;  // the file shrank under us (an upload being rewritten): stop short
      got += static_cast<size_t>(n);
    }
    return got;
  }

  int native_handle() const override { return fd_.get(); }

 private:
  UniqueFd fd_;
  uint64_t size_;
  std::string root_;  // for the log line only
  std::string relative_;
};

// Writes at an explicit position (pwrite) rather than through the file offset, so the
// writer alone decides where its bytes go.
//
// Whole aligned blocks from an aligned buffer go straight to the disk (O_DIRECT, toggled
// on the descriptor): a push then costs no copy into the page cache, which was a third
// of a push's CPU, and fills no memory with bytes a pull may never ask for. Anything
// else (a tail, an upload resumed at an odd offset, a file system without direct I/O)
// goes through the page cache.
class FdUploadWriter final : public UploadWriter {
 public:
  FdUploadWriter(UniqueFd fd, uint64_t size, std::string root, std::string relative)
      : fd_(std::move(fd)), size_(size), root_(std::move(root)), relative_(std::move(relative)) {}

  Result<void> write(std::string_view bytes) override {
    if (bytes.size() > kMaxOffset - size_)
      return fail(ErrorCode::kSizeInvalid, "upload would exceed the largest file size");
    const size_t direct = direct_prefix(bytes);
    if (direct > 0) {
      BERTH_TRY_VOID(write_direct(bytes.substr(0, direct)));
      bytes.remove_prefix(direct);
    }
    if (bytes.empty()) return {};
    if (direct_on_ && !set_direct(false)) return os_fail(errno, "switch off direct I/O", root_, relative_);
    return write_buffered(bytes);
  }

  Result<void> flush() override {
    if (::fsync(fd_.get()) != 0) return os_fail(errno, "sync upload", root_, relative_);
    return {};
  }

  uint64_t size() const override { return size_; }

 private:
  // Direct I/O wants the buffer, the file offset and the length aligned; 4 KiB covers
  // every logical block size we may meet.
  static constexpr size_t kDirectAlign = 4096;
  static constexpr uint64_t kWritebackWindow = 8 * 1024 * 1024;
  // Writes go to the page cache in pieces of at most this. One large write makes the
  // kernel (6.x ext4 large folios) take large blocks of free memory, which a VM's free
  // page reporting may have handed back to the host; first touches of those then fault on
  // the host and 1 MiB writes ran 10x slower on the bench machine (pushes at 100 MB/s).
  static constexpr size_t kMaxWritePiece = 128 * 1024;

  size_t direct_prefix(std::string_view bytes) const {
    if (!direct_usable_ || size_ % kDirectAlign != 0 ||
        reinterpret_cast<uintptr_t>(bytes.data()) % kDirectAlign != 0)
      return 0;
    return bytes.size() / kDirectAlign * kDirectAlign;
  }

  bool set_direct(bool on) {
    const int flags = ::fcntl(fd_.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd_.get(), F_SETFL, on ? (flags | O_DIRECT) : (flags & ~O_DIRECT)) != 0) return false;
    direct_on_ = on;
    return true;
  }

  Result<void> write_direct(std::string_view bytes) {
    // Bytes below this write that still sit dirty in the page cache (a tail, a request
    // that resumed at an odd offset, whether this writer or an earlier one wrote them)
    // reach the disk first. A direct write past the end moves the file's size on disk
    // at once, while delayed allocation may keep those pages unwritten for 30 s; after a
    // power cut the size would cover a hole that reads back as zeros, which the size
    // check in append_upload cannot see and the saved hash state would then commit under
    // the client's digest. Nothing dirty (the usual case) makes this a cheap call.
    if (!direct_on_ && size_ > 0 &&
        ::sync_file_range(fd_.get(), 0, static_cast<off_t>(size_),
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
      return os_fail(errno, "write back upload", root_, relative_);
    }
    if (!direct_on_ && !set_direct(true)) {
      // EINVAL: this file system has no direct I/O (tmpfs before 6.6, some FUSE).
      direct_usable_ = false;
      return write_buffered(bytes);
    }
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::pwrite(fd_.get(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(size_ + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        if (err == EINVAL && done == 0) {  // refused at write time rather than at fcntl
          direct_usable_ = false;
          if (!set_direct(false)) return os_fail(errno, "switch off direct I/O", root_, relative_);
          return write_buffered(bytes);
        }
        size_ += done;
        return os_fail(err, "write upload", root_, relative_);
      }
      done += static_cast<size_t>(n);
    }
    size_ += done;
    kicked_ = size_;  // nothing of these waits in the page cache
    return {};
  }

  Result<void> write_buffered(std::string_view bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const size_t piece = std::min(bytes.size() - done, kMaxWritePiece);
      const ssize_t n = ::pwrite(fd_.get(), bytes.data() + done, piece, static_cast<off_t>(size_ + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        size_ += done;
        return os_fail(err, "write upload", root_, relative_);
      }
      done += static_cast<size_t>(n);
    }
    size_ += done;
    // Start writeback of each full window now, so the fsync at the end of the request
    // has little left to do and the disk works while the network does.
    if (size_ - kicked_ >= kWritebackWindow) {
      ::sync_file_range(fd_.get(), static_cast<off_t>(kicked_), static_cast<off_t>(size_ - kicked_),
                        SYNC_FILE_RANGE_WRITE);
      kicked_ = size_;
    }
    return {};
  }

  UniqueFd fd_;
  uint64_t size_;
  uint64_t kicked_ = size_;  // bytes before this have had writeback started
  bool direct_usable_ = true;
  bool direct_on_ = false;
  std::string root_;  // for the log line only
  std::string relative_;
};

}  // namespace

FsBlobStore::FsBlobStore(int root_fd, std::string root) : root_fd_(root_fd), root_(std::move(root)) {}

FsBlobStore::~FsBlobStore() { ::close(root_fd_); }

Result<std::unique_ptr<FsBlobStore>> FsBlobStore::open(const std::string& root) {
  if (root.empty()) return fail(ErrorCode::kInvalidParameter, "blob storage: no root directory given");
  std::filesystem::path path = std::filesystem::path(root).lexically_normal();
  if (!path.has_filename() && path.has_parent_path()) path = path.parent_path();  // "data/" -> "data"
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return os_fail(ec.value(), "create the root's parent", root, "..");
  bool created_root = false;
  if (::mkdir(path.c_str(), kDirMode) == 0) {
    created_root = true;
  } else if (errno != EEXIST) {
    return os_fail(errno, "create the root", root, ".");
  }
  UniqueFd root_fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) return os_fail(errno, "open the root", root, ".");
  auto store = std::unique_ptr<FsBlobStore>(new FsBlobStore(root_fd.release(), root));

  bool created_any = created_root;
  for (const std::string& dir : {std::string(kBlobsDir), std::string(kBlobsDir) + "/sha256",
                                 std::string(kBlobsDir) + "/sha512", std::string(kUploadsDir)}) {
    if (::mkdirat(store->root_fd_, dir.c_str(), kDirMode) == 0) {
      created_any = true;
    } else if (errno != EEXIST) {
      return os_fail(errno, "create a directory", root, dir);
    }
    struct stat st {};
    if (::fstatat(store->root_fd_, dir.c_str(), &st, 0) != 0) return os_fail(errno, "inspect a directory", root, dir);
    if (!S_ISDIR(st.st_mode)) return os_fail(ENOTDIR, "inspect a directory", root, dir);
  }
  if (created_any) {
    // Make the new tree itself durable, deepest first.
    BERTH_TRY_VOID(store->sync_dir(kBlobsDir));
    BERTH_TRY_VOID(store->sync_dir("."));
    if (created_root) {
      const auto parent = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
      UniqueFd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!parent_fd.valid() || ::fsync(parent_fd.get()) != 0)
        return os_fail(errno, "sync the root's parent", root, "..");
    }
  }
  log::get("store")->debug("fs blob store opened at {}", root);
  return store;
}

Result<void> FsBlobStore::sync_dir(const std::string& relative) {
  UniqueFd fd(::openat(root_fd_, relative.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return os_fail(errno, "open a directory to sync it", root_, relative);
  if (::fsync(fd.get()) != 0) return os_fail(errno, "sync a directory", root_, relative);
  return {};
}

Result<BlobInfo> FsBlobStore::stat(const Digest& digest) {
  const std::string path = blob_path(digest);
  struct stat st {};
  if (::fstatat(root_fd_, path.c_str(), &st, 0) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return blob_unknown(digest);
    return os_fail(errno, "stat blob", root_, path);
  }
  if (!S_ISREG(st.st_mode)) return os_fail(EISDIR, "stat blob (not a regular file)", root_, path);
  return BlobInfo{digest, static_cast<uint64_t>(st.st_size)};
}

Result<std::unique_ptr<BlobReader>> FsBlobStore::open(const Digest& digest) {
  const std::string path = blob_path(digest);
  UniqueFd fd(::openat(root_fd_, path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ENOTDIR) return blob_unknown(digest);
    return os_fail(errno, "open blob", root_, path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return os_fail(errno, "stat blob", root_, path);
  if (!S_ISREG(st.st_mode)) return os_fail(EISDIR, "open blob (not a regular file)", root_, path);
  return std::make_unique<FdBlobReader>(std::move(fd), static_cast<uint64_t>(st.st_size), root_, path);
}

Result<void> FsBlobStore::remove(const Digest& digest) {
  // The fan-out directory stays: removing it would race with a commit that just made
  // sure it exists. No directory fsync: a blob that comes back after a crash is garbage
  // that the next collection finds again.
  const std::string path = blob_path(digest);
  if (::unlinkat(root_fd_, path.c_str(), 0) != 0 && errno != ENOENT && errno != ENOTDIR) {
    return os_fail(errno, "remove blob", root_, path);
  }
  return {};
}

Result<void> FsBlobStore::create_upload(const std::string& id) {
  if (!is_uuid(id)) return fail(ErrorCode::kInvalidParameter, "upload id is not a UUID");
  const std::string dir = upload_dir(id);
  if (::mkdirat(root_fd_, dir.c_str(), kDirMode) != 0 && errno != EEXIST) {
    return os_fail(errno, "create upload", root_, dir);
  }
  // No O_TRUNC/O_EXCL: creating again (a retry after a crash between mkdir and here)
  // keeps whatever was staged.
  const std::string data = upload_data(id);
  UniqueFd fd(::openat(root_fd_, data.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, kFileMode));
  if (!fd.valid()) return os_fail(errno, "create upload", root_, data);
  // No directory fsyncs: an upload lost in a power cut is started again by its client
  // (BLOB_UPLOAD_UNKNOWN), and commit_upload makes the blob's own name durable.
  return {};
}

namespace {

// An upload's staged file, opened with `flags`, and its size.
struct StagedFile {
  UniqueFd fd;
  uint64_t size = 0;
  std::string path;  // relative to the root, for log lines
};

Result<StagedFile> open_staged(int root_fd, const std::string& root, const std::string& id, int flags) {
  if (!is_uuid(id)) return upload_unknown(id);
  StagedFile f;
  f.path = upload_data(id);
  f.fd = UniqueFd(::openat(root_fd, f.path.c_str(), flags | O_CLOEXEC));
  if (!f.fd.valid()) {
    if (errno == ENOENT || errno == ENOTDIR) return upload_unknown(id);
    return os_fail(errno, "open upload", root, f.path);
  }
  struct stat st {};
  if (::fstat(f.fd.get(), &st) != 0) return os_fail(errno, "stat upload", root, f.path);
  f.size = static_cast<uint64_t>(st.st_size);
  return f;
}

}  // namespace

Result<std::unique_ptr<UploadWriter>> FsBlobStore::append_upload(const std::string& id, uint64_t offset) {
  BERTH_TRY(auto staged, open_staged(root_fd_, root_, id, O_WRONLY));
  if (staged.size < offset) {
    return fail(ErrorCode::kRangeInvalid, "upload " + id + " holds " + std::to_string(staged.size) +
                                              " bytes; cannot resume at " + std::to_string(offset));
  }
  // Bytes past `offset` were written by a request that died before its offset was
  // recorded: the client will send them again.
  if (staged.size > offset && ::ftruncate(staged.fd.get(), static_cast<off_t>(offset)) != 0) {
    return os_fail(errno, "truncate upload", root_, staged.path);
  }
  return std::make_unique<FdUploadWriter>(std::move(staged.fd), offset, root_, staged.path);
}

Result<std::unique_ptr<BlobReader>> FsBlobStore::open_upload(const std::string& id) {
  BERTH_TRY(auto staged, open_staged(root_fd_, root_, id, O_RDONLY));
  return std::make_unique<FdBlobReader>(std::move(staged.fd), staged.size, root_, staged.path);
}

// The staged file itself becomes the blob: truncated to `size`, fsynced, then renamed
// into blobs/ with RENAME_NOREPLACE, so the name appears only once the bytes are on disk
// and never replaces a blob that is already there. Then the target directory is
// fsynced, so the name is on disk too before we answer.
Result<BlobInfo> FsBlobStore::commit_upload(const std::string& id, const Digest& digest, uint64_t size) {
  BERTH_TRY(auto staged_file, open_staged(root_fd_, root_, id, O_RDWR));
  const std::string dir = blob_dir(digest);
  const std::string target = blob_path(digest);
  const std::string& data = staged_file.path;
  UniqueFd& fd = staged_file.fd;
  const uint64_t staged = staged_file.size;
  if (staged < size) {
    return fail(ErrorCode::kSizeInvalid, "upload " + id + " holds " + std::to_string(staged) +
                                             " bytes, fewer than the " + std::to_string(size) + " to commit");
  }

  // Drops the staged copy; the blob is committed whatever happens here, so a failure
  // only leaves garbage for upload expiry.
  auto drop_upload = [&] {
    if (auto dropped = delete_upload(id); !dropped) {
      log::get("store")->warn("fs blob store: committed {} but could not remove upload {}: {}", digest.str(), id,
                              dropped.error().message);
    }
  };
  // When the blob is already there (a concurrent or earlier push), keep it; syncing its
  // directory covers a concurrent committer that renamed but has not synced yet.
  auto keep_existing = [&]() -> Result<BlobInfo> {
    BERTH_TRY_VOID(sync_dir(dir));
    fd.reset();
    drop_upload();
    BERTH_TRY(BlobInfo existing, this->stat(digest));
    if (existing.size != size) {
      log::get("store")->warn("fs blob store: {} exists with {} bytes, upload {} committed {}", digest.str(),
                              existing.size, id, size);
    }
    return existing;
  };

  // Fast path, and it spares an fsync of bytes we are about to throw away.
  struct stat existing {};
  if (::fstatat(root_fd_, target.c_str(), &existing, 0) == 0) return keep_existing();

  if (staged > size && ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return os_fail(errno, "truncate upload", root_, data);
  }
  if (::fsync(fd.get()) != 0) return os_fail(errno, "sync upload", root_, data);
  fd.reset();

  if (::mkdirat(root_fd_, dir.c_str(), kDirMode) == 0) {
    BERTH_TRY_VOID(sync_dir(std::string(kBlobsDir) + "/" + std::string(digest.algorithm_name())));
  } else if (errno != EEXIST) {
    return os_fail(errno, "create blob directory", root_, dir);
  }

  if (::renameat2(root_fd_, data.c_str(), root_fd_, target.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    if (err == EINVAL || err == ENOSYS || err == EOPNOTSUPP) {
      // A filesystem without RENAME_NOREPLACE (NFS, some FUSE): link() never replaces
      // either; the staged name is removed with the upload below.
      err = ::linkat(root_fd_, data.c_str(), root_fd_, target.c_str(), 0) == 0 ? 0 : errno;
    }
    if (err == EEXIST) return keep_existing();     // a concurrent push of the same bytes won
    if (err == ENOENT) return upload_unknown(id);  // deleted or committed meanwhile
    if (err != 0) return os_fail(err, "move upload into place", root_, target);
  }
  BERTH_TRY_VOID(sync_dir(dir));
  drop_upload();
  log::get("store")->debug("fs blob store: committed {} ({} bytes) from upload {}", digest.str(), size, id);
  return BlobInfo{digest, size};
}

Result<void> FsBlobStore::delete_upload(const std::string& id) {
  if (!is_uuid(id)) return upload_unknown(id);
  const std::string dir = upload_dir(id);
  const std::string data = upload_data(id);
  if (::unlinkat(root_fd_, data.c_str(), 0) != 0 && errno != ENOENT && errno != ENOTDIR) {
    return os_fail(errno, "remove upload", root_, data);
  }
  if (::unlinkat(root_fd_, dir.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return {};
  if (errno != ENOTEMPTY && errno != EEXIST) return os_fail(errno, "remove upload", root_, dir);
  // Something else was put there by hand: remove it all. Only here do we use the path.
  std::error_code ec;
  std::filesystem::remove_all(std::filesystem::path(root_) / dir, ec);
  if (ec) return os_fail(ec.value(), "remove upload", root_, dir);
  return {};
}

Result<std::vector<std::string>> FsBlobStore::list_dir(const std::string& relative, bool (*keep)(const char* name)) {
  UniqueFd fd(::openat(root_fd_, relative.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return os_fail(errno, "list a directory", root_, relative);
  DIR* dir = ::fdopendir(fd.get());
  if (dir == nullptr) return os_fail(errno, "list a directory", root_, relative);
  fd.release();  // closedir() closes it now
  std::vector<std::string> names;
  int err = 0;
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) {
      err = errno;
      break;
    }
    if (keep(entry->d_name)) names.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  if (err != 0) return os_fail(err, "list a directory", root_, relative);
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::vector<std::string>> FsBlobStore::list_uploads() {
  // Anything that is not one of our ids (an editor's backup, lost+found) is no upload.
  return list_dir(kUploadsDir, [](const char* name) { return is_uuid(name); });
}

namespace {

bool is_lower_hex(const char* name) {
  if (*name == '\0') return false;
  for (; *name != '\0'; ++name) {
    if (!((*name >= '0' && *name <= '9') || (*name >= 'a' && *name <= 'f'))) return false;
  }
  return true;
}

}  // namespace

// Walks blobs/<algorithm>/<fan-out>/ in name order, which is digest order ("sha256" <
// "sha512", lowercase hex); fan-out directories wholly before `after` are not read.
// Names that do not parse as the digest their place says (a temp file left by hand) are
// not blobs.
Result<std::vector<BlobInfo>> FsBlobStore::list_blobs(const std::string& after, size_t limit) {
  std::vector<BlobInfo> out;
  if (limit == 0) return out;
  for (const char* algorithm : {"sha256", "sha512"}) {
    const std::string algorithm_dir = std::string(kBlobsDir) + "/" + algorithm;
    BERTH_TRY(auto fanouts, list_dir(algorithm_dir, [](const char* name) {
      return std::strlen(name) == 2 && is_lower_hex(name);
    }));
    for (const std::string& fanout : fanouts) {
      const std::string prefix = std::string(algorithm) + ":" + fanout;
      if (prefix < after.substr(0, prefix.size())) continue;
      const std::string dir = algorithm_dir + "/" + fanout;
      BERTH_TRY(auto names, list_dir(dir, is_lower_hex));
      for (const std::string& name : names) {
        auto digest = Digest::parse(std::string(algorithm) + ":" + name);
        if (!digest || name.compare(0, 2, fanout) != 0 || digest->str() <= after) continue;
        struct stat st {};
        const std::string path = dir + "/" + name;
        if (::fstatat(root_fd_, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
          if (errno == ENOENT) continue;  // removed since the listing
          return os_fail(errno, "stat blob", root_, path);
        }
        if (!S_ISREG(st.st_mode)) continue;
        out.push_back(BlobInfo{std::move(*digest), static_cast<uint64_t>(st.st_size)});
        if (out.size() == limit) return out;
      }
    }
  }
  return out;
}

}  // namespace berth::store
