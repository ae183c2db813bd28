#include "pipeline/deliver.h"

#include "common/log.h"
#include "common/metrics.h"
#include "common/thread_name.h"
#include "plugin_host/adapter.h"

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>

namespace cb::pipeline {

struct Scheduler::Attempt {
  store::DeliveryInfo info;
  std::string key;
  config::DeliverySettings settings;
  std::int64_t deadline_ms = 0;
  std::atomic<bool> reported{false};
};

namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto lg = log::get("deliver");
  return lg;
}

metrics::Counter& deliveredCounter(const std::string& dest) {
  return metrics::global().counter("carebridge_delivered_total", "Deliveries acknowledged by the partner",
                                   {{"destination", dest}});
}
metrics::Counter& retriedCounter(const std::string& dest) {
  return metrics::global().counter("carebridge_retried_total", "Delivery attempts that will be retried",
                                   {{"destination", dest}});
}
metrics::Counter& deadCounter(const std::string& dest) {
  return metrics::global().counter("carebridge_dead_lettered_total", "Deliveries moved to the dead-letter queue",
                                   {{"destination", dest}});
}
metrics::Histogram& latency(const std::string& dest) {
  return metrics::global().histogram("carebridge_delivery_latency_seconds",
                                     "Time from receipt to the partner's acknowledgement", {{"destination", dest}});
}

}  // namespace

Scheduler::Scheduler(store::Store& store, const TopologyHolder& topology, const Clock& clock,
                     std::size_t payload_budget_bytes)
    : store_(store), topology_(topology), clock_(clock), payload_budget_bytes_(payload_budget_bytes) {}

Scheduler::~Scheduler() { stop(std::chrono::milliseconds(0)); }

std::string Scheduler::orderKey(const store::DeliveryInfo& d) {
  return d.subject_key.empty() ? "#" + std::to_string(d.seq) : d.subject_key;
}

void Scheduler::addLocked(const store::DeliveryInfo& d) {
  if (d.state != store::DeliveryState::Queued || !known_.insert(d.seq).second) return;
  Lane& lane = lanes_[d.destination];
  const std::string key = orderKey(d);
  Subject& subject = lane.subjects[key];
  ++lane.size;
  auto& q = subject.entries;
  Entry entry{d};
  if (entry.info.payload) {
    // Keep the bytes in memory while they fit the budget; past it (a
    // destination down, a backlog building) they are read from the store
    // when their turn comes, so memory stays bounded however long the queue.
    if (payload_bytes_ + entry.info.payload->size() <= payload_budget_bytes_) {
      payload_bytes_ += entry.info.payload->size();
    } else {
      entry.info.payload.reset();
    }
  }
  // Keep each person's deliveries in creation order. A replayed (older)
  // delivery cannot overtake one already in flight.
  auto pos = std::upper_bound(q.begin() + (subject.in_flight && !q.empty() ? 1 : 0), q.end(), d.seq,
                              [](std::int64_t seq, const Entry& e) { return seq < e.info.seq; });
  const bool new_head = pos == q.begin();
  if (new_head && !q.empty()) {
    lane.ready.erase({q.front().info.next_attempt_at_ms, q.front().info.seq, key});
  }
  q.insert(pos, std::move(entry));
  if (new_head && !subject.in_flight) lane.ready.insert({d.next_attempt_at_ms, d.seq, key});
}

void Scheduler::add(const std::vector<store::DeliveryInfo>& deliveries) {
  {
    std::lock_guard lock(mutex_);
    for (const auto& d : deliveries) addLocked(d);
  }
  wake_.notify_one();
}

Status Scheduler::recover() {
  std::int64_t after = 0;
  for (;;) {
    auto batch = store_.queuedDeliveries(after, 10000);
    if (!batch) return batch.error();
    if (batch->empty()) break;
    after = batch->back().seq;
    add(*batch);
  }
  return {};
}

Status Scheduler::rescan() { return recover(); }

void Scheduler::start() {
  std::lock_guard lock(mutex_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  thread_ = std::thread([this] {
    nameThisThread("cb-deliver");
    loop();
  });
}

void Scheduler::poke() { wake_.notify_one(); }

void Scheduler::stop(std::chrono::milliseconds drain) {
  {
    std::lock_guard lock(mutex_);
    if (!running_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::unique_lock lock(mutex_);
  idle_.wait_for(lock, drain, [this] { return in_flight_.empty(); });
  if (!in_flight_.empty()) {
    logger()->warn("{} deliveries still in flight at shutdown; they stay queued and go again after restart",
                   in_flight_.size());
  }
  running_ = false;
}

std::size_t Scheduler::queued() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [name, lane] : lanes_) n += lane.size;
  return n;
}

std::size_t Scheduler::inFlight() const {
  std::lock_guard lock(mutex_);
  return in_flight_.size();
}

std::int64_t Scheduler::backoffMs(const config::DeliverySettings& s, std::uint32_t attempts) {
  // Exponential backoff with "equal jitter": half the delay fixed, half
  // random, so retries from many deliveries spread out instead of arriving
  // at the partner together.
  double delay = static_cast<double>(s.initial_backoff.count());
  for (std::uint32_t i = 1; i < attempts && delay < static_cast<double>(s.max_backoff.count()); ++i) delay *= 2;
  delay = std::min(delay, static_cast<double>(s.max_backoff.count()));
  std::uint32_t r = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof r);
  const double unit = static_cast<double>(r) / 4294967296.0;
  return static_cast<std::int64_t>(delay / 2 + unit * delay / 2);
}

