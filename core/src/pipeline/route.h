#pragma once
// The route stage: for each stored record, on one worker thread (never an
// I/O thread), run translate -> decide -> render for every destination of
// the record's routes, then store the resulting deliveries together with
// the audit entries for the translation and each decision in one
// transaction, and hand the deliveries to the scheduler.
//
// A record that cannot be translated or rendered is quarantined whole (the
// reason names the mapping and field): it never reaches any partner half
// translated. Records are routed in the order they were stored, so delivery
// order per person follows arrival order.

#include "pipeline/stages.h"
#include "pipeline/topology.h"
#include "store/store.h"

#include <condition_variable>
#include <deque>
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

  /// Queues every stored record still waiting to be routed (after a restart).
  Status recover();
  void enqueue(ReceivedRecord record);
  void start();
  /// Finishes what is queued (up to `drain`), then stops the worker.
  void stop(std::chrono::milliseconds drain);
  std::size_t backlog() const;

 private:
  void loop();
  void process(ReceivedRecord record);

  store::Store& store_;
  const TopologyHolder& topology_;
  Scheduler& scheduler_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<ReceivedRecord> queue_;
  std::size_t routing_ = 0;  // records handed to the store and not yet committed
  bool stopping_ = false;
  bool running_ = false;
  std::thread thread_;
};

}  // namespace cb::pipeline
