#include "store/wal_sync.h"

#include "common/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cb::store {

Result<std::unique_ptr<WalSync>> WalSync::open(std::filesystem::path wal, SyncCall sync_call) {
  std::unique_ptr<WalSync> w(new WalSync(std::move(wal), std::move(sync_call)));
  std::lock_guard lock(w->mutex_);
  if (auto s = w->openFileLocked(); !s) return s.error();
  if (w->sync_call_(w->fd_) != 0) {
    const int err = errno;
    return fail(w->wal_.string() + ": cannot make the write-ahead log durable: " + std::strerror(err));
  }
  return w;
}

WalSync::~WalSync() {
  // The WAL carries no POSIX locks (SQLite locks the database and -shm
  // files), so closing this descriptor cannot release one of SQLite's.
  if (fd_ >= 0) ::close(fd_);
}

Status WalSync::openFileLocked() {
  const int fd = ::open(wal_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(wal_.string() + ": cannot open the write-ahead log: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(wal_.string() + ": " + std::strerror(err));
  }
  const auto folder = wal_.parent_path().empty() ? std::filesystem::path(".") : wal_.parent_path();
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  // EINVAL: the file system cannot sync a directory (fsync(2)); SQLite
  // goes on there too (its unix VFS ignores a failed directory sync,
  // SQLite ticket #1657).
  if (dir < 0 || (::fsync(dir) != 0 && errno != EINVAL)) {
    const int err = errno;
    if (dir >= 0) ::close(dir);
    ::close(fd);
    return fail(folder.string() + ": cannot sync the store's folder: " + std::strerror(err));
  }
  ::close(dir);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  return {};
}

Status WalSync::failForGoodLocked(const std::string& what, int err) {
  failure_ = wal_.string() + ": " + what + ": " + std::strerror(err) +
             "; the store refuses all writes until carebridge restarts";
  failed_.store(true, std::memory_order_release);
  log::get("store")->critical("{}", failure_);
  return fail(failure_);
}

Status WalSync::sync() {
  std::lock_guard lock(mutex_);
  if (!failure_.empty()) return fail(failure_);
  // SQLite deletes the WAL only when the last connection closes (and the
  // store keeps its own open), but should the file ever be replaced, sync
  // the one SQLite now writes: a stale descriptor would sync nothing.
  struct stat st {};
  if (::stat(wal_.c_str(), &st) != 0) {
    const int err = errno;  // before anything else can change it
    return failForGoodLocked("the write-ahead log has gone", err);
  }
  if (st.st_ino != ino_ || st.st_dev != dev_) {
    if (auto s = openFileLocked(); !s) {
      return failForGoodLocked("cannot reopen the write-ahead log (" + s.error().message + ")", EIO);
    }
  }
  if (sync_call_(fd_) != 0) {
    const int err = errno;  // the message's string is built before errno would be read
    return failForGoodLocked("fdatasync failed", err);
  }
  return {};
}

}  // namespace cb::store
