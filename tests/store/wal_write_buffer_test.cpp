// The store's writer gathers WAL frames into large writes
// (store/wal_write_buffer.h). What must hold: a commit is in the -wal file
// as soon as its commit frame is written, before SQLite lets other
// connections see it, so that they read it, WalSync's fdatasync covers it
// and a killed process loses none of it; writes that do not continue the
// buffer (a page spilled twice in one transaction, a rollback, a restarted
// log) land where SQLite put them; frames a rollback leaves behind never
// overwrite what another writer commits after it.

#include "store/sqlite.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>

namespace {

using cb::store::Connection;

std::unique_ptr<Connection> open(const std::filesystem::path& db, bool buffered) {
  Connection::Options options;
  options.synchronous_full = false;  // as the store's writer
  options.buffer_wal_writes = buffered;
  auto c = Connection::open(db, options);
  EXPECT_TRUE(c) << c.error().message;
  return c ? std::move(*c) : nullptr;
}

struct Totals {
  std::int64_t rows = 0;
  std::int64_t bytes = 0;
};

Totals totals(Connection& c) {
  auto st = c.prepare("SELECT count(*), coalesce(sum(length(data)), 0) FROM t");
  EXPECT_TRUE(st);
  auto row = (*st)->step();
  EXPECT_TRUE(row && *row);
  Totals t{(*st)->columnInt(0), (*st)->columnInt(1)};
  (*st)->reset();
  return t;
}

void insert(Connection& c, std::int64_t size) {
  auto st = c.prepare("INSERT INTO t(data) VALUES (zeroblob(?))");
  ASSERT_TRUE(st);
  (*st)->bind(1, size);
  auto s = (*st)->run();
  ASSERT_TRUE(s) << s.error().message;
}

std::string integrity(Connection& c) {
  auto st = c.prepare("PRAGMA integrity_check");
  EXPECT_TRUE(st);
  auto row = (*st)->step();
  EXPECT_TRUE(row && *row);
  std::string r = (*st)->columnText(0);
  (*st)->reset();
  return r;
}

/// One transaction of `rows` rows of `size` bytes each.
void commitRows(Connection& c, int rows, std::int64_t size) {
  ASSERT_TRUE(c.exec("BEGIN IMMEDIATE"));
  for (int i = 0; i < rows; ++i) insert(c, size);
  ASSERT_TRUE(c.exec("COMMIT"));
}

/// A store file with table t, a buffered writer and a plain second
/// connection (the store's readers, the checkpointer, the CLI).
class WalWriteBufferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    writer_ = open(db_, true);
    ASSERT_TRUE(writer_);
    ASSERT_TRUE(writer_->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, data BLOB)"));
    other_ = open(db_, false);
    ASSERT_TRUE(other_);
  }

  cb::test::TempDir dir_;
  const std::filesystem::path db_ = dir_ / "store.db";
  std::unique_ptr<Connection> writer_;
  std::unique_ptr<Connection> other_;
};

TEST_F(WalWriteBufferTest, EveryCommitIsReadableByAnotherConnectionWhenItReturns) {
  std::mt19937 random(20261129);
  Totals expected;
  for (int commit = 0; commit < 300; ++commit) {
    // From one small row to transactions of several hundred KiB, so that
    // commits end anywhere in the buffer and span many of them.
    const int rows = 1 + static_cast<int>(random() % (commit % 10 == 0 ? 200 : 8));
    ASSERT_TRUE(writer_->exec("BEGIN IMMEDIATE"));
    for (int i = 0; i < rows; ++i) {
      const std::int64_t size = 1 + static_cast<std::int64_t>(random() % 6000);
      insert(*writer_, size);
      expected.rows += 1;
      expected.bytes += size;
    }
    ASSERT_TRUE(writer_->exec("COMMIT"));
    const Totals seen = totals(*other_);
    ASSERT_EQ(seen.rows, expected.rows) << "commit " << commit;
    ASSERT_EQ(seen.bytes, expected.bytes) << "commit " << commit;
  }
  EXPECT_EQ(integrity(*other_), "ok");
}

