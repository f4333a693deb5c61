// The behaviour every BlobStore must show, as one GoogleTest typed-test suite (after
// distribution's storage/driver/testsuites). An implementation's test instantiates it
// with a factory type:
//
//   struct FsFactory {
//     FsFactory();   // prepares a fresh, empty backing store (a temp dir, a bucket prefix)
//     ~FsFactory();  // removes it
//     // Opens the backing store; each call opens the same one (that is how a test
//     // "restarts" the process).
//     Result<std::unique_ptr<BlobStore>> make();
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(Fs, BlobStoreConformance, ::testing::Types<FsFactory>);
//
// Where blob_store.h leaves a case open, this suite decides it:
// - an upload id that is not a UUID names no upload: kBlobUploadUnknown from every call
//   that takes an id (delete_upload included), kInvalidParameter from create_upload;
// - commit_upload with `size` larger than the staged bytes: kSizeInvalid, upload kept;
// - create_upload of an id that exists keeps the staged bytes (a retried create);
// - commit_upload when the blob exists returns the existing blob's BlobInfo.
//
// Include this header in exactly one test file per implementation.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/digest.h"
#include "core/ids.h"
#include "core/result.h"
#include "crypto/hash.h"
#include "store/blob/blob_store.h"

namespace berth::store::conformance {

// Deterministic, non-repeating-looking bytes: offsets that slip show up as mismatches.
inline std::string pattern_bytes(size_t size, uint32_t seed) {
  std::string out(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<char>(x & 0xff);
  }
  return out;
}

// Everything a reader holds, read in pieces of `chunk` bytes.
inline Result<std::string> read_all(BlobReader& reader, size_t chunk = 64 * 1024) {
  std::string out;
  std::vector<char> buffer(chunk);
  while (true) {
    BERTH_TRY(size_t n, reader.read(out.size(), buffer));
    if (n == 0) return out;
    out.append(buffer.data(), n);
  }
}

// Stages `pieces` through one append_upload + write per piece and commits them all.
inline Result<BlobInfo> push(BlobStore& store, const std::vector<std::string>& pieces) {
  const std::string id = new_uuid();
  BERTH_TRY_VOID(store.create_upload(id));
  auto hasher = crypto::make_hasher(DigestAlgorithm::kSha256);
  uint64_t offset = 0;
  for (const auto& piece : pieces) {
    BERTH_TRY(auto writer, store.append_upload(id, offset));
    BERTH_TRY_VOID(writer->write(piece));
    BERTH_TRY_VOID(writer->flush());
    hasher->update(piece);
    offset += piece.size();
  }
  return store.commit_upload(id, hasher->finish(), offset);
}

// Stages `bytes` under a fresh upload and returns its id.
inline Result<std::string> stage(BlobStore& store, std::string_view bytes) {
  std::string id = new_uuid();
  BERTH_TRY_VOID(store.create_upload(id));
  BERTH_TRY(auto writer, store.append_upload(id, 0));
  BERTH_TRY_VOID(writer->write(bytes));
  BERTH_TRY_VOID(writer->flush());
  return id;
}

inline Result<std::string> read_blob(BlobStore& store, const Digest& digest) {
  BERTH_TRY(auto reader, store.open(digest));
  return read_all(*reader);
}

inline Result<std::string> read_upload(BlobStore& store, const std::string& id) {
  BERTH_TRY(auto reader, store.open_upload(id));
  return read_all(*reader);
}

// The error code, or nullopt on success: safe where .error() on a success would not be.
template <class T>
std::optional<ErrorCode> code_of(const Result<T>& result) {
  if (result) return std::nullopt;
  return result.error().code;
}

inline bool contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace berth::store::conformance

namespace berth::store {

template <class Factory>
class BlobStoreConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = factory_.make();
    ASSERT_TRUE(made) << made.error().message;
    store_ = std::move(*made);
  }

  BlobStore& store() { return *store_; }

