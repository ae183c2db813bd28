#include "pipeline/route.h"

#include "common/log.h"
#include "common/thread_name.h"
#include "pipeline/deliver.h"

namespace cb::pipeline {
namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto lg = log::get("route");
  return lg;
}

audit::AuditEvent eventFor(const ReceivedRecord& r, const char* action, const char* outcome) {
  audit::AuditEvent e;
  e.actor = audit::Actor::system();
  e.action = action;
  e.outcome = outcome;
  e.message_id = r.message_id;
  e.record_type = r.record_type;
  e.source_org = r.source_org;
  e.subject_key = r.subject_key;
  return e;
}

// The store reports the deliveries it created in the order they were given.
void attachBodies(std::vector<store::DeliveryInfo>& created,
                  const std::vector<std::shared_ptr<const std::string>>& bodies) {
  if (created.size() != bodies.size()) return;  // read from the store instead
  for (std::size_t i = 0; i < created.size(); ++i) created[i].payload = bodies[i];
}

}  // namespace

Router::Router(store::Store& store, const TopologyHolder& topology, Scheduler& scheduler)
    : store_(store), topology_(topology), scheduler_(scheduler) {}

Router::~Router() { stop(std::chrono::milliseconds(0)); }

Status Router::recover() {
  for (;;) {
    auto batch = store_.messagesInState("received", 1000);
    if (!batch) return batch.error();
    std::size_t added = 0;
    for (const auto& m : *batch) {
      // Skip what is already queued here (recover() may run twice).
      {
        std::lock_guard lock(mutex_);
        bool queued = false;
        for (const auto& q : queue_) queued = queued || q.record.seq == m.seq;
        if (queued) continue;
      }
      auto payload = store_.payload(m.seq);
      if (!payload) return payload.error();
      ReceivedRecord r;
      r.seq = m.seq;
      r.message_id = m.id;
      r.source = m.source;
      r.content_type = m.content_type;
      r.record_type = m.record_type;
      r.subject_key = m.subject_key;
      r.payload = std::make_shared<const std::string>(std::move(*payload));
      if (auto t = topology_.get()) r.source_org = t->organisationOf(m.source);
      enqueue(std::move(r));
      ++added;
    }
    if (batch->size() < 1000 || added == 0) break;
    // Let the worker route this batch before reading the next one.
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return queue_.empty() && routing_ == 0; });
  }
  return {};
}

void Router::enqueue(ReceivedRecord record) { admit(std::move(record), Arrival{}); }

void Router::admit(ReceivedRecord record, Arrival arrival) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Pending{std::move(record), std::move(arrival)});
  }
  wake_.notify_one();
}

std::size_t Router::backlog() const {
  std::lock_guard lock(mutex_);
  return queue_.size() + routing_;
}

void Router::start() {
  std::lock_guard lock(mutex_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  thread_ = std::thread([this] {
    nameThisThread("cb-route");
    loop();
  });
}

void Router::stop(std::chrono::milliseconds drain) {
  {
    std::unique_lock lock(mutex_);
    if (!running_) return;
    idle_.wait_for(lock, drain, [this] { return queue_.empty() && routing_ == 0; });
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::deque<Pending> left;
  {
    std::lock_guard lock(mutex_);
    running_ = false;
    // Stored records left here are routed after the next start (they stay
    // 'received'); records not yet stored were never acknowledged, so
    // their senders are told to send them again.
    left.swap(queue_);
  }
  for (auto& p : left) {
    if (p.arrival.stored) p.arrival.stored(fail("carebridged is stopping; the record was not stored"));
  }
}

void Router::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    ++routing_;
    lock.unlock();
    process(std::move(p));
    lock.lock();
  }
}

