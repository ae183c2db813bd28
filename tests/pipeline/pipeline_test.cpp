// The pipeline in one process, with the fake plugin as partner systems:
// receive -> route -> deliver against a real SQLite store.
#include "pipeline/deliver.h"
#include "pipeline/receive.h"
#include "pipeline/route.h"
#include "pipeline/subject_key.h"
#include "plugin_host/plugin_host.h"
#include "store/sqlite.h"
#include "support/test_support.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <map>
#include <sstream>
#include <thread>

namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class PipelineTest : public ::testing::Test {
 protected:
  cb::test::TempDir dir;
  boost::asio::io_context io;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::unique_ptr<cb::store::Store> store;
  std::unique_ptr<cb::pipeline::SubjectKeyer> keyer;
  cb::pipeline::TopologyHolder topology;
  std::unique_ptr<cb::pipeline::Scheduler> scheduler;
  std::unique_ptr<cb::pipeline::Router> router;
  std::unique_ptr<cb::pipeline::Receiver> receiver;
  std::map<std::string, std::shared_ptr<cb::plugin_host::Adapter>> adapters;
  cb::plugin_host::PluginHost host{cb::test::pluginDir()};

  void SetUp() override {
    work = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(io.get_executor());
    for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
    fs::create_directories(dir / "inbox");
  }

  void TearDown() override {
    if (scheduler) scheduler->stop(std::chrono::seconds(2));
    for (auto& [n, a] : adapters) a->stop(std::chrono::seconds(2));
    if (router) router->stop(std::chrono::seconds(2));
    work.reset();
    io.stop();
    for (auto& t : threads) t.join();
  }

  // Starts the pipeline: inbound fake "src" reads dir/inbox; outbound fake
  // "dst" behaves per `dst_settings`; a passthrough route between them.
  void start(const std::string& dst_settings, const std::string& delivery = "",
             std::size_t payload_budget = 64u << 20) {
    const std::string text = "[daemon]\ndata_dir = \"state\"\n"
                             "[[adapter]]\nname = \"src\"\nplugin = \"fake\"\norganisation = \"RPG\"\n"
                             "  [adapter.settings]\n  inbox = \"inbox\"\n  poll = \"20ms\"\n"
                             "[[adapter]]\nname = \"dst\"\nplugin = \"fake\"\norganisation = \"00AF\"\n"
                             "  [adapter.settings]\n" +
                             dst_settings + "\n  [adapter.delivery]\n  initial_backoff = \"20ms\"\n  max_backoff = \"50ms\"\n" +
                             delivery +
                             "\n[[route]]\nname = \"r\"\nfrom = \"src\"\nto = [\"dst\"]\nmode = \"passthrough\"\n";
    auto c = cb::config::loadFromString(text, "test.toml", dir.path());
    ASSERT_TRUE(c) << c.error().message;
    fs::create_directories(dir / "state");
    cb::store::StoreOptions so;
    so.path = dir / "state" / "cb.db";
    auto st = cb::store::Store::open(so);
    ASSERT_TRUE(st) << st.error().message;
    store = std::move(*st);
    auto k = cb::pipeline::SubjectKeyer::loadOrCreate(dir / "state" / "id.key");
    ASSERT_TRUE(k) << k.error().message;
    keyer = std::make_unique<cb::pipeline::SubjectKeyer>(std::move(*k));
    scheduler =
        std::make_unique<cb::pipeline::Scheduler>(*store, topology, cb::SystemClock::instance(), payload_budget);
    router = std::make_unique<cb::pipeline::Router>(*store, topology, *scheduler);
    receiver = std::make_unique<cb::pipeline::Receiver>(*store, *keyer, topology, *router);
    for (const auto& a : (*c)->adapters) {
      auto lib = host.library(a.plugin);
      ASSERT_TRUE(lib) << lib.error().message;
      auto settings = host.resolveSettings(**lib, a, (*c)->base_dir);
      ASSERT_TRUE(settings) << settings.error().message;
      auto adapter = cb::plugin_host::Adapter::create(*lib, a, *settings, io, *receiver, cb::SystemClock::instance());
      ASSERT_TRUE(adapter) << adapter.error().message;
      adapters[a.name] = *adapter;
    }
    topology.set(cb::pipeline::buildTopology(*c, adapters));
    ASSERT_TRUE(router->recover());
    ASSERT_TRUE(scheduler->recover());
    router->start();
    scheduler->start();
    for (auto& [n, a] : adapters) ASSERT_TRUE(a->start());
  }

  void drop(const std::string& name, const std::string& body) {
    cb::test::writeFile(dir / "inbox" / ("." + name), body);
    fs::rename(dir / "inbox" / ("." + name), dir / "inbox" / name);
  }

  std::vector<std::string> lines(const fs::path& p) {
    std::vector<std::string> out;
    std::istringstream in(cb::test::readFile(p));
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }

  bool waitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return cond();
  }

  std::vector<std::string> auditActions() {
    std::vector<std::string> out;
    auto rows = store->auditEntries(0, 100000);
    for (const auto& r : *rows) out.push_back(r.action + "/" + r.outcome);
    return out;
  }

  std::int64_t count(const char* state) {
    cb::store::DeliveryFilter f;
    f.state = cb::store::deliveryStateFrom(state);
    f.limit = 100000;
    return static_cast<std::int64_t>(store->deliveries(f)->size());
  }
};

