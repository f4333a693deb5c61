#include "store/blob/fs/fs_blob_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/blob/blob_store_conformance.h"
#include "support/temp_dir.h"

namespace berth::store {
namespace {

namespace fs = std::filesystem;

// A fresh temporary directory per test; the store's root is a not-yet-existing
// directory inside it, so open() has to create the tree.
class FsFactory {
 public:
  Result<std::unique_ptr<BlobStore>> make() {
    BERTH_TRY(auto store, FsBlobStore::open(root()));
    return std::unique_ptr<BlobStore>(std::move(store));
  }

  std::string dir() const { return dir_.path().string(); }
  std::string root() const { return dir() + "/data"; }

 private:
  test::TempDir dir_{"berth-blob"};
};

INSTANTIATE_TYPED_TEST_SUITE_P(Fs, BlobStoreConformance, ::testing::Types<FsFactory>);

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// Every regular file under blobs/, checked against the digest its path names. Blobs
// never change, so those in `verified` are counted without hashing them again.
struct BlobScan {
  int files = 0;
  std::vector<std::string> bad;  // paths whose bytes do not hash to their name
};

BlobScan scan_blobs(const fs::path& root, std::set<std::string>* verified = nullptr) {
  BlobScan scan;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root / "blobs", ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    ++scan.files;
    const fs::path& path = it->path();
    if (verified != nullptr && verified->count(path.string()) != 0) continue;
    const std::string algorithm = path.parent_path().parent_path().filename();
    const auto expected = Digest::parse(algorithm + ":" + path.filename().string());
    const std::string bytes = slurp(path);
    const bool ok = expected && path.parent_path().filename() == expected->hex().substr(0, 2) &&
                    crypto::digest_of(expected->algorithm(), bytes) == *expected;
    if (!ok) {
      scan.bad.push_back(path.string());
    } else if (verified != nullptr) {
      verified->insert(path.string());
    }
  }
  return scan;
}

class FsBlobStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<BlobStore> open_store() {
    auto made = factory_.make();
    EXPECT_TRUE(made) << made.error().message;
    return made ? std::move(*made) : nullptr;
  }
  fs::path root() const { return factory_.root(); }

  FsFactory factory_;
};

TEST_F(FsBlobStoreTest, LayoutFollowsDistribution) {
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_TRUE(fs::is_directory(root() / "blobs" / "sha256"));
  EXPECT_TRUE(fs::is_directory(root() / "blobs" / "sha512"));
  EXPECT_TRUE(fs::is_directory(root() / "uploads"));

  auto staged = conformance::stage(*store, "layer bytes");
  ASSERT_TRUE(staged);
  EXPECT_EQ(slurp(root() / "uploads" / *staged / "data"), "layer bytes");

  const Digest digest = crypto::sha256("layer bytes");
  ASSERT_TRUE(store->commit_upload(*staged, digest, 11));
  const fs::path blob = root() / "blobs" / "sha256" / digest.hex().substr(0, 2) / digest.hex();
  EXPECT_TRUE(fs::is_regular_file(blob));
  EXPECT_EQ(slurp(blob), "layer bytes");
  EXPECT_FALSE(fs::exists(root() / "uploads" / *staged));  // the whole upload directory

  auto staged512 = conformance::stage(*store, "layer bytes");
  ASSERT_TRUE(staged512);
  const Digest digest512 = crypto::digest_of(DigestAlgorithm::kSha512, "layer bytes");
  ASSERT_TRUE(store->commit_upload(*staged512, digest512, 11));
  EXPECT_EQ(slurp(root() / "blobs" / "sha512" / digest512.hex().substr(0, 2) / digest512.hex()), "layer bytes");
}

