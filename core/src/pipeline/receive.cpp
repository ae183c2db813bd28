#include "pipeline/receive.h"

#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "pipeline/route.h"

namespace cb::pipeline {

Receiver::Receiver(store::Store& store, const SubjectKeyer& keyer, const TopologyHolder& topology, Router& router,
                   ReceiveLimits limits)
    : store_(store), keyer_(keyer), topology_(topology), router_(router), limits_(limits) {}

void Receiver::submit(const plugin_host::Adapter& from, plugin_host::InboundSubmission record,
                      std::function<void(plugin_host::SubmitReply)> reply) {
  static auto logger = log::get("receive");
  auto& received = metrics::global().counter("carebridge_received_total", "Records stored on receipt",
                                             {{"adapter", from.name()}});
  if (draining_) {
    reply({CB_SUBMIT_UNAVAILABLE, {}, "carebridged is stopping; retry later"});
    return;
  }
  if (record.payload.size() > limits_.max_payload_bytes) {
    logger->warn("adapter {}: refused a record of {} bytes (limit {})", from.name(), record.payload.size(),
                 limits_.max_payload_bytes);
    reply({CB_SUBMIT_REFUSED, {}, "record larger than " + std::to_string(limits_.max_payload_bytes) + " bytes"});
    return;
  }
  if (router_.backlog() > limits_.max_backlog) {
    reply({CB_SUBMIT_UNAVAILABLE, {}, "carebridged is busy; retry later"});
    return;
  }
  // Routed first, then stored with its routing in one transaction (see
  // route.h); the sender hears back only once that has committed.
  ReceivedRecord next;
  next.message_id = newMessageId();
  next.source = from.name();
  next.source_org = from.organisation();
  next.content_type = std::move(record.content_type);
  next.record_type = std::move(record.record_type);
  next.subject_key = keyer_.key("subject", record.subject);
  next.payload = std::make_shared<const std::string>(std::move(record.payload));
  Router::Arrival arrival;
  arrival.sender_message_id = std::move(record.sender_message_id);
  arrival.stored = [reply = std::move(reply), &received](Result<store::SubmitOutcome> r) {
    if (!r) {
      // Not stored, so not acknowledged: the sender keeps it and retries.
      reply({CB_SUBMIT_UNAVAILABLE, {}, "could not store the record; retry later"});
      return;
    }
    if (r->status == store::SubmitStatus::Duplicate) {
      reply({CB_SUBMIT_DUPLICATE, r->message_id, {}});
      return;
    }
    received.inc();
    reply({CB_SUBMIT_STORED, r->message_id, {}});
  };
  router_.admit(std::move(next), std::move(arrival));
}

void Receiver::tlsRefused(const plugin_host::Adapter& at, const net::TlsRefusal& refusal) {
  metrics::global()
      .counter("carebridge_tls_refused_total", "TLS handshakes refused (certificate not verified)",
               {{"adapter", at.name()}})
      .inc();
  audit::AuditEvent e;
  e.actor = audit::Actor::adapter(at.name(), at.organisation());
  e.action = audit::action::kTlsRefused;
  e.outcome = audit::outcome::kRefused;
  e.with("adapter", at.name()).with("remote", refusal.remote_address).with("reason", refusal.reason);
  if (!refusal.peer_subject.empty()) e.with("peer_subject", refusal.peer_subject);
  store_.audit({std::move(e)}, [](Status) {});
}

}  // namespace cb::pipeline
