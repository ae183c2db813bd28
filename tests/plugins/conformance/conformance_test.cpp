// The plugin conformance suite: one parameterised GoogleTest suite, the same
// checks for every adapter plugin, each loaded from its real .so through the
// real plugin host (PluginHost + Adapter) as the daemon does it. What is
// particular to a plugin (how to send it a record, how to stand up a partner
// for it) is in its driver (*_driver.cpp, conformance.h); a check a plugin's
// driver cannot drive is skipped with the reason, never passed silently.
#include "conformance.h"

#include "common/log.h"
#include "plugin_host/plugin_host.h"

#include <boost/asio/executor_work_guard.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <atomic>
#include <climits>
#include <condition_variable>
#include <deque>
#include <future>
#include <set>
#include <thread>

namespace cb::conformance {

const char* toString(Ack a) {
  switch (a) {
    case Ack::Accepted: return "Accepted";
    case Ack::RetryLater: return "RetryLater";
    case Ack::Refused: return "Refused";
    case Ack::Nothing: return "Nothing";
  }
  return "?";
}

net::TlsSettings Harness::tls(const std::string& name) const {
  net::TlsSettings t;
  t.certificate = certs() / (name + ".pem");
  t.private_key = certs() / (name + ".key");
  t.ca = certs() / "ca.pem";
  t.server_name = "localhost";
  return t;
}

std::vector<DriverEntry>& drivers() {
  static std::vector<DriverEntry> all;
  return all;
}

DriverRegistration::DriverRegistration(std::string name, std::function<std::unique_ptr<PluginDriver>()> make) {
  drivers().push_back({std::move(name), std::move(make)});
}

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Plays the daemon's store: stores (detecting duplicates by sender id),
// refuses, is unavailable, or holds each submission until released.
class ScriptedStore : public plugin_host::AdapterEvents {
 public:
  enum class Mode { Store, Hold, Refuse, Unavailable };

  void submit(const plugin_host::Adapter&, plugin_host::InboundSubmission r,
              std::function<void(plugin_host::SubmitReply)> reply) override {
    std::unique_lock lock(mutex_);
    received_.push_back(r);
    if (mode_ == Mode::Hold) {
      held_.emplace_back(std::move(r), std::move(reply));
      lock.unlock();
      cv_.notify_all();
      return;
    }
    auto answer = answerFor(r);
    lock.unlock();
    cv_.notify_all();
    reply(answer);
  }
  void tlsRefused(const plugin_host::Adapter&, const net::TlsRefusal&) override {}

  void setMode(Mode m) {
    std::lock_guard lock(mutex_);
    mode_ = m;
  }
  void releaseAll() {
    std::deque<std::pair<plugin_host::InboundSubmission, std::function<void(plugin_host::SubmitReply)>>> h;
    std::vector<plugin_host::SubmitReply> answers;
    {
      std::lock_guard lock(mutex_);
      mode_ = Mode::Store;
      h.swap(held_);
      for (auto& [r, reply] : h) answers.push_back(answerFor(r));
    }
    for (std::size_t i = 0; i < h.size(); ++i) h[i].second(answers[i]);
  }
  bool waitReceived(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return received_.size() >= n; });
  }
  std::vector<plugin_host::InboundSubmission> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  plugin_host::SubmitReply answerFor(const plugin_host::InboundSubmission& r) {
    if (mode_ == Mode::Refuse) return {CB_SUBMIT_REFUSED, {}, "record larger than the route allows"};
    if (mode_ == Mode::Unavailable) return {CB_SUBMIT_UNAVAILABLE, {}, "store is failing"};
    const std::string key = r.sender_message_id.empty() ? r.payload : r.sender_message_id;
    const bool dup = !ids_.insert(key).second;
    return {dup ? CB_SUBMIT_DUPLICATE : CB_SUBMIT_STORED,
            "0190f3a0-0000-7000-8000-" + std::to_string(100000000000 + ids_.size()), {}};
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  Mode mode_ = Mode::Store;
  std::vector<plugin_host::InboundSubmission> received_;
  std::deque<std::pair<plugin_host::InboundSubmission, std::function<void(plugin_host::SubmitReply)>>> held_;
  std::set<std::string> ids_;
};

