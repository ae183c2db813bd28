// A scriptable adapter for tests. Outbound behaviour is chosen by settings:
//   mode = ok | retry | fail | throw | hang | crash
//   fail_first = N     the first N attempts of each message answer retry
//   down_file = PATH   while this file exists, every attempt answers retry
//   record_file = PATH each delivery appends "<message id> <attempt> <bytes>\n"
//   crash_after = N    abort() the whole process on the N-th delivery
// Inbound: `inbox` = PATH: every `poll` the adapter submits each file in the
// folder (sender id = file name) and deletes it once stored.
#include <carebridge/plugin_sdk.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <algorithm>
#include <mutex>
#include <set>
#include <vector>
#include <sstream>
#include <stdexcept>

namespace {

namespace fs = std::filesystem;

const cb_config_key kKeys[] = {
    {"mode", CB_CONFIG_STRING, "ok", "ok | retry | fail | throw | hang | crash"},
    {"fail_first", CB_CONFIG_INT, "0", "answer retry for the first N attempts of each message"},
    {"down_file", CB_CONFIG_PATH, "", "answer retry while this file exists"},
    {"record_file", CB_CONFIG_PATH, "", "append one line per delivery"},
    {"crash_after", CB_CONFIG_INT, "0", "abort the process on the N-th delivery (0 = never)"},
    {"inbox", CB_CONFIG_PATH, "", "submit files found here"},
    {"poll", CB_CONFIG_DURATION_MS, "100ms", "inbox poll interval"},
    {"throw_in_create", CB_CONFIG_BOOL, "false", "throw from the constructor"},
};

class FakeAdapter final : public cb::sdk::Adapter {
 public:
  FakeAdapter(cb::sdk::Host host, const cb::sdk::Config& c)
      : host_(host),
        mode_(c.str("mode")),
        fail_first_(c.integer("fail_first")),
        down_file_(c.str("down_file")),
        record_file_(c.str("record_file")),
        crash_after_(c.integer("crash_after")),
        inbox_(c.str("inbox")),
        poll_(c.duration("poll")) {
    if (c.boolean("throw_in_create")) throw std::runtime_error("fake adapter told to throw in create");
  }

  void start() override {
    if (!inbox_.empty()) host_.after(poll_, [this] { scan(); });
  }

  void deliver(const cb::sdk::Delivery& d, cb::sdk::DeliveryDone&& done) override {
    ++deliveries_;
    if (crash_after_ > 0 && deliveries_ >= crash_after_) std::abort();
    if (mode_ == "throw") throw std::runtime_error("fake adapter told to throw in deliver");
    if (mode_ == "hang") {
      hung_.push_back(std::make_shared<cb::sdk::DeliveryDone>(std::move(done)));
      return;
    }
    if (mode_ == "fail") {
      done.fail("fake partner refuses everything");
      return;
    }
    if (mode_ == "retry") {
      done.retry("fake partner always busy");
      return;
    }
    std::error_code ec;
    if (!down_file_.empty() && fs::exists(down_file_, ec)) {
      done.retry("fake partner is down");
      return;
    }
    if (static_cast<std::int64_t>(d.attempt) <= fail_first_) {
      done.retry("fake partner fails attempt " + std::to_string(d.attempt));
      return;
    }
    if (!record_file_.empty()) {
      std::lock_guard lock(mutex_);
      std::ofstream out(record_file_, std::ios::app);
      out << d.message_id << " " << d.attempt << " " << d.payload.size() << "\n";
    }
    done.ok();
  }

  void stop() override {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& h : hung_) h->retry("fake adapter stopping");
    hung_.clear();
  }

 private:
  void scan() {
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(inbox_, ec)) {
      if (e.is_regular_file(ec) && e.path().filename().string()[0] != '.') files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      {
        std::lock_guard lock(mutex_);
        if (!pending_.insert(f.string()).second) continue;
      }
      std::ifstream in(f, std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      const std::string body = ss.str();
      const std::string name = f.filename().string();
      const std::string subject = name.substr(0, name.find('-'));
      cb::sdk::InboundRecord r;  // views: everything it points at outlives submit()
      r.sender_message_id = name;
      r.content_type = "text/plain";
      r.subject = subject;
      r.payload = body;
      const bool ok = host_.submit(r, [this, f](cb::sdk::SubmitResult res, std::string_view, std::string_view) {
        std::error_code e2;
        if (res == cb::sdk::SubmitResult::Stored || res == cb::sdk::SubmitResult::Duplicate) fs::remove(f, e2);
        std::lock_guard lock(mutex_);
        pending_.erase(f.string());
      });
      if (!ok) {
        std::lock_guard lock(mutex_);
        pending_.erase(f.string());
      }
    }
    std::lock_guard lock(mutex_);
    if (!stopping_) host_.after(poll_, [this] { scan(); });
  }

  cb::sdk::Host host_;
  std::string mode_;
  std::int64_t fail_first_;
  std::string down_file_, record_file_;
  std::int64_t crash_after_;
  std::string inbox_;
  std::chrono::milliseconds poll_;
  std::mutex mutex_;
  std::int64_t deliveries_ = 0;
  bool stopping_ = false;
  std::set<std::string> pending_;
  std::vector<std::shared_ptr<cb::sdk::DeliveryDone>> hung_;
};

}  // namespace

CB_PLUGIN(FakeAdapter, "fake", "0.0.1", "Scriptable adapter for tests", CB_CAP_INBOUND | CB_CAP_OUTBOUND, kKeys)
