#pragma once
// Makes a SQLite write-ahead log durable from outside SQLite, so that the
// store's writer can commit without waiting for the disk while the store's
// completion thread waits for it before anything is reported.
//
// Why this is as safe as PRAGMA synchronous=FULL: in WAL mode a commit only
// appends frames to the -wal file (https://sqlite.org/wal.html); FULL
// fsyncs that file at every commit, NORMAL leaves it to the next checkpoint
// (https://sqlite.org/pragma.html#pragma_synchronous). One fdatasync(2) of
// the file after commits 1..n makes all n durable, as FULL would have by
// the end of commit n. What NORMAL alone gives up is only what happens
// between a commit and that fdatasync, so nothing may act on a commit
// before it: Store reports commits only after it, and a read whose rows
// may be acted on (sent to a partner or a SIEM, published, shown) syncs
// after reading, so whatever the read saw is on disk before it is used.
//
// A failed fdatasync is final. The kernel may have dropped the pages it
// could not write, and a later fdatasync can then succeed without them
// (PostgreSQL's "fsyncgate", 2018; fsync(2), "ERRORS"); so every later
// sync fails too, and the store refuses all writes and durable reads until
// the process restarts and SQLite recovers from what reached the disk.

#include "common/result.h"

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace cb::store {

class WalSync {
 public:
  /// The call that makes a file's data durable: ::fdatasync, or a test's
  /// stand-in for a failing disk.
  using SyncCall = std::function<int(int fd)>;

  /// Opens `wal` (which must exist: SQLite creates it when a connection
  /// first reads a WAL-mode database) and syncs it and its folder once,
  /// which makes whatever an earlier process committed without a sync
  /// durable before this process reads it.
  static Result<std::unique_ptr<WalSync>> open(std::filesystem::path wal, SyncCall sync_call);
  ~WalSync();
  WalSync(const WalSync&) = delete;
  WalSync& operator=(const WalSync&) = delete;

  /// Makes every frame written to the WAL before this call durable.
  /// Thread-safe. Fails for good after the first failure (see above).
  Status sync();
  /// True once a sync has failed.
  bool failed() const { return failed_.load(std::memory_order_acquire); }

 private:
  WalSync(std::filesystem::path wal, SyncCall sync_call) : wal_(std::move(wal)), sync_call_(std::move(sync_call)) {}
  // (Re)opens the WAL and syncs its folder, so that the file's name is
  // durable too (fsync(2): syncing a file does not sync its directory entry).
  Status openFileLocked();
  Status failForGoodLocked(const std::string& what, int err);

  const std::filesystem::path wal_;
  const SyncCall sync_call_;
  std::mutex mutex_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::string failure_;  // set once, guarded by mutex_
  std::atomic<bool> failed_{false};
};

}  // namespace cb::store
