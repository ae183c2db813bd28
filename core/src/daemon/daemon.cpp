#include "daemon/daemon.h"

#include "admin/admin_server.h"
#include "audit/checkpointer.h"
#include "audit/export_atna.h"
#include "audit/retention.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/thread_name.h"
#include "config/config.h"
#include "net/tls.h"
#include "pipeline/deliver.h"
#include "pipeline/mapped_stages.h"
#include "pipeline/receive.h"
#include "pipeline/route.h"
#include "pipeline/subject_key.h"
#include "pipeline/topology.h"
#include "plugin_host/adapter.h"
#include "plugin_host/plugin_host.h"
#include "policy/policy_set.h"
#include "store/store.h"
#include "xml/safe_xml.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <systemd/sd-daemon.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace cb::daemon {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto lg = log::get("daemon");
  return lg;
}

using AdapterMap = std::map<std::string, std::shared_ptr<plugin_host::Adapter>>;

// Every check a running daemon would make of a configuration before using
// it, without binding anything: plugins and settings, TLS files.
Status validate(const config::Config& c, plugin_host::PluginHost& plugins) {
  std::string errors;
  if (auto s = plugins.validate(c); !s) errors = s.error().message;
  for (const auto& a : c.adapters) {
    if (!a.tls) continue;
    if (auto t = net::makeServerTlsContext(*a.tls); !t) {
      errors += (errors.empty() ? "" : "\n") + a.where.str() + ": adapter '" + a.name + "': tls: " + t.error().message;
    }
  }
  if (c.admin.tls) {
    if (auto t = net::makeServerTlsContext(*c.admin.tls); !t) {
      errors += (errors.empty() ? "" : "\n") + std::string("admin.tls: ") + t.error().message;
    }
  }
  if (!errors.empty()) return fail(errors);
  return {};
}

class Daemon {
 public:
  explicit Daemon(DaemonOptions options) : options_(std::move(options)) {}
  // A start-up that fails half way must not leave the retention thread
  // joinable (std::thread would terminate the process).
  ~Daemon() { stopRetention(); }
  int run();

 private:
  enum class Command { Reload, Stop };

  Status startUp();
  Result<AdapterMap> buildAdapters(const config::Config& c);
  void stopAdapters(AdapterMap& adapters, std::chrono::milliseconds drain);
  void reload();
  void shutDown();
  void post(Command c);
  void auditConfig(const config::Config& c, const AdapterMap& adapters, const pipeline::StageResources& res,
                   bool reload);
  void warnEndingAgreements(const pipeline::StageResources& res);
  std::chrono::steady_clock::time_point last_agreement_warning_{};  ///< once a day, and at every (re)load
  void armWatchdog();
  void armPoll();

  DaemonOptions options_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<audit::Checkpointer> checkpointer_;  ///< signs checkpoints of the audit log
  std::unique_ptr<audit::AtnaSyslogExporter> atna_;   ///< IHE ATNA over syslog/TLS to the SIEM, if configured
  // Payload retention: purges on a thread of its own (it waits for store
  // commits, which must not hold up network I/O).
  std::thread retention_;
  std::mutex retention_mutex_;
  std::condition_variable retention_cv_;
  bool retention_stop_ = false;
  void startRetention();
  void stopRetention();
  std::unique_ptr<pipeline::SubjectKeyer> keyer_;
  std::unique_ptr<plugin_host::PluginHost> plugins_;
  asio::io_context io_;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  pipeline::TopologyHolder topology_;
  std::unique_ptr<pipeline::Scheduler> scheduler_;
  std::unique_ptr<pipeline::Router> router_;
  std::unique_ptr<pipeline::Receiver> receiver_;
  std::unique_ptr<admin::AdminServer> admin_;
  AdapterMap adapters_;
  std::unique_ptr<asio::signal_set> signals_;
  std::unique_ptr<asio::steady_timer> watchdog_;
  std::unique_ptr<asio::steady_timer> poll_;
  std::uint64_t watchdog_usec_ = 0;
  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};
  int collector_ = 0;

  std::mutex commands_mutex_;
  std::condition_variable commands_cv_;
  std::deque<Command> commands_;
};