void Scheduler::loop() {
  std::vector<std::pair<std::shared_ptr<Attempt>, std::shared_ptr<plugin_host::Adapter>>> to_send;
  std::vector<std::shared_ptr<Attempt>> timed_out;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const std::int64_t now = clock_.nowUnixMs();
    std::int64_t next_wake = now + 1000;
    for (auto& [seq, attempt] : in_flight_) {
      if (attempt->deadline_ms <= now && !attempt->reported.load()) {
        timed_out.push_back(attempt);
      } else {
        next_wake = std::min(next_wake, attempt->deadline_ms);
      }
    }
    if (now < paused_until_ms_) {
      next_wake = std::min(next_wake, paused_until_ms_);
    } else {
      const auto topology = topology_.get();
      for (auto& [name, lane] : lanes_) {
        if (lane.ready.empty()) continue;
        auto adapter = topology ? topology->adapter(name) : nullptr;
        if (!adapter || !adapter->running()) {
          if (missing_adapter_logged_.insert(name).second) {
            logger()->warn("deliveries for '{}' wait: no running adapter of that name in the configuration", name);
          }
          continue;
        }
        missing_adapter_logged_.erase(name);
        const auto settings = topology->deliverySettings(name);
        while (lane.in_flight < settings.max_in_flight && !lane.ready.empty()) {
          const auto [at, seq, key] = *lane.ready.begin();
          if (at > now) {
            next_wake = std::min(next_wake, at);
            break;
          }
          lane.ready.erase(lane.ready.begin());
          Subject& subject = lane.subjects[key];
          subject.in_flight = true;
          ++lane.in_flight;
          auto attempt = std::make_shared<Attempt>();
          attempt->info = subject.entries.front().info;
          attempt->key = key;
          attempt->settings = settings;
          attempt->deadline_ms = now + settings.attempt_timeout.count();
          in_flight_[seq] = attempt;
          to_send.emplace_back(attempt, adapter);
        }
      }
    }
    if (to_send.empty() && timed_out.empty()) {
      wake_.wait_for(lock, std::chrono::milliseconds(std::max<std::int64_t>(1, next_wake - now)));
      continue;
    }
    lock.unlock();
    for (auto& attempt : timed_out) {
      report(attempt, CB_RETRY,
             "no report from the adapter within " + std::to_string(attempt->settings.attempt_timeout.count()) + " ms",
             0);
    }
    timed_out.clear();
    for (auto& [attempt, adapter] : to_send) {
      std::shared_ptr<const std::string> body = attempt->info.payload;
      if (!body) {
        auto payload = store_.deliveryPayload(attempt->info.seq);
        if (!payload) {
          report(attempt, CB_ERROR, payload.error().message, 0);
          continue;
        }
        body = std::make_shared<const std::string>(std::move(*payload));
      }
      plugin_host::DeliveryRequest req;
      req.message_id = attempt->info.message_id;
      req.content_type = attempt->info.content_type;
      req.record_type = attempt->info.record_type;
      req.payload = std::move(body);
      req.attempt = attempt->info.attempts + 1;
      adapter->deliver(std::move(req), [this, attempt](plugin_host::DeliveryReport r) {
        report(attempt, r.status, std::move(r.reason), r.retry_after_ms);
      });
    }
    to_send.clear();
    lock.lock();
  }
}