  Factory factory_;
  std::unique_ptr<BlobStore> store_;
};

TYPED_TEST_SUITE_P(BlobStoreConformance);

#define BERTH_BLOB_OK(expr)                                               \
  do {                                                                    \
    const auto& berth_ok_ = (expr);                                       \
    ASSERT_TRUE(berth_ok_) << #expr << ": " << berth_ok_.error().message; \
  } while (0)

TYPED_TEST_P(BlobStoreConformance, AbsentBlobIsUnknownAndRemoveIsIdempotent) {
  const Digest digest = crypto::sha256("never pushed");
  auto info = this->store().stat(digest);
  ASSERT_FALSE(info);
  EXPECT_EQ(conformance::code_of(info), ErrorCode::kBlobUnknown);
  auto reader = this->store().open(digest);
  ASSERT_FALSE(reader);
  EXPECT_EQ(conformance::code_of(reader), ErrorCode::kBlobUnknown);
  BERTH_BLOB_OK(this->store().remove(digest));
  BERTH_BLOB_OK(this->store().remove(digest));
  const Digest sha512 = crypto::digest_of(DigestAlgorithm::kSha512, "never pushed");
  EXPECT_EQ(conformance::code_of(this->store().stat(sha512)), ErrorCode::kBlobUnknown);
  BERTH_BLOB_OK(this->store().remove(sha512));
}

TYPED_TEST_P(BlobStoreConformance, UploadInPiecesCommitThenRead) {
  auto& store = this->store();
  const std::string id = new_uuid();
  BERTH_BLOB_OK(store.create_upload(id));
  {
    auto writer = store.append_upload(id, 0);
    BERTH_BLOB_OK(writer);
    EXPECT_EQ((*writer)->size(), 0u);
    BERTH_BLOB_OK((*writer)->write("hello"));
    BERTH_BLOB_OK((*writer)->write(", "));
    EXPECT_EQ((*writer)->size(), 7u);
    BERTH_BLOB_OK((*writer)->flush());
  }
  {
    auto writer = store.append_upload(id, 7);
    BERTH_BLOB_OK(writer);
    EXPECT_EQ((*writer)->size(), 7u);  // counts the bytes staged before this writer
    BERTH_BLOB_OK((*writer)->write(""));
    BERTH_BLOB_OK((*writer)->write("world"));
    EXPECT_EQ((*writer)->size(), 12u);
    BERTH_BLOB_OK((*writer)->flush());
  }
  EXPECT_EQ(conformance::read_upload(store, id).value_or("?"), "hello, world");

  const Digest digest = crypto::sha256("hello, world");
  auto committed = store.commit_upload(id, digest, 12);
  BERTH_BLOB_OK(committed);
  EXPECT_EQ(committed->digest, digest);
  EXPECT_EQ(committed->size, 12u);

  auto info = store.stat(digest);
  BERTH_BLOB_OK(info);
  EXPECT_EQ(info->digest, digest);
  EXPECT_EQ(info->size, 12u);

  auto reader = store.open(digest);
  BERTH_BLOB_OK(reader);
  EXPECT_EQ((*reader)->size(), 12u);
  std::vector<char> buffer(64);
  auto n = (*reader)->read(0, buffer);
  BERTH_BLOB_OK(n);
  EXPECT_EQ(std::string(buffer.data(), *n), "hello, world");
  n = (*reader)->read(7, std::span<char>(buffer.data(), 3));
  BERTH_BLOB_OK(n);
  EXPECT_EQ(std::string(buffer.data(), *n), "wor");
  n = (*reader)->read(11, buffer);
  BERTH_BLOB_OK(n);
  EXPECT_EQ(std::string(buffer.data(), *n), "d");
  n = (*reader)->read(12, buffer);
  BERTH_BLOB_OK(n);
  EXPECT_EQ(*n, 0u);
  n = (*reader)->read(1000, buffer);
  BERTH_BLOB_OK(n);
  EXPECT_EQ(*n, 0u);

  // The upload is gone.
  auto uploads = store.list_uploads();
  BERTH_BLOB_OK(uploads);
  EXPECT_FALSE(conformance::contains(*uploads, id));
  auto again = store.append_upload(id, 12);
  ASSERT_FALSE(again);
  EXPECT_EQ(conformance::code_of(again), ErrorCode::kBlobUploadUnknown);
  EXPECT_EQ(conformance::code_of(store.open_upload(id)), ErrorCode::kBlobUploadUnknown);

  BERTH_BLOB_OK(store.remove(digest));
  EXPECT_EQ(conformance::code_of(store.stat(digest)), ErrorCode::kBlobUnknown);
  EXPECT_EQ(conformance::code_of(store.open(digest)), ErrorCode::kBlobUnknown);
}

