#pragma once
// The Merkle tree behind the tamper-evident audit log: hashing, an
// incremental frontier the daemon persists, root/proof computation over the
// stored leaf hashes, and proof verification.
//
// Hashing is RFC 9162 section 2.1 (identical to RFC 6962 section 2.1):
//   MTH({})      = SHA-256()
//   leaf hash    = SHA-256(0x00 || entry bytes)
//   node hash    = SHA-256(0x01 || left || right)
//   MTH(D[n])    = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of
//                  two smaller than n.
// Proofs are RFC 9162 2.1.3 (inclusion, PATH) and 2.1.4 (consistency,
// SUBPROOF); the verification algorithms are 2.1.3.2 and 2.1.4.2 verbatim.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/result.h"

namespace cb::audit {

/// SHA-256(0x00 || entry): the hash of one log entry (RFC 9162 2.1.1).
Sha256 leafHash(std::span<const std::uint8_t> entry);
Sha256 leafHash(std::string_view entry);
/// SHA-256(0x01 || left || right): an interior node (RFC 9162 2.1.1).
Sha256 nodeHash(const Sha256& left, const Sha256& right);
/// SHA-256 of the empty string: the root of the empty tree (RFC 9162 2.1.1).
Sha256 emptyRoot();

class LeafHashSource;

/// Called for every perfect subtree an append completes (level >= 1):
/// leaves [index << level, (index + 1) << level). A store can keep these as
/// a node cache and answer LeafHashSource::cachedSubtreeHash() from it.
using CompletedSubtreeFn = std::function<void(unsigned level, std::uint64_t index, const Sha256& hash)>;

/// The right edge of the tree, D[0:size]: the roots of the perfect subtrees
/// that the binary decomposition of `size` cuts the tree into, largest
/// (leftmost) first. That is O(log n) hashes, enough to append further leaves
/// and to compute the root at the current size without rereading any leaf
/// (a "compact range" [0, size) in the transparency-dev sense).
///
/// The daemon persists toBytes() beside the last appended entry and resumes
/// with fromBytes() after a restart. A resumed frontier should be checked
/// against the latest signed checkpoint of the same size (root() equal)
/// before appending, so a damaged file is noticed rather than extended.
class MerkleFrontier {
 public:
  /// The frontier of the empty tree.
  MerkleFrontier() = default;

  /// Appends one leaf hash (as made by leafHash()). Fails only when the tree
  /// already holds 2^64 - 1 leaves.
  Status append(const Sha256& leaf);
  /// As append(leaf), reporting each perfect subtree completed by this leaf.
  Status append(const Sha256& leaf, const CompletedSubtreeFn& onCompleted);

  /// Number of leaves appended so far.
  std::uint64_t size() const noexcept { return size_; }
  /// MTH(D[0:size]), or emptyRoot() for size 0. O(log n) hashing.
  Sha256 root() const;
  /// The perfect subtree roots, largest first; one per set bit of size().
  const std::vector<Sha256>& subtreeHashes() const noexcept { return hashes_; }

  /// Stable binary form: "CBMF", version byte 0x01, size as 8 bytes
  /// big-endian, then the subtree hashes largest first (32 bytes each).
  std::string toBytes() const;
  /// Parses toBytes() output; rejects a wrong magic, version or length.
  static Result<MerkleFrontier> fromBytes(std::string_view bytes);

  bool operator==(const MerkleFrontier&) const = default;

 private:
  friend Result<MerkleFrontier> frontierOf(const LeafHashSource& source, std::uint64_t treeSize);

  std::uint64_t size_ = 0;
  std::vector<Sha256> hashes_;
};

/// Read access to the leaf hashes of a log, in index order. The store
/// implements it over SQLite; VectorLeafHashSource holds them in memory.
///
/// The algorithms below read leaves only through readLeafHashes(), in
/// ascending runs of at most a few thousand, each leaf at most once per call.
/// They never throw for a failing source: an exception escaping a source is
/// caught and returned as an Error, so audit reads fail closed.
class LeafHashSource {
 public:
  virtual ~LeafHashSource() = default;

  /// Number of leaves in the log.
  virtual std::uint64_t size() const = 0;
  /// The leaf hash at `index` (< size()).
  virtual Sha256 leafHash(std::uint64_t index) const = 0;

  /// Fills `out` with the leaf hashes [begin, begin + out.size()). The
  /// default calls leafHash() per leaf; a store overrides it with one range
  /// query and reports read failures as an Error.
  virtual Status readLeafHashes(std::uint64_t begin, std::span<Sha256> out) const;