TEST_F(FsBlobStoreTest, AnUploadThatIsNeverCommittedLeavesNothingUnderBlobs) {
  std::string staged;
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->create_upload(new_uuid()));  // an empty upload too
    staged = new_uuid();
    ASSERT_TRUE(store->create_upload(staged));
    auto writer = store->append_upload(staged, 0);
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->write(conformance::pattern_bytes(300000, 3)));
    ASSERT_TRUE((*writer)->flush());
    // The process "dies" here: no commit, no delete.
  }
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(scan_blobs(root()).files, 0);
  auto uploads = store->list_uploads();
  ASSERT_TRUE(uploads);
  EXPECT_TRUE(conformance::contains(*uploads, staged));  // for upload expiry to find
  EXPECT_EQ(conformance::read_upload(*store, staged).value_or("?"), conformance::pattern_bytes(300000, 3));
}

// kill -9 at random moments of a stream of pushes: whatever is under blobs/ must be
// whole (hash to its name), and the store must open and work afterwards.
TEST_F(FsBlobStoreTest, KilledAtAnyMomentNeverLeavesAPartialBlob) {
  ASSERT_TRUE(open_store());  // create the tree once, in the parent
  constexpr int kKills = 12;
  std::set<std::string> verified;
  for (int round = 0; round < kKills; ++round) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto store = FsBlobStore::open(factory_.root());
      if (!store) ::_exit(2);
      for (uint32_t i = 0;; ++i) {
        const uint32_t seed = static_cast<uint32_t>(round) * 100000u + i;
        const std::string bytes = conformance::pattern_bytes(32 * 1024 + (seed * 7919u) % (768 * 1024), seed);
        std::vector<std::string> pieces;
        for (size_t at = 0; at < bytes.size(); at += 128 * 1024) pieces.push_back(bytes.substr(at, 128 * 1024));
        if (!conformance::push(**store, pieces)) ::_exit(3);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + (round * 37) % 120));
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, WNOHANG), 0) << "the pushing child stopped early, status " << status;
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));

    const BlobScan scan = scan_blobs(root(), &verified);
    EXPECT_TRUE(scan.bad.empty()) << "partial or wrong blob: " << scan.bad.front();
  }
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_GT(verified.size(), 0u) << "no push ever completed: the test proved nothing";
  auto uploads = store->list_uploads();
  ASSERT_TRUE(uploads);
  for (const auto& id : *uploads) EXPECT_TRUE(store->delete_upload(id));  // what upload expiry will do
  EXPECT_TRUE(fs::is_empty(root() / "uploads"));
  auto info = conformance::push(*store, {"after the crashes"});
  ASSERT_TRUE(info);
  EXPECT_EQ(conformance::read_blob(*store, info->digest).value_or("?"), "after the crashes");
}

TEST_F(FsBlobStoreTest, PermissionBitsKeepOtherUsersOut) {
  const mode_t old_umask = ::umask(022);
  auto store = open_store();
  ::umask(old_umask);
  ASSERT_TRUE(store);
  auto staged = conformance::stage(*store, "private layer");
  ASSERT_TRUE(staged);
  EXPECT_EQ(mode_of(root() / "uploads" / *staged), 0750u);
  EXPECT_EQ(mode_of(root() / "uploads" / *staged / "data"), 0640u);
  const Digest digest = crypto::sha256("private layer");
  ASSERT_TRUE(store->commit_upload(*staged, digest, 13));
  for (const fs::path& dir : {root(), root() / "blobs", root() / "blobs" / "sha256", root() / "blobs" / "sha512",
                              root() / "uploads", root() / "blobs" / "sha256" / digest.hex().substr(0, 2)}) {
    EXPECT_EQ(mode_of(dir), 0750u) << dir;
  }
  EXPECT_EQ(mode_of(root() / "blobs" / "sha256" / digest.hex().substr(0, 2) / digest.hex()), 0640u);
}