void Daemon::post(Command c) {
  {
    std::lock_guard lock(commands_mutex_);
    commands_.push_back(c);
  }
  commands_cv_.notify_one();
}

Result<AdapterMap> Daemon::buildAdapters(const config::Config& c) {
  AdapterMap built;
  auto undo = [&built, this] { stopAdapters(built, std::chrono::milliseconds(2000)); };
  for (const auto& a : c.adapters) {
    auto lib = plugins_->library(a.plugin);
    if (!lib) {
      undo();
      return fail(a.where.str() + ": adapter '" + a.name + "': " + lib.error().message);
    }
    auto settings = plugins_->resolveSettings(**lib, a, c.base_dir);
    if (!settings) {
      undo();
      return settings.error();
    }
    auto adapter =
        plugin_host::Adapter::create(*lib, a, std::move(*settings), io_, *receiver_, SystemClock::instance());
    if (!adapter) {
      undo();
      return adapter.error();
    }
    built.emplace(a.name, *adapter);
  }
  for (auto& [name, adapter] : built) {
    if (auto s = adapter->start(); !s) {
      undo();
      return s.error();
    }
  }
  return built;
}

void Daemon::stopAdapters(AdapterMap& adapters, std::chrono::milliseconds drain) {
  for (auto& [name, adapter] : adapters) adapter->stop(drain);
  adapters.clear();
}

void Daemon::warnEndingAgreements(const pipeline::StageResources& res) {
  // Recomputed now rather than taken from the load: a daemon that runs for
  // weeks must still start warning when an agreement enters its last 60 days.
  if (!res.agreements) return;
  for (const auto& e : res.agreements->endingWithin(60)) {
    logger()->warn("agreement {} ({}) ends on {}: {} days left; flows under it stop by themselves then", e.id, e.file,
                   e.end, e.days_left);
  }
  last_agreement_warning_ = std::chrono::steady_clock::now();
}

void Daemon::auditConfig(const config::Config& c, const AdapterMap& adapters, const pipeline::StageResources& res,
                         bool reload) {
  std::vector<audit::AuditEvent> events;
  audit::AuditEvent e;
  e.actor = audit::Actor::system();
  e.action = audit::action::kConfigLoaded;
  e.outcome = audit::outcome::kSuccess;
  e.with("file", c.file.string()).with("sha256", c.file_sha256).with("reload", reload ? "true" : "false");
  e.with("adapters", std::to_string(c.adapters.size())).with("routes", std::to_string(c.routes.size()));
  // The mapping folders and agreements in force from now, by digest, so an
  // auditor can tell exactly which rules decided each later share.
  for (const auto& [file, digest] : res.digests) e.with("loaded", file + " sha256:" + digest);
  events.push_back(std::move(e));
  for (const auto& [name, adapter] : adapters) {
    audit::AuditEvent p;
    p.actor = audit::Actor::system();
    p.action = audit::action::kPluginLoaded;
    p.outcome = audit::outcome::kSuccess;
    p.with("adapter", name).with("plugin", adapter->library().name()).with("version", adapter->library().version());
    p.with("abi", adapter->library().abiVersion()).with("sha256", adapter->library().sha256());
    p.with("organisation", adapter->organisation());
    events.push_back(std::move(p));
  }
  if (auto s = store_->auditSync(std::move(events)); !s) {
    logger()->error("audit: recording the configuration load failed: {}", s.error().message);
  }
}

