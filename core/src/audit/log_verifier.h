#pragma once
// Verification of the whole stored audit log for auditors (issue #5 item 4;
// `carebridge audit verify`): recomputes the Merkle tree from the stored
// entries (leaf = SHA-256(0x00 || canonical entry), RFC 9162 2.1.1) in one
// pass and checks, in log order,
//   - that entries are numbered 0, 1, 2, ... without gaps (deletion),
//   - that each entry still hashes to the leaf hash written beside it and
//     that its indexed columns (action, actor, subject key, ...) say what the
//     entry says (alteration),
//   - every stored checkpoint's signature, and that the tree recomputed up to
//     its size reproduces its signed root (alteration, reordering, deletion
//     with renumbering), and the same for published copies given to it,
//   - the store's own tree state (size and frontier) against the entries,
//   - that no checkpoint or tree state covers entries the log no longer
//     holds (truncation).
// It stops at the first problem and names the first entry (or checkpoint)
// that does not match. Where only a signed root can tell (entries rewritten
// together with their leaf hashes, or reordered), the entry named is the
// first one after the last point that matched a signed root: the alteration
// lies between it and the checkpoint named.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audit/checkpoint.h"
#include "common/result.h"

namespace cb::store {
class Store;
}

namespace cb::audit {

/// What verifyAuditLog() found.
struct LogVerification {
  bool intact = false;
  std::uint64_t entries = 0;      ///< entries read and rehashed
  std::uint64_t tree_size = 0;    ///< the size in the store's tree state
  std::uint64_t checkpoints = 0;  ///< checkpoints whose signature and root were checked
  std::uint64_t covered = 0;      ///< entries [0, covered) are pinned by a verified signed checkpoint
  std::optional<std::int64_t> latest_checkpoint_time;  ///< Unix seconds of the newest verified checkpoint
  /// On failure: the first entry that does not match, and the checkpoint
  /// (its tree size) involved, if any.
  std::optional<std::uint64_t> first_bad_entry;
  std::optional<std::uint64_t> bad_checkpoint;
  std::string problem;  ///< one sentence naming what does not match
};

struct LogVerifyOptions {
  /// Signed checkpoint notes kept outside the store (published copies); each
  /// is checked like a stored one.
  std::vector<std::pair<std::string, std::string>> external_notes;  ///< (where from, note)
  /// Called every 65,536 entries and at the end with (entries done, tree size).
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

/// Verifies the store's audit log against `key`. An Error means the log
/// could not be read (not that it was found altered: that is a result with
/// intact == false).
Result<LogVerification> verifyAuditLog(store::Store& store, const VerifierKey& key,
                                       const LogVerifyOptions& options = {});

}  // namespace cb::audit
