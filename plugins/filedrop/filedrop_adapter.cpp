// The `filedrop` adapter: records as files in folders, for systems that
// exchange exports rather than messages (vendor exports dropped into an
// SFTP landing folder, imports picked up from a share).
//
// Inbound: `watch_dir` is polled every `poll_interval`. A file is taken only
// when its sender has finished writing it, by the landing-folder conventions
// SFTP clients and vendor exporters use:
//  - names matching `ignore` (default: dot-prefixed, *.tmp, *.part,
//    *.partial, *.filepart) are files still being written under a temporary
//    name; the sender renames them into place when complete (rename(2) is
//    atomic within a file system), so they are never taken;
//  - with `completion_marker` (e.g. ".done,.ok") a file is taken only once
//    "<name><suffix>" exists for one of the suffixes;
//  - in every case the file's size and modification time must be unchanged
//    for `stable_polls` polls, so a file written in place is not taken while
//    it still grows.
// A taken file is submitted with its SHA-256 as the sender id, so a file
// picked up again (after a crash between storing and moving it) is
// recognised as a duplicate and not stored twice. Only when the host answers
// Stored or Duplicate does the file (and its marker) move to
// `archive_dir/YYYY-MM-DD/`; a file the host refuses moves to `error_dir`
// with "<name>.reason.txt" beside it; a file the host could not store now
// stays where it is and is offered again. Nothing is ever deleted: files are
// moved (link+unlink, or copy+fsync+unlink across file systems), and a name
// already taken in the destination gets a ".1", ".2", ... suffix.
//
// Outbound: each delivery is written to `out_dir` as "<message id><suffix>"
// via a hidden temporary file, fsync and rename, so the partner never sees
// half a file; the folder is fsynced so the rename survives power loss.
// With `out_marker` an empty "<file><marker>" follows, written the same way.
// A file already present under that name means an earlier attempt succeeded:
// reported delivered, not written twice. A missing `out_dir` (an unmounted
// share) is a retry and is never recreated by a delivery.
#include <carebridge/plugin_sdk.hpp>

#include <fcntl.h>
#include <stdio.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include <openssl/evp.h>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const cb_config_key kKeys[] = {
    {"watch_dir", CB_CONFIG_PATH, "", "inbound: landing folder to take files from; empty = no inbound"},
    {"archive_dir", CB_CONFIG_PATH, "", "inbound: where stored files go (default <watch_dir>/archive)"},
    {"archive_dated", CB_CONFIG_BOOL, "true", "inbound: archive into a subfolder per UTC day, YYYY-MM-DD"},
    {"error_dir", CB_CONFIG_PATH, "",
     "inbound: where refused files go, each with <name>.reason.txt (default <watch_dir>/error)"},
    {"include", CB_CONFIG_STRING, "*", "inbound: only take files matching one of these comma-separated patterns"},
    {"ignore", CB_CONFIG_STRING, ".*,*.tmp,*.part,*.partial,*.filepart",
     "inbound: comma-separated patterns of temporary names (files still being written); never taken"},
    {"completion_marker", CB_CONFIG_STRING, "",
     "inbound: take a file only when <name><suffix> exists, for one of these comma-separated suffixes "
     "(e.g. \".done,.ok\"); empty = the sender renames complete files into place"},
    {"stable_polls", CB_CONFIG_INT, "1",
     "inbound: polls a file's size and modification time must stay unchanged before it is taken (0 = at once)"},
    {"poll_interval", CB_CONFIG_DURATION_MS, "1s", "inbound: how often to look"},
    {"max_file_bytes", CB_CONFIG_INT, "67108864", "inbound: larger files go to error_dir unread"},
    {"content_type", CB_CONFIG_STRING, "application/octet-stream", "inbound: content type of the files"},
    {"record_type", CB_CONFIG_STRING, "", "inbound: record type hint for the files"},
    {"out_dir", CB_CONFIG_PATH, "", "outbound: folder to write deliveries to; empty = no outbound"},
    {"out_suffix", CB_CONFIG_STRING, ".dat", "outbound: file name suffix"},
    {"out_marker", CB_CONFIG_STRING, "",
     "outbound: after each file write an empty <file><marker> (e.g. \".done\") for the partner; empty = none"},
    {"out_max_bytes", CB_CONFIG_INT, "0",
     "outbound: largest file the partner takes; larger deliveries fail for good (0 = no limit)"},
};

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> splitList(const std::string& key, const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t comma = std::min(s.find(',', start), s.size());
    std::string item = s.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) {
      if (item.find('/') != std::string::npos) throw cb::sdk::ConfigError(key + ": \"" + item + "\" must not contain '/'");
      out.push_back(item);
    }
    start = comma + 1;
  }
  return out;
}