TYPED_TEST_P(BlobStoreConformance, EmptyBlob) {
  auto& store = this->store();
  auto info = conformance::push(store, {});
  BERTH_BLOB_OK(info);
  EXPECT_EQ(info->digest, crypto::sha256(""));
  EXPECT_EQ(info->size, 0u);
  auto reader = store.open(info->digest);
  BERTH_BLOB_OK(reader);
  EXPECT_EQ((*reader)->size(), 0u);
  std::vector<char> buffer(16);
  auto n = (*reader)->read(0, buffer);
  BERTH_BLOB_OK(n);
  EXPECT_EQ(*n, 0u);
}

TYPED_TEST_P(BlobStoreConformance, Sha512Blob) {
  auto& store = this->store();
  const std::string bytes = conformance::pattern_bytes(1000, 512);
  auto id = conformance::stage(store, bytes);
  BERTH_BLOB_OK(id);
  const Digest digest = crypto::digest_of(DigestAlgorithm::kSha512, bytes);
  BERTH_BLOB_OK(store.commit_upload(*id, digest, bytes.size()));
  EXPECT_EQ(store.stat(digest).value_or(BlobInfo{digest, 0}).size, bytes.size());
  EXPECT_EQ(conformance::read_blob(store, digest).value_or("?"), bytes);
  // The same bytes under sha256 are a different blob.
  EXPECT_EQ(conformance::code_of(store.stat(crypto::sha256(bytes))), ErrorCode::kBlobUnknown);
}

TYPED_TEST_P(BlobStoreConformance, AppendAtSmallerOffsetDiscardsTheRest) {
  auto& store = this->store();
  auto id = conformance::stage(store, "abcdef");
  BERTH_BLOB_OK(id);
  {
    auto writer = store.append_upload(*id, 3);
    BERTH_BLOB_OK(writer);
    EXPECT_EQ((*writer)->size(), 3u);
    // Discarded before any write: a reader sees only the first 3 bytes now.
    EXPECT_EQ(conformance::read_upload(store, *id).value_or("?"), "abc");
    BERTH_BLOB_OK((*writer)->write("XY"));
    BERTH_BLOB_OK((*writer)->flush());
    EXPECT_EQ((*writer)->size(), 5u);
  }
  EXPECT_EQ(conformance::read_upload(store, *id).value_or("?"), "abcXY");
  {
    auto writer = store.append_upload(*id, 0);  // start over
    BERTH_BLOB_OK(writer);
    BERTH_BLOB_OK((*writer)->flush());
  }
  EXPECT_EQ(conformance::read_upload(store, *id).value_or("?"), "");
  BERTH_BLOB_OK(store.delete_upload(*id));
}

TYPED_TEST_P(BlobStoreConformance, AppendPastTheStagedBytesIsRangeInvalid) {
  auto& store = this->store();
  auto id = conformance::stage(store, "abc");
  BERTH_BLOB_OK(id);
  auto writer = store.append_upload(*id, 4);
  ASSERT_FALSE(writer);
  EXPECT_EQ(conformance::code_of(writer), ErrorCode::kRangeInvalid);
  EXPECT_EQ(conformance::read_upload(store, *id).value_or("?"), "abc");  // untouched
  BERTH_BLOB_OK(store.append_upload(*id, 3));                            // the end is fine
  EXPECT_EQ(conformance::read_upload(store, *id).value_or("?"), "abc");
  BERTH_BLOB_OK(store.delete_upload(*id));
}

