#pragma once
// Payload retention (issue #5 item 7): the payloads (received bytes and
// rendered copies) of messages that were delivered are purged once the
// configured period has passed since their last delivery; the messages'
// rows and every audit entry about them stay, so the trail still says what
// was shared, with whom and under which agreement, and `carebridge audit
// verify` still passes (the trail holds only payload digests). Each purged
// batch writes one `record.purged` entry in the same transaction as the purge.
//
// A message is purged only when every delivery of it is finished (delivered
// or refused; none queued, held or dead-lettered, which may still be sent)
// and at least one was delivered. Its period is the longest of the periods
// of the agreements its sharing decisions name (an agreement without its own
// period takes the global one); a message under an agreement with no period
// at all, or with no agreement and no global period, is kept.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "audit/audit_event.h"
#include "common/result.h"
#include "config/config.h"

namespace cb::store {
class Store;
}

namespace cb::audit {

/// How long payloads are kept after delivery.
struct RetentionPolicy {
  std::optional<std::chrono::milliseconds> global;              ///< [audit] payload_retention
  std::map<std::string, std::chrono::milliseconds> by_agreement;  ///< [audit.payload_retention_by_agreement]

  bool empty() const { return !global && by_agreement.empty(); }
};

/// The policy of [audit] payload_retention and payload_retention_by_agreement.
RetentionPolicy retentionPolicyFrom(const config::AuditSettings& settings);

struct PurgeResult {
  std::size_t messages = 0;  ///< messages whose payloads were purged
  std::size_t blobs = 0;     ///< payload blobs cleared (received + rendered)
  std::int64_t bytes = 0;    ///< payload bytes released
  std::size_t batches = 0;   ///< record.purged entries written
};

/// Purges what `policy` allows at `now_ms`, in batches of at most `batch`
/// messages, each one store transaction with its `record.purged` entry naming
/// `who`. Safe to run while the daemon runs (the CLI) and repeatedly (the
/// daemon, e.g. hourly): already purged payloads are skipped. Must not run on
/// the store's completion thread (it waits for its own transactions).
Result<PurgeResult> purgePayloads(store::Store& store, const RetentionPolicy& policy, std::int64_t now_ms,
                                  const Actor& who, std::size_t batch = 200);

}  // namespace cb::audit