TEST_F(FsBlobStoreTest, ReopeningTheRootKeepsBlobs) {
  Digest digest = crypto::sha256("");
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    auto info = conformance::push(*store, {"kept ", "across ", "restarts"});
    ASSERT_TRUE(info);
    digest = info->digest;
  }
  // The same root spelled with a trailing slash, and relative to another directory.
  for (const std::string& spelling : {factory_.root() + "/", factory_.root() + "/../data"}) {
    auto store = FsBlobStore::open(spelling);
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ(conformance::read_blob(**store, digest).value_or("?"), "kept across restarts");
  }
  EXPECT_EQ(scan_blobs(root()).files, 1);
}

TEST_F(FsBlobStoreTest, OpenCreatesMissingParents) {
  auto store = FsBlobStore::open(factory_.dir() + "/a/b/c");
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_TRUE(fs::is_directory(fs::path(factory_.dir()) / "a" / "b" / "c" / "blobs" / "sha256"));
}

TEST_F(FsBlobStoreTest, NativeHandleIsTheBlobFile) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto info = conformance::push(*store, {"sendfile me"});
  ASSERT_TRUE(info);
  auto reader = store->open(info->digest);
  ASSERT_TRUE(reader);
  const int fd = (*reader)->native_handle();
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);  // never leaks into a child process
  char buffer[32];
  const ssize_t n = ::pread(fd, buffer, sizeof buffer, 0);
  ASSERT_EQ(n, 11);
  EXPECT_EQ(std::string(buffer, 11), "sendfile me");
}

// POSIX keeps an unlinked file readable through open descriptors: garbage collection
// can remove a blob while a pull is still sending it.
TEST_F(FsBlobStoreTest, AnOpenReaderOutlivesRemove) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const std::string bytes = conformance::pattern_bytes(200000, 9);
  auto info = conformance::push(*store, {bytes});
  ASSERT_TRUE(info);
  auto reader = store->open(info->digest);
  ASSERT_TRUE(reader);
  ASSERT_TRUE(store->remove(info->digest));
  EXPECT_EQ(conformance::code_of(store->stat(info->digest)), ErrorCode::kBlobUnknown);
  EXPECT_EQ(conformance::read_all(**reader).value_or("?"), bytes);
}

TEST_F(FsBlobStoreTest, ErrorMessagesNeverShowHostPaths) {
  {
    std::ofstream(factory_.dir() + "/plain-file") << "not a directory";
    auto store = FsBlobStore::open(factory_.dir() + "/plain-file");
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().message.find(factory_.dir()), std::string::npos) << store.error().message;
    auto nested = FsBlobStore::open(factory_.dir() + "/plain-file/root");
    ASSERT_FALSE(nested);
    EXPECT_EQ(nested.error().message.find(factory_.dir()), std::string::npos) << nested.error().message;
  }
  auto store = open_store();
  ASSERT_TRUE(store);
  // A directory where a blob file belongs (a hand-made mess) is an internal error.
  const Digest digest = crypto::sha256("mess");
  fs::create_directories(root() / "blobs" / "sha256" / digest.hex().substr(0, 2) / digest.hex() / "x");
  auto info = store->stat(digest);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, ErrorCode::kInternal);
  EXPECT_EQ(info.error().message.find(factory_.dir()), std::string::npos) << info.error().message;
  auto reader = store->open(digest);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().message.find(factory_.dir()), std::string::npos) << reader.error().message;
  auto removed = store->remove(digest);
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().message.find(factory_.dir()), std::string::npos) << removed.error().message;
}

TEST_F(FsBlobStoreTest, StrayEntriesUnderUploadsAreNotUploads) {
  auto store = open_store();
  ASSERT_TRUE(store);
  fs::create_directories(root() / "uploads" / "lost+found");
  std::ofstream(root() / "uploads" / "notes.txt") << "x";
  auto staged = conformance::stage(*store, "x");
  ASSERT_TRUE(staged);
  std::ofstream(root() / "uploads" / *staged / "extra") << "left by hand";
  auto uploads = store->list_uploads();
  ASSERT_TRUE(uploads);
  EXPECT_EQ(*uploads, std::vector<std::string>{*staged});
  ASSERT_TRUE(store->delete_upload(*staged));  // removes the extra file too
  EXPECT_FALSE(fs::exists(root() / "uploads" / *staged));
}