TYPED_TEST_P(BlobStoreConformance, UnknownUpload) {
  auto& store = this->store();
  const Digest digest = crypto::sha256("x");
  for (const std::string& id :
       {new_uuid(), std::string("../x"), std::string(""), std::string("00000000-0000-0000-0000-00000000000G"),
        std::string("../../blobs/sha256/aa"), std::string("/etc/passwd")}) {
    SCOPED_TRACE(id);
    auto writer = store.append_upload(id, 0);
    ASSERT_FALSE(writer);
    EXPECT_EQ(conformance::code_of(writer), ErrorCode::kBlobUploadUnknown);
    auto reader = store.open_upload(id);
    ASSERT_FALSE(reader);
    EXPECT_EQ(conformance::code_of(reader), ErrorCode::kBlobUploadUnknown);
    auto committed = store.commit_upload(id, digest, 0);
    ASSERT_FALSE(committed);
    EXPECT_EQ(conformance::code_of(committed), ErrorCode::kBlobUploadUnknown);
  }
  for (const std::string& bad :
       {std::string("../x"), std::string(""), std::string("ABCDEF00-0000-4000-8000-000000000000")}) {
    SCOPED_TRACE(bad);
    auto created = store.create_upload(bad);
    ASSERT_FALSE(created);
    EXPECT_EQ(conformance::code_of(created), ErrorCode::kInvalidParameter);
    auto deleted = store.delete_upload(bad);
    ASSERT_FALSE(deleted);
    EXPECT_EQ(conformance::code_of(deleted), ErrorCode::kBlobUploadUnknown);
  }
  EXPECT_EQ(conformance::code_of(store.stat(digest)), ErrorCode::kBlobUnknown);
}

TYPED_TEST_P(BlobStoreConformance, CreateUploadTwiceKeepsTheStagedBytes) {
  auto& store = this->store();
  auto id = conformance::stage(store, "kept");
  BERTH_BLOB_OK(id);
  BERTH_BLOB_OK(store.create_upload(*id));
  EXPECT_EQ(conformance::read_upload(store, *id).value_or("?"), "kept");
  BERTH_BLOB_OK(store.delete_upload(*id));
}

TYPED_TEST_P(BlobStoreConformance, CommitsOnlyTheFirstSizeBytes) {
  auto& store = this->store();
  auto id = conformance::stage(store, "0123456789");
  BERTH_BLOB_OK(id);
  const Digest digest = crypto::sha256("01234");
  auto committed = store.commit_upload(*id, digest, 5);
  BERTH_BLOB_OK(committed);
  EXPECT_EQ(committed->size, 5u);
  EXPECT_EQ(store.stat(digest).value_or(BlobInfo{digest, 0}).size, 5u);
  EXPECT_EQ(conformance::read_blob(store, digest).value_or("?"), "01234");
}

TYPED_TEST_P(BlobStoreConformance, CommitMoreThanStagedIsSizeInvalid) {
  auto& store = this->store();
  auto id = conformance::stage(store, "abc");
  BERTH_BLOB_OK(id);
  const Digest digest = crypto::sha256("abcd");
  auto committed = store.commit_upload(*id, digest, 4);
  ASSERT_FALSE(committed);
  EXPECT_EQ(conformance::code_of(committed), ErrorCode::kSizeInvalid);
  EXPECT_EQ(conformance::code_of(store.stat(digest)), ErrorCode::kBlobUnknown);
  EXPECT_EQ(conformance::read_upload(store, *id).value_or("?"), "abc");  // kept
  BERTH_BLOB_OK(store.delete_upload(*id));
}