Status Daemon::startUp() {
  auto c = config::load(options_.config_file);
  if (!c) return fail("configuration refused:\n" + c.error().message);
  config_ = *c;
  log::setup(config_->daemon.log_level);
  std::error_code ec;
  fs::create_directories(config_->daemon.data_dir, ec);
  if (ec) return fail("daemon.data_dir " + config_->daemon.data_dir.string() + ": " + ec.message());

  store::StoreOptions so;
  so.path = config_->store.path;
  so.synchronous_full = config_->store.synchronous_full;
  so.group_commit_max = config_->store.group_commit_max;
  auto st = store::Store::open(so);
  if (!st) return st.error();
  store_ = std::move(*st);

  // Signed checkpoints (RFC 9162-style log, C2SP note format): a key that
  // cannot be read, or a log that no longer matches its last checkpoint,
  // stops the daemon here rather than letting it share unaudited.
  auto checkpointer = audit::Checkpointer::create(config_->audit, *store_, SystemClock::instance());
  if (!checkpointer) return fail("configuration refused:\n" + checkpointer.error().message);
  checkpointer_ = std::move(*checkpointer);
  if (config_->audit.syslog_collector) {
    auto atna = audit::AtnaSyslogExporter::create(config_->audit, *store_);
    if (!atna) return fail("configuration refused:\n" + atna.error().message);
    atna_ = std::move(*atna);
  }

  auto keyer = pipeline::SubjectKeyer::loadOrCreate(config_->store.identity_key);
  if (!keyer) return keyer.error();
  keyer_ = std::make_unique<pipeline::SubjectKeyer>(std::move(*keyer));

  plugins_ = std::make_unique<plugin_host::PluginHost>(config_->daemon.plugin_dir,
                                                       config_->daemon.data_dir / "plugin-cache");
  if (auto v = validate(*config_, *plugins_); !v) {
    audit::AuditEvent e;
    e.actor = audit::Actor::system();
    e.action = audit::action::kConfigRejected;
    e.outcome = audit::outcome::kRefused;
    e.with("file", config_->file.string()).with("sha256", config_->file_sha256).with("reason", v.error().message);
    (void)store_->auditSync({std::move(e)});
    return fail("configuration refused:\n" + v.error().message);
  }

  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(io_.get_executor());
  for (unsigned i = 0; i < config_->daemon.io_threads; ++i) {
    threads_.emplace_back([this] {
      nameThisThread("cb-io");
      io_.run();
    });
  }

  scheduler_ = std::make_unique<pipeline::Scheduler>(*store_, topology_, SystemClock::instance());
  router_ = std::make_unique<pipeline::Router>(*store_, topology_, *scheduler_);
  receiver_ = std::make_unique<pipeline::Receiver>(*store_, *keyer_, topology_, *router_);

  auto resources = pipeline::loadStageResources(*config_, SystemClock::instance());
  if (!resources) {
    audit::AuditEvent e;
    e.actor = audit::Actor::system();
    e.action = audit::action::kConfigRejected;
    e.outcome = audit::outcome::kRefused;
    e.with("file", config_->file.string()).with("sha256", config_->file_sha256);
    e.with("reason", resources.error().message);
    (void)store_->auditSync({std::move(e)});
    return fail("configuration refused:\n" + resources.error().message);
  }
  warnEndingAgreements(*resources);

  auto adapters = buildAdapters(*config_);
  if (!adapters) return adapters.error();
  adapters_ = std::move(*adapters);
  topology_.set(pipeline::buildTopology(config_, adapters_, *resources, keyer_.get()));

  // Whatever was stored but not routed or delivered before the last stop
  // (or crash) goes on now.
  if (auto s = router_->recover(); !s) return s;
  if (auto s = scheduler_->recover(); !s) return s;
  router_->start();
  scheduler_->start();

  if (config_->admin.enabled) {
    // The admin API and web page (issue #6) work on the daemon's own store;
    // what an approval or replay queues goes straight to the scheduler.
    admin::ApiServices api;
    api.store = store_.get();
    api.keyer = keyer_.get();
    api.audit = config_->audit;
    api.agreements = [this]() -> std::shared_ptr<const policy::PolicySet> {
      auto t = topology_.get();
      return t ? t->resources.agreements : nullptr;
    };
    api.queued = [this](const std::vector<store::DeliveryInfo>& d) { scheduler_->add(d); };
    auto admin = admin::AdminServer::start(
        io_, config_->admin,
        [this]() -> std::string {
          auto n = store_->auditSize();
          return n ? std::string() : "store unavailable: " + n.error().message;
        },
        [this]() -> std::string {
          if (draining_) return "draining";
          if (!ready_) return "starting";
          return {};
        },
        std::move(api));
    if (!admin) return admin.error();
    admin_ = std::move(*admin);
    logger()->info("admin listener on {}:{}", config_->admin.listen.host, admin_->port());
  }
  collector_ = metrics::global().addCollector([this](metrics::Registry& r) {
    r.gauge("carebridge_queue_depth", "Deliveries waiting to be sent").set(static_cast<double>(scheduler_->queued()));
    r.gauge("carebridge_in_flight", "Deliveries handed to adapters and not yet reported")
        .set(static_cast<double>(scheduler_->inFlight()));
    r.gauge("carebridge_route_backlog", "Records waiting to be routed (and, if new, stored)")
        .set(static_cast<double>(router_->backlog()));
    // Days left for every agreement within 60 days of its end (PRODUCT.md:
    // flows stop by themselves at the end date; people need the warning).
    if (auto t = topology_.get(); t && t->resources.agreements) {
      for (const auto& e : t->resources.agreements->endingWithin(60)) {
        r.gauge("carebridge_agreement_days_left", "Days until an agreement ending within 60 days ends",
                {{"agreement", e.id}})
            .set(static_cast<double>(e.days_left));
      }
    }
    if (auto counts = store_->counts()) {
      r.gauge("carebridge_dead_letters", "Deliveries in the dead-letter queue").set(static_cast<double>(counts->dead));
      r.gauge("carebridge_held", "Deliveries held for approval").set(static_cast<double>(counts->held));
      r.gauge("carebridge_quarantined", "Records quarantined (could not be translated)")
          .set(static_cast<double>(counts->quarantined));
    }
  });

  {
    audit::AuditEvent e;
    e.actor = audit::Actor::system();
    e.action = audit::action::kStarted;
    e.outcome = audit::outcome::kSuccess;
    e.with("version", CAREBRIDGE_VERSION);
    if (auto s = store_->auditSync({std::move(e)}); !s) {
      // Fail closed: a daemon that cannot audit must not share.
      return fail("the audit trail cannot be written: " + s.error().message);
    }
  }
  auditConfig(*config_, adapters_, *resources, false);
  // Exports start once the start-up is in the trail; entries written while
  // the collector is down are kept and sent later, in order.
  if (atna_) atna_->start(config_->audit.syslog_interval);
  startRetention();

  for (const auto& [name, adapter] : adapters_) {
    for (auto port : adapter->listeningPorts()) logger()->info("adapter {} listening on port {}", name, port);
  }
  logger()->info("carebridged {} ready: {} adapters, {} routes, store {}", CAREBRIDGE_VERSION, adapters_.size(),
                 config_->routes.size(), config_->store.path.string());
  ready_ = true;
  sd_notify(0, "READY=1\nSTATUS=ready");
  return {};
}

