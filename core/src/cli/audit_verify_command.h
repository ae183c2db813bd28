#pragma once
// `carebridge audit keygen|verify|prove|consistency|verify-proof`: what an
// auditor uses to check that the audit trail has not been altered
// (issue #5 item 4).
//
//   carebridge audit keygen --out FILE [--name NAME]
//       a new Ed25519 checkpoint signing key: FILE (mode 0600, for
//       [audit] signing_key) and FILE.pub, the verifier key to hand auditors.
//   carebridge audit verify [--key PUB] [--published DIR]
//       recomputes the whole Merkle tree from the stored entries and checks
//       every stored (and published) checkpoint; names the first entry or
//       checkpoint that does not match.
//   carebridge audit prove --entry N [--checkpoint C]
//       the inclusion proof of entry N against the checkpoint at tree size C
//       (default: the newest), in the text form of audit/proof.h.
//   carebridge audit consistency --from C1 --to C2 [--key PUB]
//       the consistency proof between the checkpoints at tree sizes C1 < C2,
//       checked before it is printed.
//   carebridge audit verify-proof --key PUB --proof FILE [--entry-file F]
//       the standalone verifier: needs only the public key and the proof (no
//       configuration, no store).
//
// PUB is a verifier key string ("<name>+<id>+<key>") or a file holding one;
// without --key, verify and consistency use [audit] verifier_key, else the
// public half of [audit] signing_key. An auditor should pass the key they
// were given rather than trust the one on the daemon's machine.
//
// Exit status: 0 verified; 1 something does not match (the log or a proof
// was altered); 2 it could not be checked (no store, no key, unreadable file).
// Reading the log (verify, prove, consistency) is recorded in the audit trail
// (audit.viewed) before anything is shown, as `audit tail` does.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include "cli/cli_context.h"

namespace CLI {
class App;
}

namespace cb::cli {

inline constexpr int kAuditVerified = 0;
inline constexpr int kAuditMismatch = 1;
inline constexpr int kAuditCannotCheck = 2;

/// Registers the subcommands above on the `audit` subcommand.
void addAuditVerifyCommands(CLI::App& audit, CliContext& ctx);

// The commands as functions (for tests): results on `out`, messages and
// progress on `err`; each returns the exit status.
int auditKeygen(const std::filesystem::path& out_file, const std::string& name, std::ostream& out, std::ostream& err);
int auditVerify(const CliContext& ctx, const std::string& key, const std::filesystem::path& published_dir,
                std::ostream& out, std::ostream& err);
int auditProve(const CliContext& ctx, std::uint64_t entry, std::optional<std::uint64_t> checkpoint, std::ostream& out,
               std::ostream& err);
int auditConsistency(const CliContext& ctx, std::uint64_t from, std::uint64_t to, const std::string& key,
                     std::ostream& out, std::ostream& err);
int auditVerifyProof(const std::string& key, const std::filesystem::path& proof_file,
                     const std::filesystem::path& entry_file, std::ostream& out, std::ostream& err);

}  // namespace cb::cli