TYPED_TEST_P(BlobStoreConformance, CommitWhenTheBlobExistsKeepsTheExistingBlob) {
  auto& store = this->store();
  const std::string bytes = conformance::pattern_bytes(4096, 1);
  auto first = conformance::stage(store, bytes);
  BERTH_BLOB_OK(first);
  const Digest digest = crypto::sha256(bytes);
  BERTH_BLOB_OK(store.commit_upload(*first, digest, bytes.size()));

  // Other bytes staged under the same digest (which the registry never lets happen) make
  // it visible which copy survived.
  const std::string other = conformance::pattern_bytes(4096, 2);
  auto second = conformance::stage(store, other);
  BERTH_BLOB_OK(second);
  auto committed = store.commit_upload(*second, digest, other.size());
  BERTH_BLOB_OK(committed);
  EXPECT_EQ(committed->digest, digest);
  EXPECT_EQ(committed->size, bytes.size());
  EXPECT_EQ(conformance::read_blob(store, digest).value_or("?"), bytes);

  auto uploads = store.list_uploads();
  BERTH_BLOB_OK(uploads);
  EXPECT_FALSE(conformance::contains(*uploads, *second));
  EXPECT_EQ(conformance::code_of(store.open_upload(*second)), ErrorCode::kBlobUploadUnknown);
}

TYPED_TEST_P(BlobStoreConformance, ConcurrentCommitsOfTheSameDigest) {
  auto& store = this->store();
  constexpr int kRounds = 8;
  constexpr int kThreads = 2;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(round);
    const std::string bytes = conformance::pattern_bytes(256 * 1024 + static_cast<size_t>(round), 100 + round);
    const Digest digest = crypto::sha256(bytes);
    std::vector<std::string> ids;
    for (int t = 0; t < kThreads; ++t) {
      auto id = conformance::stage(store, bytes);
      BERTH_BLOB_OK(id);
      ids.push_back(*id);
    }
    std::atomic<int> ready{0};
    std::vector<Result<BlobInfo>> results(kThreads, fail(ErrorCode::kInternal, "not run"));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < kThreads) std::this_thread::yield();  // start together
        results[static_cast<size_t>(t)] = store.commit_upload(ids[static_cast<size_t>(t)], digest, bytes.size());
      });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& result : results) {
      ASSERT_TRUE(result) << result.error().message;
      EXPECT_EQ(result->digest, digest);
      EXPECT_EQ(result->size, bytes.size());
    }
    EXPECT_EQ(store.stat(digest).value_or(BlobInfo{digest, 0}).size, bytes.size());
    EXPECT_EQ(conformance::read_blob(store, digest).value_or("?"), bytes);
    auto uploads = store.list_uploads();
    BERTH_BLOB_OK(uploads);
    for (const auto& id : ids) EXPECT_FALSE(conformance::contains(*uploads, id));
  }
}

TYPED_TEST_P(BlobStoreConformance, DeleteUploadIsIdempotent) {
  auto& store = this->store();
  auto id = conformance::stage(store, "doomed");
  BERTH_BLOB_OK(id);
  BERTH_BLOB_OK(store.delete_upload(*id));
  auto uploads = store.list_uploads();
  BERTH_BLOB_OK(uploads);
  EXPECT_FALSE(conformance::contains(*uploads, *id));
  EXPECT_EQ(conformance::code_of(store.append_upload(*id, 0)), ErrorCode::kBlobUploadUnknown);
  EXPECT_EQ(conformance::code_of(store.open_upload(*id)), ErrorCode::kBlobUploadUnknown);
  BERTH_BLOB_OK(store.delete_upload(*id));
  BERTH_BLOB_OK(store.delete_upload(new_uuid()));  // never created
  // An empty upload (created, nothing written) deletes too.
  const std::string empty = new_uuid();
  BERTH_BLOB_OK(store.create_upload(empty));
  BERTH_BLOB_OK(store.delete_upload(empty));
  EXPECT_EQ(conformance::code_of(store.open_upload(empty)), ErrorCode::kBlobUploadUnknown);
}