// One delivery's reports: the first is kept, every one is counted.
struct Reports {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<plugin_host::DeliveryReport> all;
  std::optional<plugin_host::DeliveryReport> first(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex);
    if (!cv.wait_for(lock, timeout, [&] { return !all.empty(); })) return std::nullopt;
    return all.front();
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return all.size();
  }
};

std::string status(cb_status s) { return s == CB_OK ? "ok" : s == CB_RETRY ? "retry" : "fail"; }

class PluginConformance : public ::testing::TestWithParam<DriverEntry>, public Harness {
 protected:
  test::TempDir tmp_;
  fs::path certs_ = test::devCerts();
  plugin_host::PluginHost host_{test::pluginDir()};
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  ScriptedStore store_;
  std::unique_ptr<PluginDriver> driver_;
  std::unique_ptr<Peer> peer_;
  std::vector<std::unique_ptr<SentRecord>> sent_;
  std::vector<std::shared_ptr<plugin_host::Adapter>> adapters_;
  std::map<std::string, std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt>> rings_;
  int next_adapter_ = 0;

  // ---- Harness
  const fs::path& dir() const override { return tmp_.path(); }
  const fs::path& certs() const override { return certs_; }
  boost::asio::io_context& io() override { return io_; }
  std::vector<std::string> logLines(const std::string& adapter) const override {
    auto it = rings_.find(adapter);
    return it == rings_.end() ? std::vector<std::string>{} : it->second->last_formatted();
  }