void Daemon::reload() {
  sd_notify(0, "RELOADING=1\nSTATUS=reloading configuration");
  auto refuse = [this](const std::string& why) {
    logger()->error("reload refused, keeping the running configuration:\n{}", why);
    audit::AuditEvent e;
    e.actor = audit::Actor::system();
    e.action = audit::action::kConfigRejected;
    e.outcome = audit::outcome::kRefused;
    e.with("file", options_.config_file.string()).with("reason", why);
    (void)store_->auditSync({std::move(e)});
    sd_notify(0, "READY=1\nSTATUS=ready (last reload refused)");
  };
  auto c = config::load(options_.config_file);
  if (!c) return refuse(c.error().message);
  const auto& next = **c;
  // What the process was started with cannot change underneath it.
  if (next.daemon.data_dir != config_->daemon.data_dir || next.store.path != config_->store.path ||
      next.store.identity_key != config_->store.identity_key || next.daemon.io_threads != config_->daemon.io_threads ||
      next.admin.listen.host != config_->admin.listen.host || next.admin.listen.port != config_->admin.listen.port ||
      next.admin.enabled != config_->admin.enabled || next.audit.signing_key != config_->audit.signing_key ||
      next.audit.checkpoint_interval != config_->audit.checkpoint_interval ||
      next.audit.checkpoint_every != config_->audit.checkpoint_every ||
      next.audit.publish_dir != config_->audit.publish_dir ||
      next.audit.publish_syslog != config_->audit.publish_syslog ||
      next.audit.syslog_collector.has_value() != config_->audit.syslog_collector.has_value() ||
      next.audit.payload_retention != config_->audit.payload_retention ||
      next.audit.payload_retention_by_agreement != config_->audit.payload_retention_by_agreement) {
    return refuse(
        "daemon.data_dir, daemon.io_threads, [store], [admin] and [audit] cannot change on reload; restart "
        "carebridged to apply them");
  }
  if (auto v = validate(next, *plugins_); !v) return refuse(v.error().message);
  auto resources = pipeline::loadStageResources(next, SystemClock::instance());
  if (!resources) return refuse(resources.error().message);
  // New adapters start beside the old ones (listeners bind with SO_REUSEPORT).
  auto fresh = buildAdapters(next);
  if (!fresh) return refuse(fresh.error().message);
  auto old = std::move(adapters_);
  adapters_ = std::move(*fresh);
  config_ = *c;
  log::setup(config_->daemon.log_level);
  if (admin_) admin_->setUsers(config_->admin.users);  // [[admin.user]] changes apply on reload
  topology_.set(pipeline::buildTopology(config_, adapters_, *resources, keyer_.get()));
  scheduler_->poke();
  stopAdapters(old, config_->daemon.drain_timeout);
  auditConfig(*config_, adapters_, *resources, true);
  warnEndingAgreements(*resources);
  for (const auto& [name, adapter] : adapters_) {
    for (auto port : adapter->listeningPorts()) logger()->info("adapter {} listening on port {}", name, port);
  }
  logger()->info("configuration reloaded: {} adapters, {} routes", adapters_.size(), config_->routes.size());
  sd_notify(0, "READY=1\nSTATUS=ready (reloaded)");
}