TYPED_TEST_P(BlobStoreConformance, ListUploads) {
  auto& store = this->store();
  auto none = store.list_uploads();
  BERTH_BLOB_OK(none);
  EXPECT_TRUE(none->empty());

  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(new_uuid());
    BERTH_BLOB_OK(store.create_upload(ids.back()));
  }
  auto listed = store.list_uploads();
  BERTH_BLOB_OK(listed);
  auto sorted_listed = *listed;
  auto sorted_ids = ids;
  std::sort(sorted_listed.begin(), sorted_listed.end());
  std::sort(sorted_ids.begin(), sorted_ids.end());
  EXPECT_EQ(sorted_listed, sorted_ids);

  BERTH_BLOB_OK(store.commit_upload(ids[0], crypto::sha256(""), 0));
  BERTH_BLOB_OK(store.delete_upload(ids[1]));
  listed = store.list_uploads();
  BERTH_BLOB_OK(listed);
  EXPECT_EQ(*listed, std::vector<std::string>{ids[2]});
  // Blobs are not uploads.
  EXPECT_TRUE(store.stat(crypto::sha256("")));
}

TYPED_TEST_P(BlobStoreConformance, OpenUploadReadsTheStagedBytes) {
  auto& store = this->store();
  const std::string id = new_uuid();
  BERTH_BLOB_OK(store.create_upload(id));
  {
    auto reader = store.open_upload(id);
    BERTH_BLOB_OK(reader);
    EXPECT_EQ((*reader)->size(), 0u);
    std::vector<char> buffer(8);
    auto n = (*reader)->read(0, buffer);
    BERTH_BLOB_OK(n);
    EXPECT_EQ(*n, 0u);
  }
  const std::string bytes = conformance::pattern_bytes(100000, 7);
  {
    auto writer = store.append_upload(id, 0);
    BERTH_BLOB_OK(writer);
    BERTH_BLOB_OK((*writer)->write(bytes));
    BERTH_BLOB_OK((*writer)->flush());
  }
  auto reader = store.open_upload(id);
  BERTH_BLOB_OK(reader);
  EXPECT_EQ((*reader)->size(), bytes.size());
  auto read = conformance::read_all(**reader, 4096);
  BERTH_BLOB_OK(read);
  EXPECT_EQ(*read, bytes);
  std::vector<char> buffer(10);
  auto n = (*reader)->read(99995, buffer);
  BERTH_BLOB_OK(n);
  EXPECT_EQ(std::string(buffer.data(), *n), bytes.substr(99995));
  // Reading does not consume: the upload is still there to commit.
  BERTH_BLOB_OK(store.commit_upload(id, crypto::sha256(bytes), bytes.size()));
  EXPECT_EQ(conformance::read_blob(store, crypto::sha256(bytes)).value_or("?"), bytes);
}

TYPED_TEST_P(BlobStoreConformance, MultiMegabyteBlobInOneMebibytePieces) {
  auto& store = this->store();
  constexpr size_t kPiece = 1024 * 1024;
  const std::string bytes = conformance::pattern_bytes(5 * kPiece + 12345, 42);
  std::vector<std::string> pieces;
  for (size_t at = 0; at < bytes.size(); at += kPiece) pieces.push_back(bytes.substr(at, kPiece));
  ASSERT_EQ(pieces.size(), 6u);
  auto info = conformance::push(store, pieces);
  BERTH_BLOB_OK(info);
  EXPECT_EQ(info->digest, crypto::sha256(bytes));
  EXPECT_EQ(info->size, bytes.size());
  auto reader = store.open(info->digest);
  BERTH_BLOB_OK(reader);
  EXPECT_EQ((*reader)->size(), bytes.size());
  auto read = conformance::read_all(**reader, kPiece);
  BERTH_BLOB_OK(read);
  ASSERT_EQ(read->size(), bytes.size());
  EXPECT_TRUE(*read == bytes);  // not EXPECT_EQ: a 5 MiB diff helps no one
  EXPECT_EQ(crypto::sha256(*read), info->digest);
}