void Router::process(Pending pending) {
  const ReceivedRecord& r = pending.record;
  const auto topology = topology_.get();
  auto finished = [this] {
    {
      std::lock_guard lock(mutex_);
      --routing_;
    }
    idle_.notify_all();
  };
  std::vector<store::NewDelivery> deliveries;
  // What each delivery will send, kept in memory so the deliver stage need
  // not read it back from the store (see Scheduler's payload budget).
  std::vector<std::shared_ptr<const std::string>> bodies;
  std::vector<audit::AuditEvent> events;
  const auto* plans = topology ? topology->routesFrom(r.source) : nullptr;
  std::string quarantine_reason;
  store::Store::RoutedAs routed_as;
  std::size_t taken = 0;      // routes that carry the record's canonical type
  audit::AuditEvent untaken;  // the refusal, should none of them carry it

  if (plans == nullptr || plans->empty()) {
    auto e = eventFor(r, audit::action::kDecided, audit::outcome::kRefused);
    e.with("decision", "refuse").with("rule", "no-route").with("adapter", r.source);
    e.with("explanation", "no route takes records from adapter '" + r.source + "'; nothing was shared");
    events.push_back(std::move(e));
    logger()->warn("message {} from {}: no route; not shared", r.message_id, r.source);
  }
  for (const auto* plan = plans != nullptr ? plans->data() : nullptr;
       plans != nullptr && plan != plans->data() + plans->size() && quarantine_reason.empty(); ++plan) {
    auto translated = plan->translator->translate(r);
    if (!translated) {
      quarantine_reason = "route '" + plan->name + "': " + translated.error().message;
      break;
    }
    // A route that lists its record types leaves the others to the source's
    // other routes (config: at most one route per source, destination and type).
    if (routed_as.subject_key.empty()) routed_as.subject_key = translated->subject_key;
    if (routed_as.record_type.empty()) routed_as.record_type = translated->record_type;
    if (!plan->carries(translated->record_type)) {
      if (untaken.action.empty()) untaken = eventFor(r, audit::action::kDecided, audit::outcome::kRefused);
      untaken.record_type = translated->record_type;
      untaken.subject_key = translated->subject_key;
      continue;
    }
    ++taken;
    auto te = eventFor(r, audit::action::kTranslated, audit::outcome::kSuccess);
    te.record_type = translated->record_type;
    te.subject_key = translated->subject_key;
    te.with("route", plan->name);
    for (const auto& kv : translated->audit_details) te.details.push_back(kv);
    events.push_back(std::move(te));
    for (const auto& dest : plan->destinations) {
      const SharingDecision decision = plan->policy->decide(*translated, dest);
      auto de = eventFor(r, audit::action::kDecided,
                         decision.verdict == SharingDecision::Verdict::Refuse ? audit::outcome::kRefused
                                                                              : audit::outcome::kSuccess);
      de.record_type = translated->record_type;
      de.subject_key = translated->subject_key;
      de.destination_org = dest.organisation;
      de.with("decision", toString(decision.verdict)).with("route", dest.route).with("destination", dest.adapter);
      de.with("rule", decision.rule).with("explanation", decision.explanation);
      if (!decision.agreement.empty()) de.with("agreement", decision.agreement);
      if (!decision.flow.empty()) de.with("flow", decision.flow);
      if (!decision.purpose.empty()) de.with("purpose", decision.purpose);
      if (!decision.lawful_basis.empty()) de.with("lawful_basis", decision.lawful_basis);
      if (!decision.approver.empty()) de.with("approver", decision.approver);
      if (!decision.justification.empty()) de.with("justification", decision.justification);
      if (!decision.withheld.empty()) {
        std::string items;
        for (const auto& w : decision.withheld) items += (items.empty() ? "" : ",") + w;
        de.with("withheld", items);
      }
      events.push_back(std::move(de));
      if (decision.verdict == SharingDecision::Verdict::Refuse) continue;
      auto rendered = plan->renderer->render(*translated, decision, dest);
      if (!rendered) {
        quarantine_reason = "route '" + plan->name + "' to '" + dest.adapter + "': " + rendered.error().message;
        break;
      }
      store::NewDelivery nd;
      nd.destination = dest.adapter;
      nd.route = dest.route;
      nd.content_type = rendered->content_type;
      nd.record_type = rendered->record_type;
      if (rendered->body) nd.payload = *rendered->body;
      bodies.push_back(rendered->body ? rendered->body : r.payload);
      nd.state = decision.verdict == SharingDecision::Verdict::Hold ? store::DeliveryState::Held
                                                                     : store::DeliveryState::Queued;
      deliveries.push_back(std::move(nd));
    }
  }

  if (quarantine_reason.empty() && taken == 0 && !untaken.action.empty()) {
    untaken.with("decision", "refuse").with("rule", "no-route-for-record-type").with("adapter", r.source);
    untaken.with("explanation", "no route from adapter '" + r.source + "' carries " + untaken.record_type +
                                    " records (each route's record_types); nothing was shared");
    logger()->warn("message {} from {}: no route carries its record type; not shared", r.message_id, r.source);
    events.push_back(std::move(untaken));
  }
  // The row for a record routed before it is stored: what arrived, as the
  // receive stage described it (translation's findings go in `routed_as`).
  const auto newMessage = [](const Pending& p) {
    store::NewMessage m;
    m.id = p.record.message_id;
    m.source = p.record.source;
    m.source_org = p.record.source_org;
    m.sender_message_id = p.arrival.sender_message_id;
    m.content_type = p.record.content_type;
    m.record_type = p.record.record_type;
    m.subject_key = p.record.subject_key;
    m.payload = *p.record.payload;
    return m;
  };
  if (!quarantine_reason.empty()) {
    auto qe = eventFor(r, audit::action::kQuarantined, audit::outcome::kRefused);
    qe.with("reason", quarantine_reason);
    logger()->warn("message {} quarantined: {}", r.message_id, quarantine_reason);
    if (pending.arrival.stored) {
      store_.submitQuarantined(newMessage(pending), quarantine_reason, {std::move(qe)},
                               [finished, stored = std::move(pending.arrival.stored)](Result<store::SubmitOutcome> s) {
                                 stored(std::move(s));
                                 finished();
                               });
      return;
    }
    store_.quarantine(r.seq, quarantine_reason, {std::move(qe)}, [finished, id = r.message_id](Status s) {
      if (!s) logger()->error("message {}: recording the quarantine failed: {}", id, s.error().message);
      finished();
    });
    return;
  }
  if (pending.arrival.stored) {
    store_.submitRouted(newMessage(pending), std::move(routed_as), std::move(deliveries), std::move(events),
                        [this, finished, bodies = std::move(bodies), stored = std::move(pending.arrival.stored)](
                            Result<store::Store::RoutedOutcome> out) {
                          if (!out) {
                            // Not stored, so not acknowledged: the sender sends it again.
                            stored(out.error());
                          } else {
                            stored(out->message);
                            attachBodies(out->deliveries, bodies);
                            if (!out->deliveries.empty()) scheduler_.add(out->deliveries);
                          }
                          finished();
                        });
    return;
  }
  store_.route(r.seq, std::move(routed_as), std::move(deliveries), std::move(events),
               [this, finished, bodies = std::move(bodies),
                id = r.message_id](Result<std::vector<store::DeliveryInfo>> created) {
                 if (!created) {
                   // Still 'received' in the store: routed again after the next restart.
                   logger()->error("message {}: storing its routing failed: {}", id, created.error().message);
                 } else {
                   attachBodies(*created, bodies);
                   scheduler_.add(*created);
                 }
                 finished();
               });
}

}  // namespace cb::pipeline