void Daemon::shutDown() {
  draining_ = true;
  sd_notify(0, "STOPPING=1\nSTATUS=draining");
  const auto drain = config_->daemon.drain_timeout;
  logger()->info("stopping: draining for up to {} ms", drain.count());
  // 1. No new deliveries; wait for those in flight to report.
  scheduler_->stop(drain);
  // 2. Adapters stop receiving; receipts in progress are stored and answered.
  receiver_->setDraining(true);
  stopAdapters(adapters_, drain);
  // 3. Route what was received (it stays queued for the next start).
  router_->stop(drain);
  audit::AuditEvent e;
  e.actor = audit::Actor::system();
  e.action = audit::action::kStopped;
  e.outcome = audit::outcome::kSuccess;
  (void)store_->auditSync({std::move(e)});
  stopRetention();
  store_->flush();
  if (auto c = checkpointer_->signFinal(); !c) logger()->error("audit checkpoint at shutdown: {}", c.error().message);
  if (atna_) atna_->stop();
  metrics::global().removeCollector(collector_);
  if (admin_) admin_->stop();
  if (watchdog_) watchdog_->cancel();
  if (poll_) poll_->cancel();
  if (signals_) signals_->cancel();
  work_.reset();
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  logger()->info("stopped");
}

void Daemon::startRetention() {
  const auto policy = audit::retentionPolicyFrom(config_->audit);
  if (!config_->audit.payload_retention && config_->audit.payload_retention_by_agreement.empty()) return;
  retention_ = std::thread([this, policy] {
    std::unique_lock lock(retention_mutex_);
    for (;;) {
      lock.unlock();
      const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                           SystemClock::instance().now().time_since_epoch())
                           .count();
      auto r = audit::purgePayloads(*store_, policy, now, audit::Actor::system());
      if (!r) {
        logger()->error("payload retention: {}", r.error().message);
      } else if (r->messages > 0) {
        logger()->info("payload retention: purged the payloads of {} delivered messages ({} bytes)", r->messages,
                       r->bytes);
      }
      lock.lock();
      if (retention_cv_.wait_for(lock, std::chrono::hours(1), [this] { return retention_stop_; })) return;
    }
  });
}

void Daemon::stopRetention() {
  if (!retention_.joinable()) return;
  {
    std::lock_guard lock(retention_mutex_);
    retention_stop_ = true;
  }
  retention_cv_.notify_all();
  retention_.join();
}

