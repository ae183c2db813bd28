// Driver for the `filedrop` plugin: a record goes in as a file the sender
// writes under a temporary name and renames into the landing folder; the
// "acknowledgement" is the file moving to the archive (stored) or the error
// folder (refused). The peer is the outbound folder: down is the folder gone
// (an unmounted share), a refusal is a file over the partner's out_max_bytes.
// Deliveries are synchronous file writes, so there is no hanging peer.
#include "conformance.h"

#include <sys/stat.h>

#include <thread>

namespace cb::conformance {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::size_t kPartnerLimit = 65536;

class FileSent final : public SentRecord {
 public:
  FileSent(fs::path landing, std::string name) : landing_(std::move(landing)), name_(std::move(name)) {}
  Ack wait(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (const Ack a = look(); a != Ack::Nothing || std::chrono::steady_clock::now() >= deadline) return a;
      std::this_thread::sleep_for(10ms);
    }
  }

 private:
  Ack look() const {
    std::error_code ec;
    if (fs::exists(landing_ / name_, ec)) return Ack::Nothing;
    if (fs::exists(landing_ / "error" / (name_ + ".reason.txt"), ec)) return Ack::Refused;
    for (const auto& e : fs::recursive_directory_iterator(landing_ / "archive", ec)) {
      if (e.path().filename() == name_) return Ack::Accepted;
    }
    return Ack::Nothing;
  }
  fs::path landing_;
  std::string name_;
};

class FolderPeer final : public Peer {
 public:
  explicit FolderPeer(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }
  bool can(Behaviour b) const override { return b != Behaviour::Hang; }
  void set(Behaviour b) override {
    std::error_code ec;
    if (b == Behaviour::Transient) fs::remove_all(dir_, ec);  // the share is unmounted for a while
    if (b == Behaviour::Accept) fs::create_directories(dir_, ec);
    // Refuse: the driver's refusedRecord() is over the partner's limit.
  }
  void goDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::size_t seen() const override {
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec)) {
      const std::string name = e.path().filename().string();
      if (!name.empty() && name[0] != '.' && name.size() > 4 && name.substr(name.size() - 4) == ".dat") ++n;
    }
    return n;
  }
  bool waitSeen(std::size_t n, std::chrono::milliseconds timeout) const override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (seen() < n && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    return seen() >= n;
  }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};

class FiledropDriver final : public PluginDriver {
 public:
  std::string plugin() const override { return "filedrop"; }
  bool receives() const override { return true; }
  bool delivers() const override { return true; }

  std::vector<BadSettings> badSettings(Harness& h) override {
    const std::string landing = (h.dir() / "landing").string();
    return {{{{{"watch_dir", landing}, {"completion_marker", "done"}}, {}}, "completion_marker"},
            {{{{"watch_dir", landing}, {"error_dir", landing}}, {}}, "error_dir"},
            {{{{"out_dir", landing}, {"out_suffix", "a/b"}}, {}}, "out_suffix"}};
  }

  AdapterSpec inboundSpec(Harness& h) override {
    return {{{"watch_dir", (h.dir() / "landing").string()}, {"poll_interval", "50"}, {"stable_polls", "0"}}, {}};
  }

  std::unique_ptr<SentRecord> send(Harness& h, plugin_host::Adapter&, const std::string& id,
                                   std::string& payload) override {
    const fs::path landing = h.dir() / "landing";
    payload = "nhs_number,enquiry\n9990000018," + id + "\n";
    const std::string name = id + ".csv";
    test::writeFile(landing / (name + ".part"), payload);
    fs::rename(landing / (name + ".part"), landing / name);
    return std::make_unique<FileSent>(landing, name);
  }

  std::unique_ptr<SentRecord> sendGarbage(Harness& h, plugin_host::Adapter&) override {
    // What turns up in real landing folders: a named pipe (opening it would
    // block a reader forever), a dangling link, a folder with a file's name.
    const fs::path landing = h.dir() / "landing";
    ::mkfifo((landing / "pipe.csv").c_str(), 0600);
    std::error_code ec;
    fs::create_symlink(landing / "nowhere", landing / "dangling.csv", ec);
    fs::create_directories(landing / "folder.csv", ec);
    return std::make_unique<FileSent>(landing, "pipe.csv");
  }

  std::unique_ptr<Peer> startPeer(Harness& h) override { return std::make_unique<FolderPeer>(h.dir() / "outbox"); }

  AdapterSpec outboundSpec(Harness&, Peer& p) override {
    return {{{"out_dir", static_cast<FolderPeer&>(p).dir().string()},
             {"out_max_bytes", std::to_string(kPartnerLimit)}},
            {}};
  }

  OutboundRecord record(const std::string& message_id) override {
    return {"nhs_number,enquiry\n9990000018," + message_id + "\n", "text/csv", {}};
  }
  OutboundRecord refusedRecord(const std::string&) override {
    return {std::string(kPartnerLimit + 1, 'x'), "text/csv", {}};
  }
};

}  // namespace

CB_CONFORMANCE_DRIVER(filedrop, FiledropDriver);

}  // namespace cb::conformance