TYPED_TEST_P(BlobStoreConformance, ReopeningKeepsBlobsAndUploads) {
  auto info = conformance::push(this->store(), {"persisted"});
  BERTH_BLOB_OK(info);
  auto staged = conformance::stage(this->store(), "staged");
  BERTH_BLOB_OK(staged);
  this->store_.reset();
  auto reopened = this->factory_.make();
  BERTH_BLOB_OK(reopened);
  BlobStore& store = **reopened;
  EXPECT_EQ(conformance::read_blob(store, info->digest).value_or("?"), "persisted");
  EXPECT_EQ(conformance::read_upload(store, *staged).value_or("?"), "staged");
  auto uploads = store.list_uploads();
  BERTH_BLOB_OK(uploads);
  EXPECT_EQ(*uploads, std::vector<std::string>{*staged});
}

TYPED_TEST_P(BlobStoreConformance, ListBlobsInDigestOrderWithPagination) {
  auto& store = this->store();
  auto none = store.list_blobs("", 10);
  BERTH_BLOB_OK(none);
  EXPECT_TRUE(none->empty());
  std::vector<std::string> expected;
  for (int i = 0; i < 5; ++i) {
    const std::string content = "blob " + std::to_string(i);
    const Digest d = i == 4 ? crypto::digest_of(DigestAlgorithm::kSha512, content) : crypto::sha256(content);
    auto id = conformance::stage(store, content);
    BERTH_BLOB_OK(id);
    BERTH_BLOB_OK(store.commit_upload(*id, d, content.size()));
    expected.push_back(d.str());
  }
  BERTH_BLOB_OK(store.create_upload(new_uuid()));  // staged uploads are not blobs
  std::sort(expected.begin(), expected.end());
  auto all = store.list_blobs("", 100);
  BERTH_BLOB_OK(all);
  std::vector<std::string> listed;
  for (const auto& info : *all) {
    listed.push_back(info.digest.str());
    EXPECT_EQ(info.size, 6u);
  }
  EXPECT_EQ(listed, expected);
  // Page by page, two at a time.
  std::vector<std::string> paged;
  std::string after;
  while (true) {
    auto page = store.list_blobs(after, 2);
    BERTH_BLOB_OK(page);
    if (page->empty()) break;
    EXPECT_LE(page->size(), 2u);
    for (const auto& info : *page) paged.push_back(info.digest.str());
    after = paged.back();
  }
  EXPECT_EQ(paged, expected);
  BERTH_BLOB_OK(store.remove(Digest::parse(expected[0]).value()));
  auto fewer = store.list_blobs("", 100);
  BERTH_BLOB_OK(fewer);
  EXPECT_EQ(fewer->size(), 4u);
}

REGISTER_TYPED_TEST_SUITE_P(BlobStoreConformance, AbsentBlobIsUnknownAndRemoveIsIdempotent,
                            UploadInPiecesCommitThenRead, EmptyBlob, Sha512Blob, AppendAtSmallerOffsetDiscardsTheRest,
                            AppendPastTheStagedBytesIsRangeInvalid, UnknownUpload, CreateUploadTwiceKeepsTheStagedBytes,
                            CommitsOnlyTheFirstSizeBytes, CommitMoreThanStagedIsSizeInvalid,
                            CommitWhenTheBlobExistsKeepsTheExistingBlob, ConcurrentCommitsOfTheSameDigest,
                            DeleteUploadIsIdempotent, ListUploads, OpenUploadReadsTheStagedBytes,
                            MultiMegabyteBlobInOneMebibytePieces, ReopeningKeepsBlobsAndUploads,
                            ListBlobsInDigestOrderWithPagination);

#undef BERTH_BLOB_OK

}  // namespace berth::store
