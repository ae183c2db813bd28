#include "store/wal_write_buffer.h"

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace cb::store {
namespace {

constexpr const char* kVfsName = "carebridge-wal-buffer";
// The default unix VFS writes at most 128 KiB - 1 per write(2) call and
// masks larger amounts with 0x1ffff (seekAndWrite in SQLite's os_unix.c),
// so a write of exactly 128 KiB would write nothing and fail as
// SQLITE_FULL. 64 KiB is 15 frames of 4 KiB pages: a thirtieth of the calls.
constexpr int kBufferSize = 64 * 1024;
// https://sqlite.org/fileformat2.html section 4.1: a frame header is 24
// bytes; bytes 4-7 hold, for a commit frame, the database size in pages
// after the commit and zero in every other frame.
constexpr int kFrameHeaderSize = 24;

/// One open file: SQLite allocates szOsFile bytes for it, this struct first
/// and the wrapped VFS's own file object right behind it.
struct BufferedFile {
  sqlite3_file base;      // must come first: SQLite sees a sqlite3_file*
  sqlite3_file* real;     // the default VFS's file object, behind this struct
  char* buffer;           // WAL files only; nullptr: writes pass through
  sqlite3_int64 offset;   // file offset of buffer[0]
  int length;             // bytes gathered
  bool commit_follows;    // the last write was a commit frame's header
  // Links between a database file and its -wal file (same connection), so
  // that releasing the WAL write lock, which is taken on the database
  // file's shared memory, can empty the WAL file's buffer.
  BufferedFile* wal;      // on the database file: its buffered -wal file
  BufferedFile* main;     // on a buffered -wal file: its database file
};

sqlite3_vfs* realVfs(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }
BufferedFile* asBuffered(sqlite3_file* f) { return reinterpret_cast<BufferedFile*>(f); }
const sqlite3_io_methods* realMethods(BufferedFile* f) { return f->real->pMethods; }

int flush(BufferedFile* f) {
  if (f->length == 0) return SQLITE_OK;
  const int length = f->length;
  f->length = 0;
  f->commit_follows = false;
  // The default VFS's xWrite writes all of it or fails (SQLITE_IOERR_WRITE,
  // SQLITE_FULL); either way SQLite rolls the transaction back.
  return realMethods(f)->xWrite(f->real, f->buffer, length, f->offset);
}

bool isCommitFrameHeader(const void* data, int amount) {
  if (amount != kFrameHeaderSize) return false;
  const auto* p = static_cast<const unsigned char*>(data);
  return (p[4] | p[5] | p[6] | p[7]) != 0;
}

int xClose(sqlite3_file* file) {
  auto* f = asBuffered(file);
  const int flushed = flush(f);
  if (f->main != nullptr) f->main->wal = nullptr;
  if (f->wal != nullptr) f->wal->main = nullptr;
  const int rc = realMethods(f)->xClose(f->real);
  sqlite3_free(f->buffer);
  f->buffer = nullptr;
  return flushed != SQLITE_OK ? flushed : rc;
}

int xRead(sqlite3_file* file, void* data, int amount, sqlite3_int64 offset) {
  auto* f = asBuffered(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return realMethods(f)->xRead(f->real, data, amount, offset);
}

int xWrite(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  auto* f = asBuffered(file);
  if (f->buffer == nullptr) return realMethods(f)->xWrite(f->real, data, amount, offset);
  const bool continues = f->length > 0 && offset == f->offset + f->length;
  if (f->length > 0 && (!continues || f->length + amount > kBufferSize)) {
    const bool commit = f->commit_follows;
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
    f->commit_follows = commit;
  }
  if (amount > kBufferSize) {
    f->commit_follows = false;
    return realMethods(f)->xWrite(f->real, data, amount, offset);
  }
  if (f->length == 0) f->offset = offset;
  std::memcpy(f->buffer + f->length, data, static_cast<std::size_t>(amount));
  f->length += amount;
  if (f->commit_follows) return flush(f);  // the commit frame's page: the commit is complete
  f->commit_follows = isCommitFrameHeader(data, amount);
  return SQLITE_OK;
}

int xTruncate(sqlite3_file* file, sqlite3_int64 size) {
  auto* f = asBuffered(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return realMethods(f)->xTruncate(f->real, size);
}

int xSync(sqlite3_file* file, int flags) {
  auto* f = asBuffered(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return realMethods(f)->xSync(f->real, flags);
}

int xFileSize(sqlite3_file* file, sqlite3_int64* size) {
  auto* f = asBuffered(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return realMethods(f)->xFileSize(f->real, size);
}

int xLock(sqlite3_file* file, int level) {
  auto* f = asBuffered(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return realMethods(f)->xLock(f->real, level);
}

int xUnlock(sqlite3_file* file, int level) {
  auto* f = asBuffered(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return realMethods(f)->xUnlock(f->real, level);
}

int xCheckReservedLock(sqlite3_file* file, int* out) {
  auto* f = asBuffered(file);
  return realMethods(f)->xCheckReservedLock(f->real, out);
}

int xFileControl(sqlite3_file* file, int op, void* arg) {
  auto* f = asBuffered(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return realMethods(f)->xFileControl(f->real, op, arg);
}

int xSectorSize(sqlite3_file* file) {
  auto* f = asBuffered(file);
  return realMethods(f)->xSectorSize(f->real);
}

int xDeviceCharacteristics(sqlite3_file* file) {
  auto* f = asBuffered(file);
  return realMethods(f)->xDeviceCharacteristics(f->real);
}

// Shared memory (the wal-index) and memory-mapped reads belong to the main
// database file, never to a -wal file, so they pass straight through; only
// releasing the write lock (xShmLock) looks at the linked -wal buffer.
int xShmMap(sqlite3_file* file, int page, int page_size, int extend, void volatile** out) {
  auto* f = asBuffered(file);
  return realMethods(f)->xShmMap(f->real, page, page_size, extend, out);
}

// Slot 0 of the wal-index locks is the WAL write lock (WAL_WRITE_LOCK in
// SQLite's wal.c). A transaction that rolls back releases it with frames it
// spilled perhaps still in the buffer; once released, another connection or
// process may append its own commit where they would go, and writing them
// later would overwrite that commit. So they go to the file (past the end
// of the log SQLite keeps, where they are ignored) while the lock is held.
int xShmLock(sqlite3_file* file, int offset, int n, int flags) {
  auto* f = asBuffered(file);
  if (f->wal != nullptr && (flags & SQLITE_SHM_UNLOCK) != 0 && offset <= 0 && offset + n > 0) {
    if (int rc = flush(f->wal); rc != SQLITE_OK) return rc;
  }
  return realMethods(f)->xShmLock(f->real, offset, n, flags);
}

void xShmBarrier(sqlite3_file* file) {
  auto* f = asBuffered(file);
  realMethods(f)->xShmBarrier(f->real);
}

int xShmUnmap(sqlite3_file* file, int delete_flag) {
  auto* f = asBuffered(file);
  return realMethods(f)->xShmUnmap(f->real, delete_flag);
}

int xFetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  auto* f = asBuffered(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return realMethods(f)->xFetch(f->real, offset, amount, out);
}

int xUnfetch(sqlite3_file* file, sqlite3_int64 offset, void* p) {
  auto* f = asBuffered(file);
  return realMethods(f)->xUnfetch(f->real, offset, p);
}

// Two method tables: version 3 (shared memory and mmap) for files whose
// real methods have them, as the default unix VFS's do; version 1 otherwise,
// so that SQLite never calls a method the wrapped file lacks.
constexpr sqlite3_io_methods kMethodsV3 = {
    3,        &xClose,    &xRead,        &xWrite,     &xTruncate,  &xSync,  &xFileSize,
    &xLock,   &xUnlock,   &xCheckReservedLock,        &xFileControl,        &xSectorSize,
    &xDeviceCharacteristics,             &xShmMap,    &xShmLock,   &xShmBarrier,
    &xShmUnmap,           &xFetch,       &xUnfetch};
constexpr sqlite3_io_methods kMethodsV1 = {
    1,        &xClose,    &xRead,        &xWrite,     &xTruncate,  &xSync,  &xFileSize,
    &xLock,   &xUnlock,   &xCheckReservedLock,        &xFileControl,        &xSectorSize,
    &xDeviceCharacteristics,             nullptr,     nullptr,     nullptr,
    nullptr,  nullptr,    nullptr};

// Gathering relies on SQLite writing a frame's header and page in two
// calls, header first (walWriteOneFrame): checked for the 3.40 series that
// Debian 12 ships.
bool gatheringChecked() {
  const int v = sqlite3_libversion_number();
  return v >= 3040000 && v < 3041000;
}

int vfsOpen(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  auto* f = asBuffered(file);
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + sizeof(BufferedFile));
  f->buffer = nullptr;
  f->offset = 0;
  f->length = 0;
  f->commit_follows = false;
  f->wal = nullptr;
  f->main = nullptr;
  f->base.pMethods = nullptr;
  const int rc = realVfs(vfs)->xOpen(realVfs(vfs), name, f->real, flags, out_flags);
  if (f->real->pMethods == nullptr) return rc;  // nothing opened: SQLite will not call xClose
  f->base.pMethods = f->real->pMethods->iVersion >= 3 ? &kMethodsV3 : &kMethodsV1;
  if (rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) != 0 && gatheringChecked()) {
    // sqlite3_database_file_object: the database file of the connection
    // opening this -wal file. Only if that is one of ours can a rollback
    // empty the buffer (xShmLock above); otherwise writes pass through.
    sqlite3_file* db = sqlite3_database_file_object(name);
    if (db != nullptr && (db->pMethods == &kMethodsV3 || db->pMethods == &kMethodsV1)) {
      // Without the memory the file simply writes through.
      f->buffer = static_cast<char*>(sqlite3_malloc(kBufferSize));
      if (f->buffer != nullptr) {
        f->main = asBuffered(db);
        f->main->wal = f;
      }
    }
  }
  return rc;
}

// Everything but opening goes to the default VFS with its own object.
int vfsDelete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return realVfs(vfs)->xDelete(realVfs(vfs), name, sync_dir);
}
int vfsAccess(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return realVfs(vfs)->xAccess(realVfs(vfs), name, flags, out);
}
int vfsFullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return realVfs(vfs)->xFullPathname(realVfs(vfs), name, n, out);
}
void* vfsDlOpen(sqlite3_vfs* vfs, const char* name) { return realVfs(vfs)->xDlOpen(realVfs(vfs), name); }
void vfsDlError(sqlite3_vfs* vfs, int n, char* out) { realVfs(vfs)->xDlError(realVfs(vfs), n, out); }
void (*vfsDlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return realVfs(vfs)->xDlSym(realVfs(vfs), handle, symbol);
}
void vfsDlClose(sqlite3_vfs* vfs, void* handle) { realVfs(vfs)->xDlClose(realVfs(vfs), handle); }
int vfsRandomness(sqlite3_vfs* vfs, int n, char* out) { return realVfs(vfs)->xRandomness(realVfs(vfs), n, out); }
int vfsSleep(sqlite3_vfs* vfs, int micros) { return realVfs(vfs)->xSleep(realVfs(vfs), micros); }
int vfsCurrentTime(sqlite3_vfs* vfs, double* out) { return realVfs(vfs)->xCurrentTime(realVfs(vfs), out); }
int vfsGetLastError(sqlite3_vfs* vfs, int n, char* out) {
  return realVfs(vfs)->xGetLastError(realVfs(vfs), n, out);
}
int vfsCurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return realVfs(vfs)->xCurrentTimeInt64(realVfs(vfs), out);
}

const char* registerVfs() {
  static sqlite3_vfs vfs{};
  sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
  if (real == nullptr || real->iVersion < 2) return nullptr;
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(sizeof(BufferedFile)) + real->szOsFile;
  vfs.mxPathname = real->mxPathname;
  vfs.zName = kVfsName;
  vfs.pAppData = real;
  vfs.xOpen = &vfsOpen;
  vfs.xDelete = &vfsDelete;
  vfs.xAccess = &vfsAccess;
  vfs.xFullPathname = &vfsFullPathname;
  vfs.xDlOpen = &vfsDlOpen;
  vfs.xDlError = &vfsDlError;
  vfs.xDlSym = &vfsDlSym;
  vfs.xDlClose = &vfsDlClose;
  vfs.xRandomness = &vfsRandomness;
  vfs.xSleep = &vfsSleep;
  vfs.xCurrentTime = &vfsCurrentTime;
  vfs.xGetLastError = &vfsGetLastError;
  vfs.xCurrentTimeInt64 = &vfsCurrentTimeInt64;
  if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK) return nullptr;
  return kVfsName;
}

// The wrapped file object starts right behind BufferedFile; it holds
// pointers and 64-bit integers, so it needs 8-byte alignment.
static_assert(sizeof(BufferedFile) % 8 == 0, "the wrapped file object behind BufferedFile must stay aligned");

}  // namespace

const char* walWriteBufferVfs() {
  static const char* const name = registerVfs();
  return name;
}

}  // namespace cb::store
