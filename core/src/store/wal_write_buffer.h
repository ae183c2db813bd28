#pragma once
// A SQLite VFS for the store's writer connection that gathers the frames of
// one commit into a few large writes to the write-ahead log.
//
// Why: SQLite appends a WAL frame as two write(2) calls, the 24-byte frame
// header and then the page (walWriteOneFrame in SQLite's wal.c), so a
// group commit of 64 records wrote about 700 times; the store writer spent
// about a third of its CPU in the kernel doing it (perf on bench/store).
//
// What it does: the VFS wraps SQLite's default ("unix") VFS and passes every
// call through, except that writes to a -wal file which continue the
// previous one are gathered in a buffer (64 KiB) instead of being written at
// once. The buffer goes to the file, in order, before anything could need
// it there:
//  - when a write does not continue it, or it is full;
//  - when the page of a commit frame (a frame header whose "database size
//    after commit" field is not zero, https://sqlite.org/fileformat2.html
//    section 4.1) has been added. SQLite only publishes a commit to other
//    connections (the wal-index header) after its last frame is written, so
//    every other connection, and WalSync's fdatasync after the commit, find
//    the frames in the file;
//  - when the connection releases the WAL write lock (a transaction that
//    rolled back may have spilled frames into the buffer; once the lock is
//    free another connection or process may append its own commit there,
//    which those frames must not overwrite later);
//  - before the file is read, synced, truncated, sized, locked, closed or
//    controlled through this connection.
// Frames still in the buffer belong to a transaction that has not committed:
// if the process dies they are lost exactly as SQLite would lose them.
//
// The gathering relies on how SQLite writes frames, so it is switched on
// only for the SQLite versions it was checked against (3.31 to 3.46); with
// any other version the VFS passes writes straight through.
// tests/store/wal_write_buffer_test.cpp checks that frames are gathered, that
// a commit frame reaches the file as soon as its page is written, and that
// frames left by a rollback never land on another writer's commit.

namespace cb::store {

/// Registers the VFS once (thread-safe) and returns its name for
/// sqlite3_open_v2, or nullptr if SQLite refused to register it (then the
/// caller opens with the default VFS).
const char* walWriteBufferVfs();

}  // namespace cb::store