TEST_F(PipelineTest, ARecordTravelsAndEveryStepIsAudited) {
  start("  record_file = \"delivered.txt\"");
  drop("p1-0001", "<record>one</record>");
  ASSERT_TRUE(waitFor([&] { return lines(dir / "delivered.txt").size() == 1; }));
  ASSERT_TRUE(waitFor([&] { return count("delivered") == 1; }));
  EXPECT_THAT(lines(dir / "delivered.txt")[0], HasSubstr(" 1 20"));
  const auto actions = auditActions();
  EXPECT_THAT(actions, ::testing::ElementsAre("record.received/success", "record.translated/success",
                                              "sharing.decided/success", "delivery.attempt/success"));
  // The decision says plainly that a passthrough route checked no agreement.
  auto rows = store->auditEntries(0, 10);
  EXPECT_THAT((*rows)[2].entry, HasSubstr("no information-sharing agreement checked"));
  EXPECT_EQ((*rows)[3].destination_org, "00AF");
  // No identifier of the person appears in the trail, only its keyed hash.
  for (const auto& r : *rows) EXPECT_THAT(r.entry, ::testing::Not(HasSubstr("\"p1\"")));
}

TEST_F(PipelineTest, PerPersonOrderHoldsThroughRetries) {
  // Every message fails twice before it gets through; people interleave.
  start("  record_file = \"delivered.txt\"\n  fail_first = 2");
  const std::vector<std::string> names = {"a-01", "b-01", "a-02", "c-01", "a-03", "b-02", "a-04", "c-02"};
  for (const auto& n : names) drop(n, "<r>" + n + "</r>");
  ASSERT_TRUE(waitFor([&] { return count("delivered") == 8; }, std::chrono::seconds(20)));
  // Map delivered message ids back to the file names through the store.
  std::map<std::string, std::string> name_of;
  for (const auto& l : lines(dir / "delivered.txt")) {
    const std::string id = l.substr(0, l.find(' '));
    auto m = store->message(id);
    name_of[id] = (*m)->sender_message_id;
  }
  std::map<std::string, std::vector<std::string>> per_person;
  for (const auto& l : lines(dir / "delivered.txt")) {
    const std::string n = name_of[l.substr(0, l.find(' '))];
    per_person[n.substr(0, 1)].push_back(n);
    EXPECT_THAT(l, HasSubstr(" 3 "));  // delivered at the third attempt
  }
  for (auto& [person, got] : per_person) {
    auto sorted = got;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(got, sorted) << "person " << person << " out of order";
  }
}

TEST_F(PipelineTest, RepeatedFailuresEndInTheDeadLetterQueue) {
  start("  mode = \"retry\"", "  max_attempts = 3\n");
  drop("p1-0001", "x");
  ASSERT_TRUE(waitFor([&] { return count("dead") == 1; }));
  auto dead = store->deliveries({cb::store::DeliveryState::Dead, "", "", 10});
  EXPECT_EQ((*dead)[0].attempts, 3u);
  EXPECT_THAT((*dead)[0].last_error, HasSubstr("gave up after 3 attempts"));
  const auto actions = auditActions();
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "delivery.attempt/retry"), 2);
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "delivery.attempt/failure"), 1);
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "delivery.dead-lettered/failure"), 1);
}

TEST_F(PipelineTest, APermanentRefusalIsDeadLetteredAtOnceAndReplayable) {
  start("  mode = \"fail\"");
  drop("p1-0001", "x");
  ASSERT_TRUE(waitFor([&] { return count("dead") == 1; }));
  auto dead = store->deliveries({cb::store::DeliveryState::Dead, "", "", 10});
  EXPECT_EQ((*dead)[0].attempts, 1u);
  EXPECT_THAT((*dead)[0].last_error, HasSubstr("refused by the destination"));
  // Replay from "another process" (a second store handle, as the CLI does),
  // then the scheduler notices and retries; it fails again (still mode=fail).
  cb::store::StoreOptions so;
  so.path = dir / "state" / "cb.db";
  auto cli = cb::store::Store::open(so);
  ASSERT_TRUE(cli);
  ASSERT_TRUE((*cli)->replaySync({(*dead)[0].seq}, cb::audit::Actor::person("op", "", "operator"), "test"));
  ASSERT_TRUE(store->changedElsewhere());
  ASSERT_TRUE(scheduler->rescan());
  ASSERT_TRUE(waitFor([&] {
    auto d = store->delivery((*dead)[0].seq);
    return (*d)->state == cb::store::DeliveryState::Dead && (*d)->attempts == 1 &&
           (*d)->updated_at_ms > (*dead)[0].updated_at_ms;
  }));
  const auto actions = auditActions();
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "delivery.replayed/success"), 1);
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "delivery.dead-lettered/failure"), 2);
}