  void SetUp() override {
    driver_ = GetParam().make();
    if (!driver_->required() && !fs::exists(plugin_host::pluginPath(test::pluginDir(), driver_->plugin()))) {
      GTEST_SKIP() << "plugin '" << driver_->plugin() << "' is not built here";
    }
    work_ = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(io_.get_executor());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  void TearDown() override {
    for (auto& a : adapters_) a->stop(2s);
    adapters_.clear();
    sent_.clear();
    peer_.reset();
    driver_.reset();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    for (const auto& [name, ring] : rings_) {
      auto& sinks = log::get("plugin." + name)->sinks();
      sinks.erase(std::remove(sinks.begin(), sinks.end(), ring), sinks.end());
    }
  }

  // Resolves, creates and starts an adapter as the daemon does; the error
  // text of whichever step refused it.
  Result<std::shared_ptr<plugin_host::Adapter>> tryStart(const AdapterSpec& spec) {
    auto lib = host_.library(driver_->plugin());
    if (!lib) return lib.error();
    config::AdapterSettings a;
    a.name = "conf-" + driver_->plugin() + "-" + std::to_string(++next_adapter_);
    a.plugin = driver_->plugin();
    a.organisation = "RAT";
    a.where = {"carebridge.toml", 40};
    a.tls = spec.tls;
    std::uint32_t line = 42;
    for (const auto& [k, v] : spec.settings) {
      const bool integer = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
      const bool boolean = v == "true" || v == "false";
      a.settings[k] = {v, !integer && !boolean, integer, boolean, {"carebridge.toml", line++}};
    }
    auto resolved = host_.resolveSettings(**lib, a, dir());
    if (!resolved) return resolved.error();
    auto adapter = plugin_host::Adapter::create(*lib, a, *resolved, io_, store_, SystemClock::instance());
    if (!adapter) return adapter.error();
    auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(128);
    log::get("plugin." + a.name)->sinks().push_back(ring);
    rings_[a.name] = ring;
    adapters_.push_back(*adapter);
    auto started = (*adapter)->start();
    if (!started) return started.error();
    return *adapter;
  }

  std::shared_ptr<plugin_host::Adapter> start(const AdapterSpec& spec) {
    auto a = tryStart(spec);
    EXPECT_TRUE(a) << a.error().message;
    return a ? *a : nullptr;
  }

  std::shared_ptr<plugin_host::Adapter> inbound() { return start(driver_->inboundSpec(*this)); }

  std::shared_ptr<plugin_host::Adapter> outbound() {
    peer_ = driver_->startPeer(*this);
    if (!peer_) {
      ADD_FAILURE() << "the driver delivers but has no peer";
      return nullptr;
    }
    return start(driver_->outboundSpec(*this, *peer_));
  }

  SentRecord& send(plugin_host::Adapter& a, const std::string& id, std::string& payload) {
    sent_.push_back(driver_->send(*this, a, id, payload));
    return *sent_.back();
  }

  std::shared_ptr<Reports> deliverAsync(plugin_host::Adapter& a, const OutboundRecord& r, const std::string& id,
                                        std::uint32_t attempt = 1) {
    auto reports = std::make_shared<Reports>();
    plugin_host::DeliveryRequest req;
    req.message_id = id;
    req.content_type = r.content_type;
    req.record_type = r.record_type;
    req.payload = std::make_shared<const std::string>(r.payload);
    req.attempt = attempt;
    a.deliver(req, [reports](plugin_host::DeliveryReport rep) {
      {
        std::lock_guard lock(reports->mutex);
        reports->all.push_back(std::move(rep));
      }
      reports->cv.notify_all();
    });
    return reports;
  }

  plugin_host::DeliveryReport deliver(plugin_host::Adapter& a, const OutboundRecord& r, const std::string& id,
                                      std::uint32_t attempt = 1) {
    auto rep = deliverAsync(a, r, id, attempt)->first(20s);
    if (!rep) {
      ADD_FAILURE() << "no report for delivery " << id;
      return {CB_RETRY, "no report", 0, {}};
    }
    return *rep;
  }

  // Stops the adapter on a thread of its own; false if stop() did not return in time.
  static bool stopWithin(const std::shared_ptr<plugin_host::Adapter>& a, std::chrono::seconds limit) {
    auto done = std::make_shared<std::promise<void>>();
    auto f = done->get_future();
    std::thread([a, done] {
      a->stop(2s);
      done->set_value();
    }).detach();
    return f.wait_for(limit) == std::future_status::ready;
  }
};

std::string idFor(const char* test) { return std::string("cf-") + test; }

// ---------------------------------------------------------------- load

TEST_P(PluginConformance, LoadsWithTheHostsAbiAndDeclaresItsSettings) {
  auto lib = host_.library(driver_->plugin());
  ASSERT_TRUE(lib) << lib.error().message;
  const cb_plugin& api = (*lib)->api();
  EXPECT_EQ(api.abi_major, CB_PLUGIN_ABI_MAJOR) << (*lib)->abiVersion();
  EXPECT_LE(api.abi_minor, CB_PLUGIN_ABI_MINOR) << (*lib)->abiVersion();
  EXPECT_GE(api.struct_size, offsetof(cb_plugin, destroy) + sizeof(api.destroy));
  EXPECT_EQ((*lib)->name(), driver_->plugin());
  EXPECT_FALSE((*lib)->version().empty());
  EXPECT_FALSE((*lib)->description().empty());
  ASSERT_NE(api.create, nullptr);
  ASSERT_NE(api.start, nullptr);
  ASSERT_NE(api.stop, nullptr);
  ASSERT_NE(api.destroy, nullptr);
  if (driver_->receives()) {
    EXPECT_TRUE((*lib)->canReceive());
  }
  if (driver_->delivers()) {
    EXPECT_TRUE((*lib)->canDeliver());
  }
  EXPECT_TRUE((*lib)->canReceive() || (*lib)->canDeliver()) << "a plugin that neither receives nor delivers";

  // Every setting: a unique key, a known type, a line of help, and a row in
  // the plugin's README (operators configure from the README).
  const fs::path readme = test::sourceDir() / "plugins" / driver_->plugin() / "README.md";
  ASSERT_TRUE(fs::exists(readme)) << readme;
  const std::string doc = test::readFile(readme);
  std::set<std::string> keys;
  for (const auto& s : (*lib)->settings()) {
    EXPECT_TRUE(keys.insert(s.key).second) << "setting '" << s.key << "' declared twice";
    EXPECT_FALSE(s.key.empty());
    EXPECT_LE(static_cast<int>(s.type), static_cast<int>(CB_CONFIG_ENDPOINT)) << s.key;
    EXPECT_FALSE(s.help.empty()) << "setting '" << s.key << "' has no help line";
    EXPECT_THAT(doc, HasSubstr("`" + s.key + "`")) << "setting '" << s.key << "' is not in " << readme;
  }
}

// ---------------------------------------------------------------- configuration

TEST_P(PluginConformance, RefusesAnUnknownSettingNamingIt) {
  auto a = tryStart({{{"no_such_setting", "1"}}, {}});
  ASSERT_FALSE(a);
  EXPECT_THAT(a.error().message, HasSubstr("no_such_setting"));
}

TEST_P(PluginConformance, RefusesAWronglyTypedSettingNamingIt) {
  auto lib = host_.library(driver_->plugin());
  ASSERT_TRUE(lib) << lib.error().message;
  for (const auto& s : (*lib)->settings()) {
    if (s.type != CB_CONFIG_INT && s.type != CB_CONFIG_BOOL && s.type != CB_CONFIG_DURATION_MS) continue;
    auto a = tryStart({{{s.key, "forty-two"}}, {}});
    ASSERT_FALSE(a) << s.key << " = \"forty-two\" was accepted";
    EXPECT_THAT(a.error().message, HasSubstr(s.key));
  }
}

TEST_P(PluginConformance, RefusesBadSettingsNamingTheSetting) {
  const auto cases = driver_->badSettings(*this);
  if (cases.empty()) GTEST_SKIP() << "the driver lists no plugin-specific bad settings";
  for (const auto& c : cases) {
    auto a = tryStart(c.spec);
    ASSERT_FALSE(a) << "accepted a configuration that should name '" << c.names << "'";
    EXPECT_THAT(a.error().message, HasSubstr(c.names));
  }
}

// ---------------------------------------------------------------- receive

TEST_P(PluginConformance, AcknowledgesARecordOnlyAfterTheHostStoredIt) {
  if (!driver_->receives()) GTEST_SKIP() << "the driver does not send records to this plugin";
  auto a = inbound();
  ASSERT_TRUE(a);
  store_.setMode(ScriptedStore::Mode::Hold);
  std::string payload;
  SentRecord& sent = send(*a, idFor("stored"), payload);
  ASSERT_TRUE(store_.waitReceived(1)) << "the record was never submitted";
  EXPECT_EQ(sent.wait(300ms), Ack::Nothing) << "acknowledged before the host stored it";
  store_.releaseAll();
  const Ack ack = sent.wait(15s);
  EXPECT_EQ(ack, Ack::Accepted) << toString(ack);
  const auto got = store_.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, payload) << "the host was not handed the record as sent";
}

