#pragma once
// The route stage: for each record, on one worker thread (never an I/O
// thread), run translate -> decide -> render for every destination of the
// record's routes, then store the resulting deliveries together with the
// audit entries for the translation and each decision in one transaction,
// and hand the deliveries to the scheduler.
//
// A record just received (admit) is routed before it is stored and then
// stored with its routing in that one transaction; only then is the sender
// told it is safe (the receive stage's promise: nothing acknowledged before
// it is stored). One transaction per record instead of two halves the
// writer's work per record and the wait before delivery starts. A record
// stored before a restart but not yet routed (recover) is routed and its
// routing stored as before.
//
// A record that cannot be translated or rendered is quarantined whole (the
// reason names the mapping and field): it never reaches any partner half
// translated. Records are routed and stored in the order they arrived, so
// delivery order per person follows arrival order.

#include "pipeline/stages.h"
#include "pipeline/topology.h"
#include "store/store.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace cb::pipeline {

class Scheduler;

class Router {
 public:
  Router(store::Store& store, const TopologyHolder& topology, Scheduler& scheduler);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  /// What the receive stage hands over with a record not yet stored.
  struct Arrival {
    std::string sender_message_id;  ///< the sender's id: a repeat is stored once
    /// Called once: after the record is stored (or found to be a duplicate),
    /// or with an error if it was not stored (the sender must send it again).
    std::function<void(Result<store::SubmitOutcome>)> stored;
  };
  /// Routes a record that is not yet stored (record.seq is 0 and
  /// record.message_id already chosen), then stores it with its routing.
  void admit(ReceivedRecord record, Arrival arrival);
  /// Queues every stored record still waiting to be routed (after a restart).
  Status recover();
  /// Queues a stored record for routing.
  void enqueue(ReceivedRecord record);
  void start();
  /// Finishes what is queued (up to `drain`), then stops the worker.
  void stop(std::chrono::milliseconds drain);
  std::size_t backlog() const;

 private:
  struct Pending {
    ReceivedRecord record;
    Arrival arrival;  ///< arrival.stored empty: the record is stored already
  };
  void loop();
  void process(Pending pending);

  store::Store& store_;
  const TopologyHolder& topology_;
  Scheduler& scheduler_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Pending> queue_;
  std::size_t routing_ = 0;  // records handed to the store and not yet committed
  bool stopping_ = false;
  bool running_ = false;
  std::thread thread_;
};

}  // namespace cb::pipeline