TEST_F(PipelineTest, AnAttemptThePluginNeverReportsTimesOutAndIsRetried) {
  start("  mode = \"hang\"", "  attempt_timeout = \"200ms\"\n  max_attempts = 2\n");
  drop("p1-0001", "x");
  ASSERT_TRUE(waitFor([&] { return count("dead") == 1; }));
  auto dead = store->deliveries({cb::store::DeliveryState::Dead, "", "", 10});
  EXPECT_THAT((*dead)[0].last_error, HasSubstr("no report from the adapter within 200 ms"));
}

TEST_F(PipelineTest, ADownPartnerGetsEverythingOnceItIsBack) {
  cb::test::writeFile(dir / "down", "");
  start("  record_file = \"delivered.txt\"\n  down_file = \"down\"");
  for (int i = 0; i < 10; ++i) drop("p" + std::to_string(i % 3) + "-" + std::to_string(100 + i), "x");
  ASSERT_TRUE(waitFor([&] {
    auto a = auditActions();
    return std::count(a.begin(), a.end(), "delivery.attempt/retry") >= 6;
  }));
  EXPECT_EQ(count("delivered"), 0);
  fs::remove(dir / "down");
  ASSERT_TRUE(waitFor([&] { return count("delivered") == 10; }, std::chrono::seconds(20)));
  EXPECT_EQ(lines(dir / "delivered.txt").size(), 10u);
}

TEST_F(PipelineTest, ADuplicateSenderIdIsStoredOnce) {
  start("  record_file = \"delivered.txt\"");
  drop("p1-0001", "x");
  ASSERT_TRUE(waitFor([&] { return count("delivered") == 1; }));
  drop("p1-0001", "x");
  ASSERT_TRUE(waitFor([&] {
    auto a = auditActions();
    return std::count(a.begin(), a.end(), "record.duplicate/success") == 1;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(lines(dir / "delivered.txt").size(), 1u);
}

// Each delivery sends exactly its record's bytes, whether the scheduler
// still held them in memory or, past its budget, read them from the store.
class PayloadBudgetTest : public PipelineTest, public ::testing::WithParamInterface<std::size_t> {};

TEST_P(PayloadBudgetTest, EveryRecordIsSentWithItsOwnBytes) {
  start("  record_file = \"delivered.txt\"", "", GetParam());
  std::map<std::string, std::size_t> sizes;
  for (int i = 1; i <= 20; ++i) {
    const std::string name = "p" + std::to_string(i) + "-0001";
    drop(name, std::string(static_cast<std::size_t>(100 * i), 'x'));
    sizes[name] = static_cast<std::size_t>(100 * i);
  }
  ASSERT_TRUE(waitFor([&] { return count("delivered") == 20; }));
  const auto delivered = lines(dir / "delivered.txt");
  ASSERT_EQ(delivered.size(), 20u);
  for (const auto& line : delivered) {
    std::istringstream in(line);
    std::string id;
    int attempt = 0;
    std::size_t bytes = 0;
    in >> id >> attempt >> bytes;
    auto m = store->message(id);
    ASSERT_TRUE(m && *m) << line;
    EXPECT_EQ(bytes, sizes[(*m)->sender_message_id]) << line;
  }
}

// 0: every payload read back from the store; 1000: some held, some not;
// the default: all held.
INSTANTIATE_TEST_SUITE_P(Budgets, PayloadBudgetTest, ::testing::Values(0u, 1000u, 64u << 20));

TEST_F(PipelineTest, WorkLeftInTheStoreIsPickedUpAtStart) {
  // A record stored but never routed (the daemon died) is routed and
  // delivered when the pipeline starts.
  {
    fs::create_directories(dir / "state");
    cb::store::StoreOptions so;
    so.path = dir / "state" / "cb.db";
    auto st = cb::store::Store::open(so);
    cb::store::NewMessage m;
    m.source = "src";
    m.content_type = "text/plain";
    m.payload = "left behind";
    std::promise<bool> p;
    (*st)->submit(m, [&p](auto r) { p.set_value(r.ok()); });
    ASSERT_TRUE(p.get_future().get());
  }
  start("  record_file = \"delivered.txt\"");
  ASSERT_TRUE(waitFor([&] { return count("delivered") == 1; }));
}

}  // namespace