TEST_F(WalWriteBufferTest, SpilledAndRolledBackTransactionsLeaveOnlyCommittedRows) {
  // A page cache of 20 pages: a large transaction spills pages into the WAL
  // before its commit, rewrites some in place and reads them back.
  ASSERT_TRUE(writer_->exec("PRAGMA cache_size=20"));

  ASSERT_TRUE(writer_->exec("BEGIN IMMEDIATE"));
  for (int i = 0; i < 2000; ++i) insert(*writer_, 3000 + i % 700);
  ASSERT_TRUE(writer_->exec("UPDATE t SET data = zeroblob(100) WHERE id % 3 = 0"));
  ASSERT_TRUE(writer_->exec("COMMIT"));
  const Totals after_spill = totals(*other_);
  EXPECT_EQ(after_spill.rows, 2000);

  ASSERT_TRUE(writer_->exec("BEGIN IMMEDIATE"));
  for (int i = 0; i < 1500; ++i) insert(*writer_, 4000);
  ASSERT_TRUE(writer_->exec("ROLLBACK"));
  EXPECT_EQ(totals(*other_).rows, 2000);

  commitRows(*writer_, 1, 10);
  const Totals last = totals(*other_);
  EXPECT_EQ(last.rows, 2001);
  EXPECT_EQ(last.bytes, after_spill.bytes + 10);
  EXPECT_EQ(integrity(*other_), "ok");
  EXPECT_EQ(integrity(*writer_), "ok");
}

