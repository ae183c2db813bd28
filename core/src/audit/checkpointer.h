#pragma once
// The daemon's checkpoint signer (issue #5 item 3): whenever the audit log
// has grown and the configured interval has passed, or the configured number
// of entries was added, it signs a checkpoint (tree size, root, time) with
// the Ed25519 key of [audit] signing_key, stores it in the store's
// `audit_checkpoints` table and publishes it (a file per checkpoint in
// publish_dir, a syslog(3) line), so partners and information governance can
// keep copies outside the daemon's control.
//
// It never signs what it has not checked: it keeps the frontier of the tree
// its last checkpoint pinned, reads only the entries appended since, rehashes
// each (leaf = SHA-256(0x00 || canonical entry), RFC 9162 2.1.1), and signs
// only when the result equals the store's committed tree state. A log that
// was altered, truncated or whose stored state disagrees is reported and left
// unsigned, so later checkpoints never paper over earlier tampering.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"

namespace cb::store {
class Store;
}

namespace cb::audit {

/// A checkpoint as signed: its content and the signed note.
struct SignedCheckpoint {
  Checkpoint checkpoint;
  std::string note;  ///< C2SP signed note, exactly as stored and published
};

/// Somewhere a signed checkpoint is copied to, outside the store.
class CheckpointPublisher {
 public:
  virtual ~CheckpointPublisher() = default;
  /// For log lines: "directory /var/lib/...", "syslog".
  virtual std::string describe() const = 0;
  /// Publishes the signed checkpoint. A failure is retried on the next tick.
  virtual Status publish(const SignedCheckpoint& checkpoint) = 0;
};

/// Writes each checkpoint to `<dir>/checkpoint-<tree size, 20 digits>.txt`
/// and replaces `<dir>/latest.txt`; both are written to a temporary file,
/// synced and renamed, so a reader never sees half a note.
class DirectoryPublisher final : public CheckpointPublisher {
 public:
  /// Creates `dir` if needed.
  static Result<std::unique_ptr<DirectoryPublisher>> create(const std::filesystem::path& dir);
  std::string describe() const override { return "directory " + dir_.string(); }
  Status publish(const SignedCheckpoint& checkpoint) override;
  /// The file name a checkpoint of `size` gets.
  static std::string fileName(std::uint64_t size);

 private:
  explicit DirectoryPublisher(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

/// Logs each checkpoint through syslog(3) (facility daemon, level notice) as
/// one line: "carebridge audit checkpoint origin=<o> size=<n> root=<hex>
/// time=<unix s> note=<base64 of the signed note>"; decoding the note field
/// gives back the exact signed note. (Export over RFC 5425 TLS syslog is a
/// separate component.)
class SyslogPublisher final : public CheckpointPublisher {
 public:
  std::string describe() const override { return "syslog"; }
  Status publish(const SignedCheckpoint& checkpoint) override;
  /// The message logged for `checkpoint` (without the syslog header).
  static std::string message(const SignedCheckpoint& checkpoint);
};

/// Signs, stores and publishes checkpoints of the store's audit log.
/// Call tick() from one thread (the daemon's timer); it blocks for one store
/// commit when it signs, so never call it from a store completion callback
/// (those run on the store's completion thread, which it waits for).
/// Thread-safe nonetheless (an internal mutex).
class Checkpointer {
 public:
  /// When and where to sign and publish (from [audit]).
  struct Options {
    std::chrono::milliseconds interval{600000};  ///< sign when grown and this long since the last
    std::uint64_t every = 10000;                 ///< or when this many entries were added
  };

  /// From the configuration. Without [audit] signing_key the checkpointer is
  /// disabled: tick() and signFinal() do nothing. Errors (the key file
  /// unreadable, too widely readable or malformed; publish_dir not
  /// creatable; the latest stored checkpoint not signed by this key or no
  /// longer matching the log) name the config file and key, and are
  /// configuration errors for the daemon: do not start.
  /// OWNERSHIP: `store` and `clock` must outlive the checkpointer.
  static Result<std::unique_ptr<Checkpointer>> create(const config::AuditSettings& settings, store::Store& store,
                                                      const Clock& clock);
  /// With an explicit key and publishers (tests, tools).
  static Result<std::unique_ptr<Checkpointer>> create(Options options, SignerKey key,
                                                      std::vector<std::unique_ptr<CheckpointPublisher>> publishers,
                                                      store::Store& store, const Clock& clock);
  ~Checkpointer();

  bool enabled() const noexcept { return key_.has_value(); }

  /// Signs a checkpoint if one is due at `now`: the log has grown since the
  /// last checkpoint and `interval` has passed since it (or there is none
  /// yet), or `every` entries were added. Also retries publications that
  /// failed earlier. Returns the checkpoint signed, if any; an Error if the
  /// log could not be read or does not extend the last checkpoint (nothing
  /// is signed then; the daemon should log it and keep running).
  Result<std::optional<SignedCheckpoint>> tick(std::chrono::system_clock::time_point now);
  /// tick(clock.now()).
  Result<std::optional<SignedCheckpoint>> tick();
  /// At shutdown, after the last audit entry (daemon.stopped) has committed:
  /// signs a checkpoint if the log grew at all, so the tail of the log is
  /// covered, and makes a last attempt at pending publications.
  Result<std::optional<SignedCheckpoint>> signFinal();

  /// The public key matching the signing key (for `carebridge audit verify`).
  std::optional<VerifierKey> verifierKey() const;
  /// The tree size the last checkpoint covers (0 if none).
  std::uint64_t checkpointedSize() const;
  /// Publications that failed and wait for a retry.
  std::size_t pendingPublications() const;

 private:
  Checkpointer(Options options, std::optional<SignerKey> key,
               std::vector<std::unique_ptr<CheckpointPublisher>> publishers, store::Store& store, const Clock& clock);
  Status resume();
  Result<std::optional<SignedCheckpoint>> signIfDue(std::chrono::system_clock::time_point now, bool force);
  void publish(const SignedCheckpoint& checkpoint);
  void retryPending();

  Options options_;
  std::optional<SignerKey> key_;
  std::vector<std::unique_ptr<CheckpointPublisher>> publishers_;
  store::Store& store_;
  const Clock& clock_;

  mutable std::mutex mutex_;
  MerkleFrontier signed_;  ///< the tree the last checkpoint pins, as this process checked it
  std::optional<std::chrono::system_clock::time_point> last_time_;
  struct Pending {
    CheckpointPublisher* publisher;
    SignedCheckpoint checkpoint;
  };
  std::vector<Pending> pending_;
};

/// The key that verifies this site's checkpoints, from the configuration:
/// [audit] verifier_key, else the public half of signing_key; nullopt when
/// neither is set. Errors name the key file at fault.
Result<std::optional<VerifierKey>> configuredVerifierKey(const config::AuditSettings& settings);

}  // namespace cb::audit
