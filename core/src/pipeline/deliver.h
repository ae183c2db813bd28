#pragma once
// The deliver stage: sends queued deliveries to their outbound adapters,
// retries with exponential backoff and jitter, dead-letters what keeps
// failing or is refused, and keeps records about one person to one
// destination in the order they were received.
//
// Ordering: each destination has a lane; within a lane, deliveries are
// grouped by person (subject key). Only the oldest undelivered delivery of
// a person is ever in flight or waiting for its retry; the next one for that
// person goes only after it is delivered or dead-lettered. Different people
// proceed in parallel, up to the destination's max_in_flight. A delivery
// whose person is unknown is ordered on its own.
//
// Durability: a delivery counts as delivered only once that outcome is
// committed to the store. If the daemon dies between the partner's
// acknowledgement and the commit, the delivery is sent again after restart
// under the same message id, which the partner detects. If the store fails
// to record an outcome, dispatching pauses (fail closed): nothing more is
// sent until the store works again.

#include "common/clock.h"
#include "common/result.h"
#include "pipeline/topology.h"
#include "store/store.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace cb::pipeline {

class Scheduler {
 public:
  /// `payload_budget_bytes`: how many bytes of queued deliveries' payloads
  /// (DeliveryInfo::payload) to keep in memory; past it they are dropped
  /// and read from the store when sent.
  Scheduler(store::Store& store, const TopologyHolder& topology, const Clock& clock,
            std::size_t payload_budget_bytes = 64u << 20);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Loads every queued delivery from the store (at start-up).
  Status recover();
  /// Picks up deliveries queued by another process (a replay or an approval
  /// from the CLI); ones already known are ignored.
  Status rescan();
  /// Adds newly routed deliveries (state queued; others are ignored).
  void add(const std::vector<store::DeliveryInfo>& deliveries);

  void start();
  /// Stops dispatching and waits up to `drain` for deliveries in flight to
  /// report. Unreported ones stay queued in the store for the next start.
  void stop(std::chrono::milliseconds drain);

  /// Wakes the dispatcher (after a reload changed the adapters).
  void poke();

  std::size_t queued() const;
  std::size_t inFlight() const;

 private:
  struct Entry {
    store::DeliveryInfo info;
  };
  struct Subject {
    std::deque<Entry> entries;  // oldest first; front is the head
    bool in_flight = false;
  };
  struct Lane {
    std::unordered_map<std::string, Subject> subjects;
    // Heads ready to go: (not before, delivery seq, subject). Ordered so the
    // earliest due and, among those, the oldest goes first.
    std::set<std::tuple<std::int64_t, std::int64_t, std::string>> ready;
    std::size_t in_flight = 0;
    std::size_t size = 0;
  };
  struct Attempt;

  void loop();
  void addLocked(const store::DeliveryInfo& d);
  void dispatch(const std::shared_ptr<Attempt>& attempt);
  void report(const std::shared_ptr<Attempt>& attempt, int status, std::string reason, std::int64_t retry_after_ms);
  void settle(const std::shared_ptr<Attempt>& attempt, store::AttemptOutcome outcome, bool committed);
  std::int64_t backoffMs(const config::DeliverySettings& s, std::uint32_t attempts);
  static std::string orderKey(const store::DeliveryInfo& d);

  store::Store& store_;
  const TopologyHolder& topology_;
  const Clock& clock_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::map<std::string, Lane> lanes_;
  std::unordered_set<std::int64_t> known_;
  // Bytes of queued deliveries' payloads held in memory (DeliveryInfo::payload);
  // what would pass the budget is dropped and read from the store instead.
  const std::size_t payload_budget_bytes_;
  std::size_t payload_bytes_ = 0;
  std::map<std::int64_t, std::shared_ptr<Attempt>> in_flight_;  // by delivery seq
  std::int64_t paused_until_ms_ = 0;
  bool running_ = false;
  bool stopping_ = false;
  std::set<std::string> missing_adapter_logged_;
  std::thread thread_;
};

}  // namespace cb::pipeline
