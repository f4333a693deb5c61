// Watches a WAL-mode SQLite database for commits without a read transaction.
//
// Every commit (by any connection of any process) rewrites the WAL-index header at the
// start of the `-shm` file, which every connection maps shared: the header holds a
// change counter, the last valid WAL frame, the WAL's salts and checksums. Its layout is
// part of SQLite's file format (https://www.sqlite.org/walformat.html, "the WAL-index
// header"), fixed since 3.7.0 because processes linked against different SQLite versions
// share it. A writer stores the header twice (second copy, barrier, first copy) and a
// reader that sees two equal copies has a consistent one; that is how SQLite's own
// readers notice commits, and what this does with a read-only mapping of the same file.
//
// Reading it costs two 48-byte copies; a read transaction costs SQLite's per-file shm
// mutex (shared by every connection of the process) and two fcntl locks, on every
// request. The header changes on every commit and on a WAL restart after a checkpoint
// (a spurious change, which only costs a cache refill), never on a read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace berth::store::sqlite_detail {

class WalIndexWatch {
 public:
  // nullopt when `shm_path` is missing, too short, or its header is not a wal-index header
  // of the version this knows (then callers keep asking SQLite).
  static std::unique_ptr<WalIndexWatch> open(const std::string& shm_path);
  ~WalIndexWatch();
  WalIndexWatch(const WalIndexWatch&) = delete;
  WalIndexWatch& operator=(const WalIndexWatch&) = delete;

  // A fingerprint of the current header: equal answers mean no commit in between (bar a
  // 64-bit hash collision), different ones that something may have changed. nullopt while
  // a writer is halfway through storing the header, or when it is not initialized.
  std::optional<uint64_t> fingerprint() const;

 private:
  explicit WalIndexWatch(const void* map) : map_(map) {}
  const void* map_;
};

}  // namespace berth::store::sqlite_detail