bool matchesAny(const std::vector<std::string>& patterns, const std::string& name) {
  for (const auto& p : patterns) {
    if (::fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

std::string sha256Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::tm utcTime(std::int64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

// "YYYY-MM-DD", the archive's subfolder for the UTC day.
std::string utcDay(std::int64_t unix_ms) {
  const std::tm tm = utcTime(unix_ms);
  char buf[32];
  return std::string(buf, std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm));
}

// RFC 3339 UTC timestamp, second precision.
std::string utcInstant(std::int64_t unix_ms) {
  const std::tm tm = utcTime(unix_ms);
  char buf[32];
  return std::string(buf, std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm));
}

bool fsyncPath(const fs::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

bool fsyncDir(const fs::path& dir) { return fsyncPath(dir, O_RDONLY | O_DIRECTORY); }

// Writes all of `data` to `fd`; false with errno set on failure.
bool writeAll(int fd, std::string_view data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Which file a name referred to when it was read: a sender may replace a
// file by renaming a new one over it, and the new one must not be archived
// in place of the one that was stored.
struct FileIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

FileIdentity identityOf(const struct stat& st) {
  return {st.st_dev, st.st_ino, st.st_size,
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

std::optional<FileIdentity> identityAt(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return std::nullopt;
  return identityOf(st);
}

// Reads a whole file of at most `limit` bytes; nullopt with `why` set otherwise.
std::optional<std::string> readFile(const fs::path& p, std::uintmax_t limit, FileIdentity& identity,
                                    std::string& why) {
  // O_NONBLOCK: a named pipe under a file's name must not block the poll.
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    why = std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = "not a regular file";
    ::close(fd);
    return std::nullopt;
  }
  identity = identityOf(st);
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      why = std::strerror(errno);
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > limit) {
      why = "larger than max_file_bytes";
      ::close(fd);
      return std::nullopt;
    }
  }
  ::close(fd);
  return out;
}

// Writes `data` as `dir/name` through a hidden temporary file, fsync and
// rename, then fsyncs the folder. Returns "" or why it failed.
std::string writeAtomically(const fs::path& dir, const std::string& name, std::string_view data) {
  const fs::path tmp = dir / ("." + name + ".tmp");
  const fs::path final_path = dir / name;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return "cannot create " + tmp.string() + ": " + std::strerror(errno);
  if (!writeAll(fd, data) || ::fsync(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return "cannot write " + tmp.string() + ": " + why;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return "cannot rename into " + dir.string() + ": " + why;
  }
  fsyncDir(dir);
  return {};
}

// Copies `from` to `to`, which must not exist yet (O_EXCL), and fsyncs it.
bool copyExclusive(const fs::path& from, const fs::path& to, int& err) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    err = errno;
    return false;
  }
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (out < 0) {
    err = errno;
    ::close(in);
    return false;
  }
  char buf[65536];
  bool ok = true;
  for (;;) {
    const ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    if (!writeAll(out, std::string_view(buf, static_cast<std::size_t>(n)))) {
      ok = false;
      break;
    }
  }
  if (ok) ok = ::fsync(out) == 0;
  err = ok ? 0 : errno;
  ::close(in);
  ::close(out);
  if (!ok) ::unlink(to.c_str());
  return ok;
}

// Moves `from` into `dir` under `name`, or "<name>.1", "<name>.2", ... when
// that is taken: never overwrites, never deletes the source before the
// destination is durable. Returns the destination, or nullopt with `why`.
std::optional<fs::path> moveInto(const fs::path& from, const fs::path& dir, const std::string& name,
                                 std::string& why) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    why = "cannot create " + dir.string() + ": " + ec.message();
    return std::nullopt;
  }
  for (int n = 0; n < 10000; ++n) {
    const fs::path to = dir / (n == 0 ? name : name + "." + std::to_string(n));
    // rename(2) without replacing: atomic, and it moves exactly the file
    // that has the name, even if the sender is renaming a new one over it.
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
      fsyncDir(dir);
      fsyncDir(from.parent_path());
      return to;
    }
    int err = errno;
    if (err == EEXIST) continue;
    if (err == EINVAL || err == ENOSYS || err == EXDEV) {
      // No RENAME_NOREPLACE on this file system, or another file system:
      // link(2) (which never replaces) or copy, then unlink the original
      // only if it is still the same file.
      const auto before = identityAt(from);
      if (::link(from.c_str(), to.c_str()) == 0) {
        err = 0;
      } else {
        err = errno;
        if (err == EXDEV || err == EPERM || err == EOPNOTSUPP || err == EMLINK) {
          if (copyExclusive(from, to, err)) err = 0;
        }
      }
      if (err == EEXIST) continue;
      if (err == 0 && identityAt(from) != before) {
        why = "the file changed while it was moved; the original stays";
        return to;
      }
    }
    if (err != 0) {
      why = "cannot move into " + dir.string() + ": " + std::strerror(err);
      return std::nullopt;
    }
    fsyncDir(dir);
    if (::unlink(from.c_str()) != 0) {
      why = "moved into " + dir.string() + " but cannot remove the original: " + std::strerror(errno);
      return to;
    }
    fsyncDir(from.parent_path());
    return to;
  }
  why = "no free name in " + dir.string();
  return std::nullopt;
}

