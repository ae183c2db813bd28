#pragma once
// The text form of audit proofs: what `carebridge audit verify-proof` (the
// standalone verifier) reads, and what the daemon hands an auditor. A proof
// is self-contained: it carries the Merkle path and the signed checkpoint(s)
// that pin the root(s), so with only the log's verifier key an auditor can
// check that an entry is in the log (inclusion) or that the log only grew
// between two checkpoints (consistency).
//
// Inclusion proof (RFC 9162 2.1.3):
//   carebridge inclusion proof v1
//   index <leaf index, decimal>
//   tree-size <tree size, decimal; equal to the checkpoint's>
//   leaf-hash <64 lower-case hex: SHA-256(0x00 || entry)>
//   path <64 lower-case hex>          (zero or more, lowest level first)
//   checkpoint
//   <signed checkpoint note, C2SP tlog-checkpoint + signed-note>
//
// Consistency proof (RFC 9162 2.1.4):
//   carebridge consistency proof v1
//   old-size <decimal>
//   new-size <decimal>
//   path <64 lower-case hex>          (zero or more, lowest level first)
//   old-checkpoint
//   <signed checkpoint note at old-size>
//   new-checkpoint
//   <signed checkpoint note at new-size>
//
// Every line ends with a newline; nothing else may appear. An embedded note
// runs from its first line through the blank line to its last signature line
// (lines starting with an em dash); checkpoint text never contains a blank
// line (tlog-checkpoint), so the end of each note is unambiguous. Numbers and
// hashes have exactly one accepted spelling, so changing any single line of a
// proof makes it fail to parse or fail to verify.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "common/result.h"

namespace cb::audit {

inline constexpr std::string_view kInclusionProofHeader = "carebridge inclusion proof v1";
inline constexpr std::string_view kConsistencyProofHeader = "carebridge consistency proof v1";
/// Upper bound on the size of a proof text that parsing accepts.
inline constexpr std::size_t kMaxProofTextBytes = 4 * kMaxNoteBytes;

/// An inclusion proof with the checkpoint that pins its root.
struct InclusionProof {
  std::uint64_t index = 0;
  std::uint64_t treeSize = 0;
  Sha256 leafHash{};
  std::vector<Sha256> path;    ///< RFC 9162 PATH, lowest level first
  std::string checkpointNote;  ///< the signed checkpoint at treeSize, as signed

  bool operator==(const InclusionProof&) const = default;
};

/// A consistency proof between two signed checkpoints of one log.
struct ConsistencyProof {
  std::uint64_t oldSize = 0;
  std::uint64_t newSize = 0;
  std::vector<Sha256> path;       ///< RFC 9162 PROOF, lowest level first
  std::string oldCheckpointNote;  ///< signed checkpoint at oldSize
  std::string newCheckpointNote;  ///< signed checkpoint at newSize

  bool operator==(const ConsistencyProof&) const = default;
};

/// What a verified inclusion proof establishes: the entry whose leaf hash is
/// `leafHash` is at `index` in the log described by `checkpoint`.
struct VerifiedInclusion {
  std::uint64_t index = 0;
  Sha256 leafHash{};
  Checkpoint checkpoint;
};

/// What a verified consistency proof establishes: the log at `newer` is an
/// append-only extension of the log at `older`.
struct VerifiedConsistency {
  Checkpoint older;
  Checkpoint newer;
};

/// Builds the inclusion proof for leaf `index` against a signed checkpoint
/// the daemon issued (its signature is not checked here). Fails closed if
/// the leaves in `source` do not reproduce the checkpoint's root: then the
/// store and its own signed checkpoint disagree, and no proof is issued.
Result<InclusionProof> buildInclusionProof(const LeafHashSource& source, std::uint64_t index,
                                           std::string_view checkpointNote);
/// Builds the consistency proof between two signed checkpoints of the log
/// (oldest first); fails if the store does not reproduce both roots, if the
/// origins differ, or if the old size is 0 or larger than the new size.
Result<ConsistencyProof> buildConsistencyProof(const LeafHashSource& source, std::string_view oldCheckpointNote,
                                               std::string_view newCheckpointNote);

/// The text form described at the top of this file. The notes are copied
/// as they are; a malformed note makes the result fail to parse.
std::string formatInclusionProof(const InclusionProof& proof);
std::string formatConsistencyProof(const ConsistencyProof& proof);

/// Parses the text form; checks structure only (numbers, hashes, note
/// boundaries), not signatures or paths.
Result<InclusionProof> parseInclusionProof(std::string_view text);
Result<ConsistencyProof> parseConsistencyProof(std::string_view text);

/// Parses and fully verifies an inclusion proof: the checkpoint's signature
/// by `key`, that its size equals tree-size, and that the path leads from
/// leaf-hash at index to the checkpoint's root.
Result<VerifiedInclusion> verifyInclusionProofText(std::string_view text, const VerifierKey& key);
Result<VerifiedInclusion> verifyInclusionProofText(std::string_view text, std::string_view verifierKeyText);

/// Parses and fully verifies a consistency proof: both checkpoints signed by
/// `key`, same origin, sizes as stated, and the path proves that the new
/// tree extends the old one (RFC 9162 2.1.4.2).
Result<VerifiedConsistency> verifyConsistencyProofText(std::string_view text, const VerifierKey& key);
Result<VerifiedConsistency> verifyConsistencyProofText(std::string_view text, std::string_view verifierKeyText);

}  // namespace cb::audit