TEST_P(PluginConformance, DoesNotAcknowledgeWhatTheHostCouldNotStore) {
  if (!driver_->receives()) GTEST_SKIP() << "the driver does not send records to this plugin";
  auto a = inbound();
  ASSERT_TRUE(a);
  store_.setMode(ScriptedStore::Mode::Unavailable);
  std::string payload;
  SentRecord& sent = send(*a, idFor("unavailable"), payload);
  ASSERT_TRUE(store_.waitReceived(1));
  const Ack ack = sent.wait(1s);
  EXPECT_NE(ack, Ack::Accepted) << "acknowledged a record that was not stored";
  EXPECT_NE(ack, Ack::Refused) << "told the sender never to resend a record the host only could not store now";
}

TEST_P(PluginConformance, PassesTheHostsRefusalToTheSender) {
  if (!driver_->receives()) GTEST_SKIP() << "the driver does not send records to this plugin";
  auto a = inbound();
  ASSERT_TRUE(a);
  store_.setMode(ScriptedStore::Mode::Refuse);
  std::string payload;
  SentRecord& sent = send(*a, idFor("refused"), payload);
  const Ack ack = sent.wait(15s);
  EXPECT_EQ(ack, Ack::Refused) << toString(ack);
}

TEST_P(PluginConformance, SurvivesGarbageAndKeepsReceiving) {
  if (!driver_->receives()) GTEST_SKIP() << "the driver does not send records to this plugin";
  auto a = inbound();
  ASSERT_TRUE(a);
  if (auto garbage = driver_->sendGarbage(*this, *a)) {
    const Ack ack = garbage->wait(2s);
    EXPECT_NE(ack, Ack::Accepted) << "garbage was acknowledged as a record";
    sent_.push_back(std::move(garbage));
  }
  std::string payload;
  SentRecord& sent = send(*a, idFor("after-garbage"), payload);
  EXPECT_EQ(sent.wait(15s), Ack::Accepted);
  const auto got = store_.received();
  ASSERT_EQ(got.size(), 1u) << "garbage reached the host";
  EXPECT_EQ(got[0].payload, payload);
}