// Which of the first `pages` pages of `path` sit in the page cache, as "1"s and "0"s.
std::string cached_pages(const fs::path& path, size_t pages) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "open failed";
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  void* map = ::mmap(nullptr, pages * page, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return "mmap failed";
  std::vector<unsigned char> vec(pages);
  const bool ok = ::mincore(map, pages * page, vec.data()) == 0;
  ::munmap(map, pages * page);
  if (!ok) return "mincore failed";
  std::string out;
  for (unsigned char v : vec) out += (v & 1) != 0 ? '1' : '0';
  return out;
}

// Page-aligned bytes, as the upload path hands them to the store.
struct AlignedBytes {
  static constexpr std::align_val_t kAlign{4096};
  explicit AlignedBytes(size_t n, char fill) : data(static_cast<char*>(::operator new(n, kAlign))), size(n) {
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>(fill + i % 7);
  }
  ~AlignedBytes() { ::operator delete(data, kAlign); }
  AlignedBytes(const AlignedBytes&) = delete;
  AlignedBytes& operator=(const AlignedBytes&) = delete;
  std::string_view view() const { return {data, size}; }
  char* data;
  size_t size;
};

// Whether a direct write in `dir` leaves its page out of the cache (not on tmpfs, whose
// pages are the storage, nor where the file system refuses O_DIRECT).
bool direct_writes_skip_the_cache(const fs::path& dir) {
  const fs::path probe = dir / "direct-probe";
  const int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_DIRECT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const AlignedBytes block(4096, 'p');
  const bool wrote = ::pwrite(fd, block.data, block.size, 0) == static_cast<ssize_t>(block.size);
  ::close(fd);
  const bool skipped = wrote && cached_pages(probe, 1) == "0";
  fs::remove(probe);
  return skipped;
}

TEST_F(FsBlobStoreTest, AlignedBlocksSkipThePageCacheAndEveryByteLandsInOrder) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const AlignedBytes blocks(12 * 4096, 'a');
  const AlignedBytes more(8 * 4096, 'A');
  const std::string id = new_uuid();
  ASSERT_TRUE(store->create_upload(id));
  {
    auto writer = store->append_upload(id, 0);
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->write(blocks.view()));                // aligned: direct
    ASSERT_TRUE((*writer)->write("tail"));                       // a tail: page cache
    ASSERT_TRUE((*writer)->write(more.view()));                  // aligned buffer, odd offset: page cache
    ASSERT_TRUE((*writer)->write(std::string(4096 - 4, 'z')));   // back on a block boundary
    ASSERT_TRUE((*writer)->write(blocks.view().substr(0, 4100)));  // one block direct, 4 bytes not
    ASSERT_TRUE((*writer)->flush());
    EXPECT_EQ((*writer)->size(), 12 * 4096 + 4 + 8 * 4096 + 4092 + 4100u);
  }
  const fs::path data = root() / "uploads" / id / "data";
  if (direct_writes_skip_the_cache(root() / "uploads")) {
    // Read before anything reads the file back: the direct blocks never entered the cache.
    EXPECT_EQ(cached_pages(data, 12 + 9 + 2), std::string(12, '0') + std::string(9, '1') + "01");
  }
  const std::string expected = std::string(blocks.view()) + "tail" + std::string(more.view()) +
                               std::string(4092, 'z') + std::string(blocks.view().substr(0, 4100));
  EXPECT_EQ(slurp(data), expected);
  const Digest digest = crypto::sha256(expected);
  ASSERT_TRUE(store->commit_upload(id, digest, expected.size()));
  EXPECT_EQ(conformance::read_blob(*store, digest).value_or("?"), expected);
}