void Scheduler::report(const std::shared_ptr<Attempt>& attempt, int status, std::string reason,
                       std::int64_t retry_after_ms) {
  if (attempt->reported.exchange(true)) return;  // a late report after a timeout is ignored
  const std::int64_t now = clock_.nowUnixMs();
  const auto& d = attempt->info;
  const std::uint32_t attempt_no = d.attempts + 1;
  store::AttemptOutcome outcome{store::AttemptOutcome::Kind::Delivered, {}, 0};
  if (status == CB_ERROR) {
    outcome = {store::AttemptOutcome::Kind::Dead, "refused by the destination: " + reason, 0};
  } else if (status != CB_OK) {
    if (attempt_no >= attempt->settings.max_attempts) {
      outcome = {store::AttemptOutcome::Kind::Dead,
                 "gave up after " + std::to_string(attempt_no) + " attempts: " + reason, 0};
    } else {
      const std::int64_t wait = std::max(backoffMs(attempt->settings, attempt_no), retry_after_ms);
      outcome = {store::AttemptOutcome::Kind::Retry, reason, now + wait};
    }
  }
  const auto topology = topology_.get();
  const std::string dest_org = topology ? topology->organisationOf(d.destination) : std::string();
  std::vector<audit::AuditEvent> events;
  audit::AuditEvent e;
  e.time_ms = now;
  e.actor = audit::Actor::adapter(d.destination, dest_org);
  e.action = audit::action::kDeliveryAttempt;
  e.outcome = outcome.kind == store::AttemptOutcome::Kind::Delivered ? audit::outcome::kSuccess
              : outcome.kind == store::AttemptOutcome::Kind::Retry   ? audit::outcome::kRetry
                                                                     : audit::outcome::kFailure;
  e.message_id = d.message_id;
  e.record_type = d.record_type;
  e.destination_org = dest_org;
  e.subject_key = d.subject_key;
  e.with("destination", d.destination).with("route", d.route).with("attempt", std::to_string(attempt_no));
  if (!reason.empty()) e.with("reason", reason);
  events.push_back(e);
  if (outcome.kind == store::AttemptOutcome::Kind::Dead) {
    audit::AuditEvent dl = e;
    dl.action = audit::action::kDeadLettered;
    dl.outcome = audit::outcome::kFailure;
    dl.details.clear();
    dl.with("destination", d.destination).with("route", d.route).with("reason", outcome.error);
    events.push_back(std::move(dl));
  }
  if (outcome.kind == store::AttemptOutcome::Kind::Retry) {
    logger()->info("message {} to {}: attempt {} failed, retrying in {} ms: {}", d.message_id, d.destination,
                   attempt_no, outcome.next_attempt_at_ms - now, reason);
  } else if (outcome.kind == store::AttemptOutcome::Kind::Dead) {
    logger()->warn("message {} to {}: dead-lettered: {}", d.message_id, d.destination, outcome.error);
  }
  store_.recordAttempt(d.seq, outcome, std::move(events),
                       [this, attempt, outcome](Status s) { settle(attempt, outcome, s.ok()); });
}

void Scheduler::settle(const std::shared_ptr<Attempt>& attempt, store::AttemptOutcome outcome, bool committed) {
  const auto& d = attempt->info;
  const std::int64_t now = clock_.nowUnixMs();
  bool left_elsewhere = false;
  if (!committed) {
    // Either the store is failing (pause: nothing is sent that cannot be
    // recorded) or the delivery left the queue meanwhile (another process
    // changed it). The store says which.
    auto current = store_.delivery(d.seq);
    if (current && *current && (*current)->state != store::DeliveryState::Queued) {
      outcome.kind = store::AttemptOutcome::Kind::Dead;  // leaves the lane below, whatever its new state
      committed = true;
      left_elsewhere = true;
    } else {
      std::lock_guard lock(mutex_);
      paused_until_ms_ = now + 5000;
      logger()->error("could not record the outcome for message {} to {}; pausing deliveries for 5 s", d.message_id,
                      d.destination);
    }
  }
  {
    std::lock_guard lock(mutex_);
    in_flight_.erase(d.seq);
    Lane& lane = lanes_[d.destination];
    --lane.in_flight;
    Subject& subject = lane.subjects[attempt->key];
    subject.in_flight = false;
    if (!committed) {
      if (!subject.entries.empty()) {
        auto& head = subject.entries.front().info;
        head.next_attempt_at_ms = paused_until_ms_;
        lane.ready.insert({head.next_attempt_at_ms, head.seq, attempt->key});
      }
    } else if (outcome.kind == store::AttemptOutcome::Kind::Retry) {
      if (!subject.entries.empty()) {
        auto& head = subject.entries.front().info;
        head.attempts += 1;
        head.next_attempt_at_ms = outcome.next_attempt_at_ms;
        head.last_error = outcome.error;
        lane.ready.insert({head.next_attempt_at_ms, head.seq, attempt->key});
      }
      retriedCounter(d.destination).inc();
    } else {
      if (!subject.entries.empty()) {
        if (const auto& body = subject.entries.front().info.payload) payload_bytes_ -= body->size();
        subject.entries.pop_front();
      }
      known_.erase(d.seq);
      --lane.size;
      if (subject.entries.empty()) {
        lane.subjects.erase(attempt->key);
      } else {
        const auto& head = subject.entries.front().info;
        lane.ready.insert({head.next_attempt_at_ms, head.seq, attempt->key});
      }
      if (left_elsewhere) {
        // Counted by whoever changed it.
      } else if (outcome.kind == store::AttemptOutcome::Kind::Delivered) {
        deliveredCounter(d.destination).inc();
        latency(d.destination).observe(static_cast<double>(now - d.received_at_ms) / 1000.0);
      } else {
        deadCounter(d.destination).inc();
      }
    }
    if (in_flight_.empty()) idle_.notify_all();
  }
  wake_.notify_one();
}

}  // namespace cb::pipeline