// ---------------------------------------------------------------- deliver

TEST_P(PluginConformance, DeliversToAWorkingPeer) {
  if (!driver_->delivers()) GTEST_SKIP() << "the driver stands up no peer for this plugin";
  auto a = outbound();
  ASSERT_TRUE(a);
  const std::string id = "0190f3a0-0000-7000-8000-00000000c0f1";
  auto r = deliver(*a, driver_->record(id), id);
  EXPECT_EQ(r.status, CB_OK) << r.reason;
  EXPECT_TRUE(peer_->waitSeen(1, 5s));
}

TEST_P(PluginConformance, RetriesWhenThePeerFailsForNow) {
  if (!driver_->delivers()) GTEST_SKIP() << "the driver stands up no peer for this plugin";
  auto a = outbound();
  ASSERT_TRUE(a);
  if (!peer_->can(Peer::Behaviour::Transient)) GTEST_SKIP() << "the peer cannot fail for now";
  const std::string id = "0190f3a0-0000-7000-8000-00000000c0f2";
  peer_->set(Peer::Behaviour::Transient);
  auto first = deliver(*a, driver_->record(id), id);
  EXPECT_EQ(first.status, CB_RETRY) << status(first.status) << ": " << first.reason;
  EXPECT_FALSE(first.reason.empty());
  peer_->set(Peer::Behaviour::Accept);
  auto second = deliver(*a, driver_->record(id), id, 2);
  EXPECT_EQ(second.status, CB_OK) << second.reason;
}

TEST_P(PluginConformance, RetriesWhenThePeerIsDown) {
  if (!driver_->delivers()) GTEST_SKIP() << "the driver stands up no peer for this plugin";
  auto a = outbound();
  ASSERT_TRUE(a);
  peer_->goDown();
  const std::string id = "0190f3a0-0000-7000-8000-00000000c0f3";
  auto r = deliver(*a, driver_->record(id), id);
  EXPECT_EQ(r.status, CB_RETRY) << status(r.status) << ": " << r.reason;
  EXPECT_FALSE(r.reason.empty());
}

TEST_P(PluginConformance, FailsForGoodWhenThePeerRefuses) {
  if (!driver_->delivers()) GTEST_SKIP() << "the driver stands up no peer for this plugin";
  auto a = outbound();
  ASSERT_TRUE(a);
  if (!peer_->can(Peer::Behaviour::Refuse)) GTEST_SKIP() << "the peer cannot refuse";
  const std::string id = "0190f3a0-0000-7000-8000-00000000c0f4";
  peer_->set(Peer::Behaviour::Refuse);
  auto r = deliver(*a, driver_->refusedRecord(id), id);
  EXPECT_EQ(r.status, CB_ERROR) << status(r.status) << ": " << r.reason;
  EXPECT_FALSE(r.reason.empty());
}

// ---------------------------------------------------------------- shutdown

TEST_P(PluginConformance, StopWithADeliveryInFlightSettlesItAsRetry) {
  if (!driver_->delivers()) GTEST_SKIP() << "the driver stands up no peer for this plugin";
  auto a = outbound();
  ASSERT_TRUE(a);
  if (!peer_->can(Peer::Behaviour::Hang)) {
    GTEST_SKIP() << "the peer cannot hold a delivery (the plugin delivers synchronously); "
                    "StopRacingDeliveriesSettlesEveryOne covers it";
  }
  peer_->set(Peer::Behaviour::Hang);
  const std::string id = "0190f3a0-0000-7000-8000-00000000c0f5";
  auto reports = deliverAsync(*a, driver_->record(id), id);
  ASSERT_TRUE(peer_->waitSeen(1, 10s)) << "the delivery never reached the peer";
  EXPECT_EQ(reports->count(), 0u) << "settled while the peer still held it";
  ASSERT_TRUE(stopWithin(a, 20s)) << "stop() hung with a delivery in flight";
  auto r = reports->first(5s);
  ASSERT_TRUE(r) << "stop() returned leaving the delivery unsettled";
  EXPECT_EQ(r->status, CB_RETRY) << status(r->status) << ": " << r->reason;
  EXPECT_EQ(reports->count(), 1u);
}