  /// Fast path: a bit mask of the levels (>= 1) for which cachedSubtreeHash()
  /// may answer. 0 (the default) means no cache: every leaf is read.
  virtual std::uint64_t cachedSubtreeLevels() const { return 0; }
  /// The hash of the perfect subtree over leaves
  /// [index << level, (index + 1) << level), if the source keeps it (see
  /// CompletedSubtreeFn). std::nullopt makes the caller read the leaves.
  /// A wrong cached hash yields a proof that does not verify against the
  /// signed checkpoint, so cache damage is detected, never hidden.
  virtual std::optional<Sha256> cachedSubtreeHash(unsigned level, std::uint64_t index) const;
};

/// Leaf hashes held in memory; for tests, tools and small logs.
class VectorLeafHashSource final : public LeafHashSource {
 public:
  VectorLeafHashSource() = default;
  explicit VectorLeafHashSource(std::vector<Sha256> leaves) : leaves_(std::move(leaves)) {}

  /// Appends the hash of one more leaf.
  void push(const Sha256& leaf) { leaves_.push_back(leaf); }
  const std::vector<Sha256>& leaves() const noexcept { return leaves_; }

  std::uint64_t size() const override { return leaves_.size(); }
  Sha256 leafHash(std::uint64_t index) const override { return leaves_.at(index); }
  Status readLeafHashes(std::uint64_t begin, std::span<Sha256> out) const override;

 private:
  std::vector<Sha256> leaves_;
};

/// MTH(D[0:treeSize]) over the first treeSize leaves of `source`
/// (treeSize <= source.size()). Reads each leaf at most once (fewer with a
/// subtree cache); memory O(log n).
Result<Sha256> rootOf(const LeafHashSource& source, std::uint64_t treeSize);
/// MTH(D[begin:end]): the root of the tree over that run of leaves.
Result<Sha256> rangeRoot(const LeafHashSource& source, std::uint64_t begin, std::uint64_t end);
/// The frontier of the first treeSize leaves, e.g. to rebuild a lost
/// frontier file or to check a persisted one.
Result<MerkleFrontier> frontierOf(const LeafHashSource& source, std::uint64_t treeSize);

/// PATH(index, D[0:treeSize]) of RFC 9162 2.1.3.1: the audit path for leaf
/// `index`, lowest level first. Requires index < treeSize <= source.size().
/// Reads each leaf at most once; memory O(log n) besides the result.
Result<std::vector<Sha256>> inclusionProof(const LeafHashSource& source, std::uint64_t index, std::uint64_t treeSize);

/// PROOF(oldSize, D[0:newSize]) of RFC 9162 2.1.4.1 (SUBPROOF with b = true),
/// lowest level first. Requires 0 < oldSize <= newSize <= source.size();
/// oldSize == newSize gives the empty proof. (A proof from the empty tree is
/// not defined by RFC 9162 and verification rejects it, see below.)
Result<std::vector<Sha256>> consistencyProof(const LeafHashSource& source, std::uint64_t oldSize,
                                             std::uint64_t newSize);

/// RFC 9162 2.1.3.2: the root that `path` leads to from `leaf` at `index` in
/// a tree of `treeSize`, or an Error if index >= treeSize or the path has
/// the wrong number of hashes for that position.
Result<Sha256> rootFromInclusionProof(std::uint64_t index, std::uint64_t treeSize, const Sha256& leaf,
                                      std::span<const Sha256> path);
/// Checks that `leaf` is at `index` in the tree of `treeSize` with `root`.
Status verifyInclusion(std::uint64_t index, std::uint64_t treeSize, const Sha256& leaf, std::span<const Sha256> path,
                       const Sha256& root);

/// RFC 9162 2.1.4.2: checks that the tree (newSize, newRoot) extends the
/// tree (oldSize, oldRoot). Rejected: newSize < oldSize; oldSize == 0 (a
/// proof from the empty tree proves nothing and RFC 9162 defines none; the
/// transparency-dev vectors require the rejection); equal sizes with a
/// non-empty proof or different roots; a proof of the wrong length or whose
/// hashes do not reproduce both roots.
Status verifyConsistency(std::uint64_t oldSize, std::uint64_t newSize, const Sha256& oldRoot, const Sha256& newRoot,
                         std::span<const Sha256> proof);

/// verifyInclusion() for hashes received as untrusted byte strings of any
/// length (JSON, another log's API). A leaf or path hash that is not 32
/// bytes is an Error; a root of another length simply does not match.
Status verifyInclusionBytes(std::uint64_t index, std::uint64_t treeSize, std::string_view leaf,
                            std::span<const std::string> path, std::string_view root);
/// verifyConsistency() for untrusted byte strings. With equal non-zero sizes
/// the two roots are only compared with each other (as transparency-dev/merkle
/// does), so any two equal byte strings pass; otherwise every hash must be 32
/// bytes. Size 0 is rejected as in verifyConsistency().
Status verifyConsistencyBytes(std::uint64_t oldSize, std::uint64_t newSize, std::string_view oldRoot,
                              std::string_view newRoot, std::span<const std::string> proof);

/// Parses 64 lower-case hex digits; the single spelling the audit formats
/// accept, so an altered character can never decode to the same hash.
std::optional<Sha256> parseHashHex(std::string_view hex);

}  // namespace cb::audit