// A message id becomes a file name: it must not reach outside out_dir or be hidden.
bool safeFileName(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.size() > 200) return false;
  for (const char c : s) {
    if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

class FiledropAdapter final : public cb::sdk::Adapter {
 public:
  FiledropAdapter(cb::sdk::Host host, const cb::sdk::Config& c)
      : host_(host),
        watch_(c.str("watch_dir")),
        archive_(c.str("archive_dir")),
        error_(c.str("error_dir")),
        archive_dated_(c.boolean("archive_dated")),
        include_(splitList("include", c.str("include"))),
        ignore_(splitList("ignore", c.str("ignore"))),
        markers_(splitList("completion_marker", c.str("completion_marker"))),
        stable_polls_(c.integer("stable_polls")),
        poll_(c.duration("poll_interval")),
        max_file_bytes_(c.integer("max_file_bytes")),
        content_type_(c.str("content_type")),
        record_type_(c.str("record_type")),
        out_(c.str("out_dir")),
        out_suffix_(c.str("out_suffix")),
        out_marker_(c.str("out_marker")),
        out_max_bytes_(c.integer("out_max_bytes")) {
    if (watch_.empty() && out_.empty()) throw cb::sdk::ConfigError("set watch_dir (inbound), out_dir (outbound) or both");
    if (!watch_.empty()) {
      if (archive_.empty()) archive_ = watch_ / "archive";
      if (error_.empty()) error_ = watch_ / "error";
      if (archive_ == watch_) throw cb::sdk::ConfigError("archive_dir must not be watch_dir");
      if (error_ == watch_) throw cb::sdk::ConfigError("error_dir must not be watch_dir");
    }
    if (include_.empty()) throw cb::sdk::ConfigError("include: give at least one pattern, e.g. \"*\"");
    for (const auto& m : markers_) {
      if (m.size() < 2 || m.front() != '.') {
        throw cb::sdk::ConfigError("completion_marker: \"" + m + "\" must be a suffix such as \".done\"");
      }
    }
    if (stable_polls_ < 0 || stable_polls_ > 1000) throw cb::sdk::ConfigError("stable_polls must be 0 to 1000");
    if (poll_ < 10ms) throw cb::sdk::ConfigError("poll_interval must be at least 10ms");
    if (max_file_bytes_ <= 0) throw cb::sdk::ConfigError("max_file_bytes must be positive");
    if (out_max_bytes_ < 0) throw cb::sdk::ConfigError("out_max_bytes must be 0 (no limit) or positive");
    if (out_suffix_.find('/') != std::string::npos) throw cb::sdk::ConfigError("out_suffix must not contain '/'");
    if (out_marker_.find('/') != std::string::npos) throw cb::sdk::ConfigError("out_marker must not contain '/'");
    if (!out_marker_.empty() && out_marker_ == out_suffix_) {
      throw cb::sdk::ConfigError("out_marker must differ from out_suffix");
    }
  }

  void start() override {
    std::error_code ec;
    for (const auto& dir : {watch_, archive_, error_, out_}) {
      if (dir.empty()) continue;
      fs::create_directories(dir, ec);
      if (ec) throw cb::sdk::ConfigError("cannot create folder " + dir.string() + ": " + ec.message());
    }
    if (!watch_.empty()) schedule(0ms);
  }

  void stop() override {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }

  void deliver(const cb::sdk::Delivery& d, cb::sdk::DeliveryDone&& done) override {
    if (out_.empty()) {
      done.fail("adapter has no out_dir to deliver to");
      return;
    }
    if (!safeFileName(d.message_id)) {
      done.fail("message id is not usable as a file name");
      return;
    }
    if (out_max_bytes_ > 0 && d.payload.size() > static_cast<std::uint64_t>(out_max_bytes_)) {
      done.fail("record is " + std::to_string(d.payload.size()) + " bytes, over out_max_bytes (" +
                std::to_string(out_max_bytes_) + ")");
      return;
    }
    std::error_code ec;
    if (!fs::is_directory(out_, ec)) {
      // An unmounted share or a removed folder: never write into the mount
      // point underneath; the operator brings it back and the retry succeeds.
      done.retry("out_dir " + out_.string() + " is not there");
      return;
    }
    const std::string name = std::string(d.message_id) + out_suffix_;
    if (!fs::exists(out_ / name, ec)) {
      if (auto why = writeAtomically(out_, name, d.payload); !why.empty()) {
        done.retry(why);
        return;
      }
    }
    // Also when the file was there already: an earlier attempt may have
    // stopped between the file and its marker.
    if (!out_marker_.empty() && !fs::exists(out_ / (name + out_marker_), ec)) {
      if (auto why = writeAtomically(out_, name + out_marker_, {}); !why.empty()) {
        done.retry(why);
        return;
      }
    }
    done.ok();
  }

 private:
  struct Seen {
    std::uintmax_t size = 0;
    fs::file_time_type mtime;
    std::int64_t unchanged_polls = 0;
    bool submitted = false;
  };

  void schedule(std::chrono::milliseconds delay) {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    host_.after(delay, [this] {
      // A scan that throws (the folder vanished, memory) must not end polling.
      try {
        scan();
      } catch (const std::exception& e) {
        host_.error(std::string("scanning the landing folder failed: ") + e.what());
      } catch (...) {
        host_.error("scanning the landing folder failed");
      }
      schedule(poll_);
    });
  }

  std::optional<std::string> markerOf(const std::string& name, std::error_code& ec) const {
    for (const auto& m : markers_) {
      if (fs::exists(watch_ / (name + m), ec)) return m;
    }
    return std::nullopt;
  }

  bool isMarker(const std::string& name) const {
    for (const auto& m : markers_) {
      if (endsWith(name, m)) return true;
    }
    return false;
  }

  void scan() {
    std::error_code ec;
    if (!fs::is_directory(watch_, ec)) {
      if (!missing_logged_) host_.warn("watch_dir " + watch_.string() + " is not there; still looking");
      missing_logged_ = true;
      return;
    }
    missing_logged_ = false;
    std::vector<fs::path> candidates;
    for (const auto& entry : fs::directory_iterator(watch_, ec)) {
      std::error_code fec;
      if (!entry.is_regular_file(fec)) continue;
      const std::string name = entry.path().filename().string();
      if (matchesAny(ignore_, name) || isMarker(name) || !matchesAny(include_, name)) continue;
      candidates.push_back(entry.path());
    }
    std::map<std::string, Seen> next;
    std::vector<std::pair<fs::path, std::string>> to_take;  // path, marker ("" when none)
    {
      std::lock_guard lock(mutex_);
      for (const auto& path : candidates) {
        const std::string name = path.filename().string();
        std::error_code fec;
        Seen now{fs::file_size(path, fec), fs::last_write_time(path, fec), 0, false};
        if (fec) continue;  // gone between listing and looking
        auto it = seen_.find(name);
        if (it != seen_.end()) {
          if (it->second.submitted) {
            next[name] = it->second;  // the host has not answered yet
            continue;
          }
          if (it->second.size == now.size && it->second.mtime == now.mtime) {
            now.unchanged_polls = it->second.unchanged_polls + 1;
          }
        }
        std::optional<std::string> marker;
        bool complete = now.unchanged_polls >= stable_polls_;
        if (complete && !markers_.empty()) {
          marker = markerOf(name, fec);
          complete = marker.has_value();
        }
        if (complete) {
          now.submitted = true;
          to_take.emplace_back(path, marker.value_or(""));
        }
        next[name] = now;
      }
      seen_ = std::move(next);
    }
    for (const auto& [path, marker] : to_take) take(path, marker);
  }

  void forget(const std::string& name) {
    std::lock_guard lock(mutex_);
    seen_.erase(name);
  }

  void take(const fs::path& file, const std::string& marker) {
    const std::string name = file.filename().string();
    std::string why;
    FileIdentity identity;
    auto bytes = readFile(file, static_cast<std::uintmax_t>(max_file_bytes_), identity, why);
    if (!bytes) {
      if (why == "larger than max_file_bytes") {
        refuse(file, identity, marker, "",
               "the file is larger than max_file_bytes (" + std::to_string(max_file_bytes_) + "); it was not submitted");
      } else {
        host_.warn("cannot read a file in " + watch_.string() + " (" + why + "); trying again at the next poll");
      }
      forget(name);
      return;
    }
    const std::string id = sha256Hex(*bytes);
    cb::sdk::InboundRecord rec;
    rec.sender_message_id = id;
    rec.content_type = content_type_;
    rec.record_type = record_type_;
    rec.payload = *bytes;
    host_.count("file_taken");
    const bool accepted = host_.submit(rec, [this, file, identity, name, marker, id](cb::sdk::SubmitResult r,
                                                                           std::string_view message_id,
                                                                           std::string_view reason) {
      if (r == cb::sdk::SubmitResult::Stored || r == cb::sdk::SubmitResult::Duplicate) {
        archive(file, identity, marker, id, message_id);
      } else if (r == cb::sdk::SubmitResult::Refused) {
        refuse(file, identity, marker, id, "refused by carebridge: " + std::string(reason));
      } else {
        // Not stored now: the file stays and is offered again at the next poll.
        host_.count("file_not_stored");
      }
      forget(name);
    });
    if (!accepted) forget(name);
  }

  // True when `file` is still the file that was read; if the sender has put
  // a new file under its name since, the new one stays for the next poll.
  bool stillTheSame(const fs::path& file, const FileIdentity& identity, const std::string& id) const {
    if (identityAt(file) == identity) return true;
    host_.warn("file sha256 " + id.substr(0, 16) + " was replaced under its name after it was read; "
               "the new file is taken at the next poll");
    return false;
  }

  void archive(const fs::path& file, const FileIdentity& identity, const std::string& marker, const std::string& id,
               std::string_view message_id) {
    if (!stillTheSame(file, identity, id)) return;
    const fs::path dir = archive_dated_ ? archive_ / utcDay(host_.nowUnixMs()) : archive_;
    std::string why;
    auto to = moveInto(file, dir, file.filename().string(), why);
    if (!to) {
      // Stored, not moved: the next poll submits it again, the host answers
      // Duplicate and the move is tried again.
      host_.error("file sha256 " + id.substr(0, 16) + " is stored as message " + std::string(message_id) +
                  " but " + why);
      return;
    }
    if (!why.empty()) host_.warn("file sha256 " + id.substr(0, 16) + ": " + why);
    if (!marker.empty()) {
      const fs::path m = file.parent_path() / (file.filename().string() + marker);
      std::string mwhy;
      moveInto(m, dir, to->filename().string() + marker, mwhy);
    }
    host_.count("file_archived");
    host_.debug("file sha256 " + id.substr(0, 16) + " stored as message " + std::string(message_id) + ", archived in " +
                dir.string());
  }

  void refuse(const fs::path& file, const FileIdentity& identity, const std::string& marker, const std::string& id,
              const std::string& reason) {
    if (!stillTheSame(file, identity, id.empty() ? std::string("(not read)") : id)) return;
    std::string why;
    auto to = moveInto(file, error_, file.filename().string(), why);
    if (!to) {
      host_.error("a refused file stays in " + watch_.string() + ": " + why);
      return;
    }
    const std::int64_t now = host_.nowUnixMs();
    std::string text = "file: " + file.filename().string() + "\n";
    if (!id.empty()) text += "sha256: " + id + "\n";
    text += "refused_at: " + utcInstant(now) + "\n";
    text += "reason: " + reason + "\n";
    if (auto werr = writeAtomically(error_, to->filename().string() + ".reason.txt", text); !werr.empty()) {
      host_.error(werr);
    }
    if (!marker.empty()) {
      std::string mwhy;
      moveInto(file.parent_path() / (file.filename().string() + marker), error_, to->filename().string() + marker,
               mwhy);
    }
    host_.count("file_refused");
    host_.warn("a file was refused and moved to " + error_.string() + ": " + reason);
  }

  cb::sdk::Host host_;
  fs::path watch_, archive_, error_;
  bool archive_dated_;
  std::vector<std::string> include_, ignore_, markers_;
  std::int64_t stable_polls_;
  std::chrono::milliseconds poll_;
  std::int64_t max_file_bytes_;
  std::string content_type_, record_type_;
  fs::path out_;
  std::string out_suffix_, out_marker_;
  std::int64_t out_max_bytes_;
  std::mutex mutex_;
  bool stopping_ = false;
  bool missing_logged_ = false;  // only touched by scan(), one at a time
  std::map<std::string, Seen> seen_;
};

}  // namespace

CB_PLUGIN(FiledropAdapter, "filedrop", "1.1.0", "Records as files in SFTP-style landing folders (vendor exports)",
          CB_CAP_INBOUND | CB_CAP_OUTBOUND, kKeys)