TEST_P(PluginConformance, StopRacingDeliveriesSettlesEveryOne) {
  if (!driver_->delivers()) GTEST_SKIP() << "the driver stands up no peer for this plugin";
  auto a = outbound();
  ASSERT_TRUE(a);
  std::vector<std::shared_ptr<Reports>> all;
  std::mutex all_mutex;
  std::vector<std::thread> senders;
  for (int t = 0; t < 3; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string id = "0190f3a0-0000-7000-8000-0000000" + std::to_string(10000 + t * 100 + i);
        auto r = deliverAsync(*a, driver_->record(id), id);
        std::lock_guard lock(all_mutex);
        all.push_back(r);
      }
    });
  }
  ASSERT_TRUE(stopWithin(a, 20s)) << "stop() hung with deliveries racing it";
  for (auto& s : senders) s.join();
  for (auto& r : all) {
    auto rep = r->first(10s);
    ASSERT_TRUE(rep) << "a delivery was never settled";
    EXPECT_NE(rep->status, CB_ERROR) << "stopping turned a delivery into a permanent failure: " << rep->reason;
    EXPECT_EQ(r->count(), 1u);
  }
}

// ---------------------------------------------------------------- robustness

// Whatever the plugin is handed, it answers each delivery exactly once and
// nothing it throws reaches the host (the process would end).
TEST_P(PluginConformance, ReportsEachDeliveryExactlyOnceWhateverItIsGiven) {
  if (!driver_->delivers()) GTEST_SKIP() << "the driver stands up no peer for this plugin";
  auto a = outbound();
  ASSERT_TRUE(a);
  const OutboundRecord good = driver_->record("0190f3a0-0000-7000-8000-00000000c0f6");
  std::string binary(65536, '\0');
  for (std::size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>((i * 131) & 0xff);
  struct Odd {
    std::string id;
    OutboundRecord record;
    std::uint32_t attempt;
  };
  const std::vector<Odd> odd = {
      {"0190f3a0-0000-7000-8000-00000000c0f7", {"", good.content_type, good.record_type}, 1},
      {"0190f3a0-0000-7000-8000-00000000c0f8", {binary, good.content_type, good.record_type}, 1},
      {"0190f3a0-0000-7000-8000-00000000c0f9", {good.payload, "", ""}, 1},
      {"0190f3a0-0000-7000-8000-00000000c0fa", {good.payload, "garbage/\x01;;;", "\x02"}, 1},
      {"", good, 1},
      {"../../\x01\n%00", good, 1},
      {"0190f3a0-0000-7000-8000-00000000c0fb", good, 0},
      {"0190f3a0-0000-7000-8000-00000000c0fc", good, UINT32_MAX},
  };
  std::vector<std::shared_ptr<Reports>> reports;
  for (const auto& o : odd) reports.push_back(deliverAsync(*a, o.record, o.id, o.attempt));
  for (std::size_t i = 0; i < reports.size(); ++i) {
    EXPECT_TRUE(reports[i]->first(20s)) << "odd delivery " << i << " was never settled";
  }
  std::this_thread::sleep_for(200ms);
  for (std::size_t i = 0; i < reports.size(); ++i) EXPECT_LE(reports[i]->count(), 1u) << "odd delivery " << i;
  // And it still works.
  auto r = deliver(*a, good, "0190f3a0-0000-7000-8000-00000000c0fd");
  EXPECT_EQ(r.status, CB_OK) << r.reason;
}

std::string paramName(const ::testing::TestParamInfo<DriverEntry>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Plugins, PluginConformance, ::testing::ValuesIn(drivers()), paramName);

}  // namespace
}  // namespace cb::conformance