void Daemon::armWatchdog() {
  // WatchdogSec= in the unit: ping at half the interval (sd_watchdog_enabled(3)).
  if (sd_watchdog_enabled(0, &watchdog_usec_) <= 0 || watchdog_usec_ == 0) return;
  watchdog_ = std::make_unique<asio::steady_timer>(io_);
  std::function<void()> tick;
  auto arm = std::make_shared<std::function<void()>>();
  *arm = [this, arm] {
    watchdog_->expires_after(std::chrono::microseconds(watchdog_usec_ / 2));
    watchdog_->async_wait([this, arm](const boost::system::error_code& ec) {
      if (ec) return;
      // Only a daemon whose store still answers is alive.
      if (store_->auditSize()) sd_notify(0, "WATCHDOG=1");
      (*arm)();
    });
  };
  (*arm)();
}

void Daemon::armPoll() {
  // The CLI writes to the store directly (replay, approvals); notice it.
  poll_ = std::make_unique<asio::steady_timer>(io_);
  auto arm = std::make_shared<std::function<void()>>();
  *arm = [this, arm] {
    poll_->expires_after(std::chrono::seconds(1));
    poll_->async_wait([this, arm](const boost::system::error_code& ec) {
      if (ec || draining_) return;
      if (store_->changedElsewhere()) {
        if (auto s = scheduler_->rescan(); !s) logger()->error("rescanning the queue failed: {}", s.error().message);
      }
      if (auto c = checkpointer_->tick(); !c) logger()->error("audit checkpoint: {}", c.error().message);
      if (std::chrono::steady_clock::now() - last_agreement_warning_ > std::chrono::hours(24)) {
        if (auto t = topology_.get()) warnEndingAgreements(t->resources);
      }
      (*arm)();
    });
  };
  (*arm)();
}

int Daemon::run() {
  xml::init();
  // Signals go to the asio signal_set; block them from other threads.
  signals_ = std::make_unique<asio::signal_set>(io_, SIGTERM, SIGINT, SIGHUP);
  if (auto s = startUp(); !s) {
    logger()->critical("{}", s.error().message);
    sd_notify(0, ("STATUS=failed: " + s.error().message.substr(0, 200)).c_str());
    if (scheduler_) scheduler_->stop(std::chrono::milliseconds(0));
    stopAdapters(adapters_, std::chrono::milliseconds(2000));
    if (router_) router_->stop(std::chrono::milliseconds(0));
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    return 1;
  }
  auto on_signal = std::make_shared<std::function<void(const boost::system::error_code&, int)>>();
  *on_signal = [this, on_signal](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      post(Command::Reload);
      signals_->async_wait(*on_signal);
    } else {
      post(Command::Stop);
    }
  };
  signals_->async_wait(*on_signal);
  armWatchdog();
  armPoll();
  // Reloads and the shutdown run here, on the main thread, so they can wait
  // for adapters to drain without holding up an I/O thread.
  for (;;) {
    Command c;
    {
      std::unique_lock lock(commands_mutex_);
      commands_cv_.wait(lock, [this] { return !commands_.empty(); });
      c = commands_.front();
      commands_.pop_front();
    }
    if (c == Command::Reload) {
      logger()->info("SIGHUP: reloading {}", options_.config_file.string());
      reload();
      continue;
    }
    shutDown();
    return 0;
  }
}

}  // namespace

Result<std::string> checkConfig(const fs::path& config_file) {
  auto c = config::load(config_file);
  if (!c) return c.error();
  plugin_host::PluginHost plugins((*c)->daemon.plugin_dir);
  if (auto v = validate(**c, plugins); !v) return v.error();
  auto resources = pipeline::loadStageResources(**c, SystemClock::instance());
  if (!resources) return resources.error();
  for (const auto& e : resources->ending) {
    std::fprintf(stderr, "warning: agreement %s (%s) ends on %s: %d days left\n", e.id.c_str(), e.file.c_str(),
                 e.end.c_str(), e.days_left);
  }
  return "configuration OK: " + (*c)->file.string() + ": " + std::to_string((*c)->adapters.size()) + " adapters, " +
         std::to_string((*c)->routes.size()) + " routes";
}

int run(const DaemonOptions& options) {
  Daemon d(options);
  return d.run();
}

}  // namespace cb::daemon
