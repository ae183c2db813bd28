// The `filedrop` adapter: records as files in folders, for systems that
// exchange exports rather than messages.
//
// Inbound: `watch_dir` is polled. A file is taken only when complete:
//  - files still being written are skipped by name: hidden files (".x"),
//    and *.tmp, *.part, *.partial, *.filepart (what SFTP clients and vendor
//    exporters use before their final rename);
//  - with `completion_marker` set (e.g. ".done"), only files whose marker
//    "<name><marker>" exists are taken;
//  - otherwise a file must keep the same size and modification time across
//    two polls (it has stopped growing).
// A taken file is submitted; once carebridge has stored it, the file (and
// its marker) moves to `processed_dir`. A refused file moves to `failed_dir`.
// The sender id is the file's SHA-256, so a file picked up again after a
// crash (stored, not yet moved) is recognised and not stored twice.
//
// Outbound: each delivery is written to `out_dir` as "<message id><suffix>"
// via a hidden temporary file, fsync and rename (atomic on POSIX file
// systems), so a reader never sees half a file; the folder is fsynced so the
// rename survives power loss. A file already present under that name means
// the delivery happened before: reported delivered, not written twice.
#include <carebridge/plugin_sdk.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <openssl/evp.h>

namespace {

namespace fs = std::filesystem;

const cb_config_key kKeys[] = {
    {"watch_dir", CB_CONFIG_PATH, "", "inbound: folder to take files from; empty = no inbound"},
    {"processed_dir", CB_CONFIG_PATH, "", "inbound: where stored files go (default <watch_dir>/processed)"},
    {"failed_dir", CB_CONFIG_PATH, "", "inbound: where refused files go (default <watch_dir>/failed)"},
    {"suffix_filter", CB_CONFIG_STRING, "", "inbound: only take files ending with this (e.g. \".xml\")"},
    {"completion_marker", CB_CONFIG_STRING, "", "inbound: take a file only when <name><marker> exists"},
    {"poll_interval", CB_CONFIG_DURATION_MS, "1s", "inbound: how often to look"},
    {"content_type", CB_CONFIG_STRING, "application/octet-stream", "inbound: content type of the files"},
    {"record_type", CB_CONFIG_STRING, "", "inbound: record type hint for the files"},
    {"out_dir", CB_CONFIG_PATH, "", "outbound: folder to write deliveries to; empty = no outbound"},
    {"out_suffix", CB_CONFIG_STRING, ".dat", "outbound: file name suffix"},
};

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool inProgressName(const std::string& name) {
  return name.empty() || name[0] == '.' || endsWith(name, ".tmp") || endsWith(name, ".part") ||
         endsWith(name, ".partial") || endsWith(name, ".filepart");
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

bool fsyncPath(const fs::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

class FiledropAdapter final : public cb::sdk::Adapter {
 public:
  FiledropAdapter(cb::sdk::Host host, const cb::sdk::Config& c)
      : host_(host),
        watch_(c.str("watch_dir")),
        processed_(c.str("processed_dir")),
        failed_(c.str("failed_dir")),
        suffix_(c.str("suffix_filter")),
        marker_(c.str("completion_marker")),
        poll_(c.duration("poll_interval")),
        content_type_(c.str("content_type")),
        record_type_(c.str("record_type")),
        out_(c.str("out_dir")),
        out_suffix_(c.str("out_suffix")) {
    if (watch_.empty() && out_.empty()) throw cb::sdk::ConfigError("set watch_dir (inbound), out_dir (outbound) or both");
    if (!watch_.empty()) {
      if (processed_.empty()) processed_ = watch_ / "processed";
      if (failed_.empty()) failed_ = watch_ / "failed";
    }
    if (out_suffix_.find('/') != std::string::npos) throw cb::sdk::ConfigError("out_suffix must not contain '/'");
  }

  void start() override {
    std::error_code ec;
    for (const auto& dir : {watch_, processed_, failed_, out_}) {
      if (dir.empty()) continue;
      fs::create_directories(dir, ec);
      if (ec) throw cb::sdk::ConfigError("cannot create folder " + dir.string() + ": " + ec.message());
    }
    if (!watch_.empty()) schedule();
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
    const fs::path final_path = out_ / (std::string(d.message_id) + out_suffix_);
    std::error_code ec;
    if (fs::exists(final_path, ec)) {
      done.ok();  // written by an earlier attempt whose outcome was not recorded
      return;
    }
    const fs::path tmp = out_ / ("." + std::string(d.message_id) + ".tmp");
    {
      const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
      if (fd < 0) {
        done.retry("cannot create " + tmp.string() + ": " + std::strerror(errno));
        return;
      }
      std::size_t off = 0;
      while (off < d.payload.size()) {
        const ssize_t n = ::write(fd, d.payload.data() + off, d.payload.size() - off);
        if (n < 0) {
          if (errno == EINTR) continue;
          const std::string why = std::strerror(errno);
          ::close(fd);
          fs::remove(tmp, ec);
          done.retry("cannot write " + tmp.string() + ": " + why);
          return;
        }
        off += static_cast<std::size_t>(n);
      }
      if (::fsync(fd) != 0) {
        ::close(fd);
        fs::remove(tmp, ec);
        done.retry("fsync failed for " + tmp.string());
        return;
      }
      ::close(fd);
    }
    fs::rename(tmp, final_path, ec);
    if (ec) {
      fs::remove(tmp, ec);
      done.retry("cannot rename into " + out_.string() + ": " + ec.message());
      return;
    }
    fsyncPath(out_, O_RDONLY | O_DIRECTORY);
    done.ok();
  }

 private:
  struct Seen {
    std::uintmax_t size = 0;
    fs::file_time_type mtime;
    bool submitted = false;
  };

  void schedule() {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    host_.after(poll_, [this] { scan(); });
  }

  void scan() {
    std::error_code ec;
    std::map<std::string, Seen> still_there;
    for (const auto& entry : fs::directory_iterator(watch_, ec)) {
      if (!entry.is_regular_file(ec)) continue;
      const std::string name = entry.path().filename().string();
      if (inProgressName(name)) continue;
      if (!marker_.empty() && endsWith(name, marker_)) continue;
      if (!suffix_.empty() && !endsWith(name, suffix_)) continue;
      Seen now{entry.file_size(ec), entry.last_write_time(ec), false};
      if (ec) continue;
      std::lock_guard lock(mutex_);
      auto it = seen_.find(name);
      if (it != seen_.end() && it->second.submitted) {
        still_there[name] = it->second;
        continue;
      }
      bool complete = false;
      if (!marker_.empty()) {
        complete = fs::exists(watch_ / (name + marker_), ec);
      } else {
        complete = it != seen_.end() && it->second.size == now.size && it->second.mtime == now.mtime;
      }
      if (complete) {
        now.submitted = true;
        take(entry.path());
      }
      still_there[name] = now;
    }
    {
      std::lock_guard lock(mutex_);
      seen_ = std::move(still_there);
    }
    schedule();
  }

  void take(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string bytes = ss.str();
    cb::sdk::InboundRecord rec;
    const std::string id = sha256Hex(bytes);
    rec.sender_message_id = id;
    rec.content_type = content_type_;
    rec.record_type = record_type_;
    rec.payload = bytes;
    const std::string name = file.filename().string();
    const bool accepted = host_.submit(rec, [this, file, name](cb::sdk::SubmitResult r, std::string_view message_id,
                                                               std::string_view reason) {
      std::error_code ec;
      if (r == cb::sdk::SubmitResult::Stored || r == cb::sdk::SubmitResult::Duplicate) {
        fs::rename(file, processed_ / name, ec);
        if (!marker_.empty()) fs::remove(watch_ / (name + marker_), ec);
        host_.debug("file stored as message " + std::string(message_id));
      } else if (r == cb::sdk::SubmitResult::Refused) {
        fs::rename(file, failed_ / name, ec);
        host_.warn("a file was refused and moved to " + failed_.string() + ": " + std::string(reason));
      } else {
        // Not stored: forget it so the next poll offers it again.
        std::lock_guard lock(mutex_);
        seen_.erase(name);
      }
    });
    if (!accepted) {
      std::lock_guard lock(mutex_);
      seen_.erase(name);
    }
  }

  cb::sdk::Host host_;
  fs::path watch_, processed_, failed_;
  std::string suffix_, marker_;
  std::chrono::milliseconds poll_;
  std::string content_type_, record_type_;
  fs::path out_;
  std::string out_suffix_;
  std::mutex mutex_;
  bool stopping_ = false;
  std::map<std::string, Seen> seen_;
};

}  // namespace

CB_PLUGIN(FiledropAdapter, "filedrop", "1.0.0", "Records as files in watched folders (vendor exports)",
          CB_CAP_INBOUND | CB_CAP_OUTBOUND, kKeys)