/// The -wal file object of `c`'s open write transaction, and where its log
/// ends: the test writes frames through it as SQLite would.
sqlite3_file* walFile(Connection& c, sqlite3_int64& end) {
  sqlite3_file* wal = nullptr;
  EXPECT_EQ(sqlite3_file_control(c.native(), "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal), SQLITE_OK);
  EXPECT_NE(wal, nullptr);
  if (wal != nullptr) {
    EXPECT_EQ(wal->pMethods->xFileSize(wal, &end), SQLITE_OK);
  }
  return wal;
}

// Frames are gathered, and a commit frame goes to the file as soon as its
// page is written: SQLite publishes the commit to other connections (the
// wal-index header) right after, while it still holds the write lock, so
// the store's readers and checkpointer on other threads may read it at once.
TEST_F(WalWriteBufferTest, ACommitFrameIsInTheFileAsSoonAsItsPageIsWritten) {
  const auto wal_path = std::filesystem::path(db_.string() + "-wal");
  ASSERT_TRUE(writer_->exec("BEGIN IMMEDIATE"));
  sqlite3_int64 end = 0;
  sqlite3_file* wal = walFile(*writer_, end);
  ASSERT_NE(wal, nullptr);
  const std::string page(4096, '\x5a');
  std::string header(24, '\0');
  ASSERT_EQ(wal->pMethods->xWrite(wal, header.data(), 24, end), SQLITE_OK);
  ASSERT_EQ(wal->pMethods->xWrite(wal, page.data(), 4096, end + 24), SQLITE_OK);
  EXPECT_EQ(std::filesystem::file_size(wal_path), static_cast<std::uintmax_t>(end)) << "a frame was not gathered";

  header[7] = 1;  // "database size after commit": a commit frame
  ASSERT_EQ(wal->pMethods->xWrite(wal, header.data(), 24, end + 4120), SQLITE_OK);
  EXPECT_EQ(std::filesystem::file_size(wal_path), static_cast<std::uintmax_t>(end));
  ASSERT_EQ(wal->pMethods->xWrite(wal, page.data(), 4096, end + 4144), SQLITE_OK);
  EXPECT_EQ(std::filesystem::file_size(wal_path), static_cast<std::uintmax_t>(end + 2 * 4120))
      << "the commit frame is not in the file";
  ASSERT_TRUE(writer_->exec("ROLLBACK"));

  commitRows(*writer_, 3, 1000);
  EXPECT_EQ(totals(*other_).rows, 3);
  EXPECT_EQ(integrity(*other_), "ok");
}

// A transaction that rolls back may leave frames it spilled in the buffer.
// Once it releases the WAL write lock, another connection (the CLI, say)
// may append its own commit where they would have gone; they must reach
// the file before that, never after it, over the other commit. Whether
// SQLite's rollback happens to read the log first (which also empties the
// buffer) depends on its page cache, so the frames are put in the buffer
// here through the WAL file object itself.
TEST_F(WalWriteBufferTest, FramesLeftByARollbackNeverOverwriteAnotherWritersCommit) {
  insert(*writer_, 100);

  ASSERT_TRUE(writer_->exec("BEGIN IMMEDIATE"));
  sqlite3_int64 end = 0;
  sqlite3_file* wal = walFile(*writer_, end);
  ASSERT_NE(wal, nullptr);
  // A spilled frame: a header that is not a commit's, then a page.
  const std::string header(24, '\0');
  const std::string page(4096, '\x5a');
  ASSERT_EQ(wal->pMethods->xWrite(wal, header.data(), 24, end), SQLITE_OK);
  ASSERT_EQ(wal->pMethods->xWrite(wal, page.data(), 4096, end + 24), SQLITE_OK);
  ASSERT_TRUE(writer_->exec("ROLLBACK"));

  commitRows(*other_, 10, 777);
  commitRows(*writer_, 1, 5);

  auto fresh = open(db_, false);
  ASSERT_TRUE(fresh);
  const Totals seen = totals(*fresh);
  EXPECT_EQ(seen.rows, 12);
  EXPECT_EQ(seen.bytes, 100 + 10 * 777 + 5);
  EXPECT_EQ(integrity(*fresh), "ok");
}

TEST_F(WalWriteBufferTest, CheckpointedAndRestartedLogKeepsEveryCommit) {
  std::int64_t rows = 0;
  for (int round = 0; round < 5; ++round) {
    for (int commit = 0; commit < 20; ++commit) {
      commitRows(*writer_, 10, 4096);
      rows += 10;
      ASSERT_EQ(totals(*other_).rows, rows);
    }
    // From another connection, as the store's checkpointer does; the next
    // commit then writes the log from its start again.
    ASSERT_TRUE(other_->exec("PRAGMA wal_checkpoint(RESTART)"));
  }
  EXPECT_EQ(integrity(*other_), "ok");
}

// A writer killed with SIGKILL right after commits returned: each of them is
// in the file (the page cache survives the process), none half-written.
TEST_F(WalWriteBufferTest, KilledWriterLosesNoCommitThatReturned) {
  // The child process opens its own writer; this process's connections are
  // closed so that the child is the only one writing.
  writer_.reset();
  other_.reset();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    Connection::Options options;
    options.synchronous_full = false;
    options.buffer_wal_writes = true;
    auto writer = Connection::open(db_, options);
    if (!writer) ::_exit(2);
    for (std::int32_t n = 1;; ++n) {
      if (!(*writer)->exec("BEGIN IMMEDIATE")) ::_exit(3);
      for (int i = 0; i < 3; ++i) {
        if (!(*writer)->exec("INSERT INTO t(data) VALUES (zeroblob(5000))")) ::_exit(4);
      }
      if (!(*writer)->exec("COMMIT")) ::_exit(5);
      // Only now is commit n reported, as the store reports its commits.
      if (::write(fds[1], &n, sizeof n) != static_cast<ssize_t>(sizeof n)) ::_exit(6);
    }
  }
  ::close(fds[1]);
  std::int32_t reported = 0;
  std::int32_t n = 0;
  while (reported < 200 && ::read(fds[0], &n, sizeof n) == static_cast<ssize_t>(sizeof n)) reported = n;
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer stopped by itself with status " << WEXITSTATUS(status);
  ASSERT_EQ(reported, 200);

  other_ = open(db_, false);
  ASSERT_TRUE(other_);
  const Totals seen = totals(*other_);
  EXPECT_GE(seen.rows, 3 * reported);
  EXPECT_EQ(seen.rows % 3, 0) << "a transaction was half there";
  EXPECT_EQ(seen.bytes, seen.rows * 5000);
  EXPECT_EQ(integrity(*other_), "ok");
}

}  // namespace