// A request that died after its direct writes, before its offset was recorded: the next
// append at the recorded offset drops those bytes, whatever path wrote them.
TEST_F(FsBlobStoreTest, ResumingCutsBackDirectWritesThatWereNeverRecorded) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const AlignedBytes first(4 * 4096, 'f');
  const AlignedBytes lost(6 * 4096, 'l');
  const AlignedBytes again(5 * 4096, 'g');
  const std::string id = new_uuid();
  ASSERT_TRUE(store->create_upload(id));
  {
    auto writer = store->append_upload(id, 0);
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->write(first.view()));
    ASSERT_TRUE((*writer)->write(lost.view()));
    ASSERT_TRUE((*writer)->write("and a tail"));
  }
  {
    auto writer = store->append_upload(id, first.size);  // the offset recorded last
    ASSERT_TRUE(writer);
    EXPECT_EQ((*writer)->size(), first.size);
    ASSERT_TRUE((*writer)->write(again.view()));
  }
  const std::string expected = std::string(first.view()) + std::string(again.view());
  EXPECT_EQ(conformance::read_upload(*store, id).value_or("?"), expected);
  ASSERT_TRUE(store->commit_upload(id, crypto::sha256(expected), expected.size()));
  EXPECT_EQ(conformance::read_blob(*store, crypto::sha256(expected)).value_or("?"), expected);
}

// How many bytes below `end` of `path` the file system has not placed on the disk yet
// (delayed allocation); nullopt where FIEMAP is not supported (tmpfs).
std::optional<uint64_t> delalloc_bytes_below(const fs::path& path, uint64_t end) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  constexpr unsigned kExtents = 64;
  std::vector<char> buf(sizeof(fiemap) + kExtents * sizeof(fiemap_extent));
  auto* map = reinterpret_cast<fiemap*>(buf.data());
  map->fm_start = 0;
  map->fm_length = end;
  map->fm_flags = 0;  // not FIEMAP_FLAG_SYNC: the point is what is still pending
  map->fm_extent_count = kExtents;
  const bool ok = ::ioctl(fd, FS_IOC_FIEMAP, map) == 0;
  ::close(fd);
  if (!ok) return std::nullopt;
  uint64_t pending = 0;
  for (unsigned i = 0; i < map->fm_mapped_extents; ++i) {
    const fiemap_extent& e = map->fm_extents[i];
    if ((e.fe_flags & (FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN)) != 0 && e.fe_logical < end)
      pending += std::min<uint64_t>(e.fe_length, end - e.fe_logical);
  }
  return pending;
}

// A direct write past bytes that still wait in the page cache moves the file's size on
// disk at once; had those bytes not reached the disk first, a power cut would leave a
// staged file of the recorded size with zeros in it, committed under the client's digest.
TEST_F(FsBlobStoreTest, BufferedBytesReachTheDiskBeforeADirectWritePastThem) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const AlignedBytes buffered(3 * 4096 + 1, 'b');
  const AlignedBytes direct(4 * 4096, 'd');
  const std::string_view unaligned = buffered.view().substr(1);  // goes through the page cache
  const std::string id = new_uuid();
  ASSERT_TRUE(store->create_upload(id));
  {
    auto writer = store->append_upload(id, 0);
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->write(unaligned));
  }
  {  // the next request resumes on a block boundary, from an aligned buffer: direct
    auto writer = store->append_upload(id, unaligned.size());
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->write(direct.view()));
  }
  const fs::path data = root() / "uploads" / id / "data";
  const auto pending = delalloc_bytes_below(data, unaligned.size());
  EXPECT_EQ(slurp(data), std::string(unaligned) + std::string(direct.view()));
  if (!pending) GTEST_SKIP() << "FIEMAP is not supported here";
  EXPECT_EQ(*pending, 0u);
}

}  // namespace
}  // namespace berth::store
