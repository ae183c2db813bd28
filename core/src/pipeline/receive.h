#pragma once
// The receive stage: what an adapter hands in goes to the route stage,
// which stores it durably, with its receipt audit entry and its routing, in
// one transaction (route.h); only then is the adapter told it may
// acknowledge the sender. Refusals here (too large, busy, stopping) store
// nothing and tell the sender why.

#include "pipeline/subject_key.h"
#include "pipeline/topology.h"
#include "plugin_host/adapter.h"
#include "store/store.h"

#include <atomic>
#include <functional>

namespace cb::pipeline {

class Router;

struct ReceiveLimits {
  std::size_t max_payload_bytes = 32u << 20;  ///< larger records are refused (never stored)
  std::size_t max_backlog = 100000;           ///< records waiting to be routed before the sender is told to wait
};

class Receiver : public plugin_host::AdapterEvents {
 public:
  Receiver(store::Store& store, const SubjectKeyer& keyer, const TopologyHolder& topology, Router& router,
           ReceiveLimits limits = {});

  void submit(const plugin_host::Adapter& from, plugin_host::InboundSubmission record,
              std::function<void(plugin_host::SubmitReply)> reply) override;
  void tlsRefused(const plugin_host::Adapter& at, const net::TlsRefusal& refusal) override;

  /// While draining (SIGTERM) new records are answered "unavailable".
  void setDraining(bool draining) { draining_ = draining; }

 private:
  store::Store& store_;
  const SubjectKeyer& keyer_;
  const TopologyHolder& topology_;
  Router& router_;
  ReceiveLimits limits_;
  std::atomic<bool> draining_{false};
};

}  // namespace cb::pipeline
