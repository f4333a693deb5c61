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
//
// The header is read through the connection's own mapping (the VFS's xShmMap), never a
// descriptor of our own: closing any descriptor of the -shm file would drop every POSIX
// lock this process holds on it, SQLite's included, and let another process reinitialize
// the file under our connections.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

struct sqlite3;

namespace berth::store::sqlite_detail {

class WalIndexWatch {
 public:
  // Null when `db`'s main database is not in WAL mode, its VFS maps no shared memory, or
  // the header is not a wal-index header of the version this knows (then callers keep
  // asking SQLite). `db` must stay open as long as the watch is used.
  static std::unique_ptr<WalIndexWatch> open(sqlite3* db);

  // A fingerprint of the current header: equal answers mean no commit in between (bar a
  // 64-bit hash collision), different ones that something may have changed. nullopt while
  // a writer is halfway through storing the header, or when it is not initialized.
  std::optional<uint64_t> fingerprint() const;

 private:
  explicit WalIndexWatch(const volatile void* map) : map_(map) {}
  const volatile void* map_;
};

}  // namespace berth::store::sqlite_detail
