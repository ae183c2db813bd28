#pragma once
// The daemon's store as an adapter plugin sees it through
// cb::plugin_host::AdapterEvents, for tests that run a real plugin through the
// real plugin host without a daemon.
//
// What it does with each submit():
//   - records the submission (received(), receivedCount(), waitReceived());
//   - then, by mode:
//       Mode::Store        answers at once: CB_SUBMIT_STORED with a fresh
//                          UUID-shaped message id, or CB_SUBMIT_DUPLICATE with
//                          the first copy's id if a record with the same
//                          non-empty sender id was stored before (as the real
//                          store does; an empty sender id is never a
//                          duplicate);
//       Mode::Refuse       answers at once CB_SUBMIT_REFUSED with the reason
//                          given to setMode() (or a default);
//       Mode::Unavailable  answers at once CB_SUBMIT_UNAVAILABLE with the
//                          reason given to setMode() (or a default);
//       Mode::Hold         answers nothing until releaseAll() (heldCount(),
//                          waitHeld()), like a store still committing.
// Replies always run outside the fake's lock, on the caller's thread
// (submit()'s for immediate answers, releaseAll()'s for held ones).
// Certificate refusals (tlsRefused) are counted (tlsRefusals()).
//
// Thread-safe: plugins call submit() from their own threads while the test
// inspects and reconfigures the fake.
#include "plugin_host/adapter.h"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace cb::test {

class FakeStoreEvents : public plugin_host::AdapterEvents {
 public:
  enum class Mode { Store, Hold, Refuse, Unavailable };

  static constexpr std::chrono::milliseconds kDefaultWait{10000};

  /// The id given to the n-th record stored (n from 1):
  /// "0190f3a0-0000-7000-8000-1000000000nn" (a UUID's shape).
  static std::string messageId(std::size_t n);

  // ---- plugin_host::AdapterEvents
  void submit(const plugin_host::Adapter& from, plugin_host::InboundSubmission record,
              std::function<void(plugin_host::SubmitReply)> reply) override;
  void tlsRefused(const plugin_host::Adapter& at, const net::TlsRefusal& refusal) override;

  // ---- Scripting
  /// How later submissions are answered. `reason` is the text of a Refuse or
  /// Unavailable answer (empty: a default). Submissions already held stay
  /// held until releaseAll().
  void setMode(Mode mode, std::string reason = {});
  /// Answers every held submission, in arrival order, as Mode::Store would
  /// (stored or duplicate), and switches the mode back to Mode::Store.
  void releaseAll();

  // ---- Inspection
  /// Every submission so far, in arrival order (a copy), whatever its answer.
  std::vector<plugin_host::InboundSubmission> received() const;
  std::size_t receivedCount() const;
  /// Submissions held (Mode::Hold) and not yet released.
  std::size_t heldCount() const;
  /// Distinct records stored (duplicates, refusals and held ones not counted).
  std::size_t stored() const;
  std::size_t tlsRefusals() const;

  /// Wait until at least `n` submissions were received / are held; false on
  /// timeout.
  bool waitReceived(std::size_t n, std::chrono::milliseconds timeout = kDefaultWait);
  bool waitHeld(std::size_t n, std::chrono::milliseconds timeout = kDefaultWait);

 private:
  using Reply = std::function<void(plugin_host::SubmitReply)>;
  // Requires mutex_.
  plugin_host::SubmitReply answerLocked(const plugin_host::InboundSubmission& r, Mode mode);

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  Mode mode_ = Mode::Store;
  std::string reason_;
  std::vector<plugin_host::InboundSubmission> received_;
  std::vector<std::pair<plugin_host::InboundSubmission, Reply>> held_;
  std::map<std::string, std::string> by_sender_;  // sender id -> message id
  std::size_t stored_ = 0;
  std::size_t tls_refusals_ = 0;
};

}  // namespace cb::test
