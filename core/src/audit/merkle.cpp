#include "audit/merkle.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <exception>
#include <limits>
#include <stdexcept>

namespace cb::audit {
namespace {

constexpr std::uint8_t kLeafPrefix = 0x00;  // RFC 9162 2.1.1: domain separation of leaves ...
constexpr std::uint8_t kNodePrefix = 0x01;  // ... and interior nodes (second-preimage resistance).

// A fetched SHA-256 and a reusable context per thread. EVP_Digest() with
// EVP_sha256() looks the algorithm up again on every call in OpenSSL 3,
// which costs more than hashing a 65-byte node; proofs over millions of
// leaves hash millions of nodes.
class TreeHasher {
 public:
  TreeHasher() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {
    if (md_ == nullptr || ctx_ == nullptr) {
      EVP_MD_CTX_free(ctx_);
      EVP_MD_free(md_);
      throw std::runtime_error("OpenSSL: SHA-256 is not available");
    }
  }
  ~TreeHasher() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  TreeHasher(const TreeHasher&) = delete;
  TreeHasher& operator=(const TreeHasher&) = delete;

  Sha256 hash(std::uint8_t prefix, std::span<const std::uint8_t> a, std::span<const std::uint8_t> b = {}) {
    Sha256 out{};
    unsigned int len = 0;
    if (EVP_DigestInit_ex(ctx_, md_, nullptr) != 1 || EVP_DigestUpdate(ctx_, &prefix, 1) != 1 ||
        EVP_DigestUpdate(ctx_, a.data(), a.size()) != 1 || EVP_DigestUpdate(ctx_, b.data(), b.size()) != 1 ||
        EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1 || len != out.size()) {
      throw std::runtime_error("OpenSSL SHA-256 failed");
    }
    return out;
  }

  static TreeHasher& forThisThread() {
    thread_local TreeHasher hasher;
    return hasher;
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

// Leaves are read from a source in runs of this many: one range query per
// run for a store, constant memory for us.
constexpr std::size_t kReadChunk = 1024;

// RFC 9162 2.1.1: "k is the largest power of two smaller than n" (n >= 2).
std::uint64_t splitPoint(std::uint64_t n) { return std::uint64_t{1} << (std::bit_width(n - 1) - 1); }

std::string rangeText(std::uint64_t begin, std::uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

// Computes MTH over runs of leaves of a source, streaming: each leaf is
// pushed onto a stack of perfect subtree roots and equal-sized neighbours
// are merged at once, so the stack never holds more than 64 entries. At the
// end the stack is folded right to left, which is exactly the recursive MTH
// split at the largest power of two (RFC 9162 2.1.1). One instance serves
// all the subtree roots of one proof, so the read buffer is allocated once.
class RangeHasher {
 public:
  explicit RangeHasher(const LeafHashSource& source)
      : source_(source), cacheLevels_(source.cachedSubtreeLevels() & ~std::uint64_t{1}), buffer_(kReadChunk) {}

  Result<Sha256> root(std::uint64_t begin, std::uint64_t end) {
    if (begin == end) return emptyRoot();
    depth_ = 0;
    std::uint64_t p = begin;
    while (p < end) {
      if (cacheLevels_ != 0) {
        if (const std::uint64_t covered = useCachedSubtree(begin, p, end); covered != 0) {
          p += covered;
          continue;
        }
      }
      std::uint64_t n = std::min<std::uint64_t>(end - p, kReadChunk);
      if (cacheLevels_ != 0) {
        // Stop at the next boundary of the smallest cached level, where the
        // cache may answer again.
        const std::uint64_t block = std::uint64_t{1} << std::countr_zero(cacheLevels_);
        n = std::min(n, block - (p & (block - 1)));
      }
      auto out = std::span<Sha256>(buffer_).first(static_cast<std::size_t>(n));
      Status read = source_.readLeafHashes(p, out);
      if (!read) return fail("reading audit leaf hashes " + rangeText(p, p + n) + ": " + read.error().message);
      for (const Sha256& leaf : out) push(0, leaf);
      p += n;
    }
    Sha256 acc = hashes_[depth_ - 1];
    for (std::size_t i = depth_ - 1; i-- > 0;) acc = nodeHash(hashes_[i], acc);
    return acc;
  }

 private:
  // A cached perfect subtree of 2^level leaves can stand in for its leaves
  // when it starts at p, lies within [begin, end), and is aligned both
  // absolutely (that is how the cache is keyed) and relative to `begin`
  // (that is where the stack expects a subtree of that size). Returns the
  // number of leaves covered, 0 if the cache had nothing usable.
  std::uint64_t useCachedSubtree(std::uint64_t begin, std::uint64_t p, std::uint64_t end) {
    for (int level = 63; level >= 1; --level) {
      if (((cacheLevels_ >> level) & 1) == 0) continue;
      const std::uint64_t span = std::uint64_t{1} << level;
      const std::uint64_t mask = span - 1;
      if ((p & mask) != 0 || ((p - begin) & mask) != 0 || end - p < span) continue;
      const auto lvl = static_cast<unsigned>(level);
      if (auto h = source_.cachedSubtreeHash(lvl, p >> level)) {
        push(lvl, *h);
        return span;
      }
    }
    return 0;
  }

  void push(unsigned level, Sha256 h) {
    while (depth_ > 0 && levels_[depth_ - 1] == level) {
      h = nodeHash(hashes_[depth_ - 1], h);
      --depth_;
      ++level;
    }
    hashes_[depth_] = h;
    levels_[depth_] = level;
    ++depth_;
  }

  const LeafHashSource& source_;
  std::uint64_t cacheLevels_;
  std::vector<Sha256> buffer_;
  std::array<Sha256, 65> hashes_{};
  std::array<unsigned, 65> levels_{};
  std::size_t depth_ = 0;
};

// Runs a computation that reads a source, turning an exception escaping the
// source (or OpenSSL) into an Error: audit reads fail closed, never crash.
template <class F>
auto guarded(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return fail(std::string(what) + ": " + e.what());
  }
}

Status checkTreeSize(const LeafHashSource& source, std::uint64_t treeSize) {
  const std::uint64_t have = source.size();
  if (treeSize > have) {
    return fail("tree size " + std::to_string(treeSize) + " exceeds the " + std::to_string(have) +
                " leaves in the audit log");
  }
  return {};
}

std::span<const std::uint8_t> bytesOf(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

bool toHash(std::string_view bytes, Sha256& out) {
  if (bytes.size() != out.size()) return false;
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return true;
}

}  // namespace

Sha256 leafHash(std::span<const std::uint8_t> entry) { return TreeHasher::forThisThread().hash(kLeafPrefix, entry); }

Sha256 leafHash(std::string_view entry) { return leafHash(bytesOf(entry)); }

Sha256 nodeHash(const Sha256& left, const Sha256& right) {
  return TreeHasher::forThisThread().hash(kNodePrefix, left, right);
}

Sha256 emptyRoot() { return sha256(std::string_view{}); }

// ---- MerkleFrontier --------------------------------------------------------

Status MerkleFrontier::append(const Sha256& leaf) { return append(leaf, CompletedSubtreeFn{}); }

Status MerkleFrontier::append(const Sha256& leaf, const CompletedSubtreeFn& onCompleted) {
  if (size_ == std::numeric_limits<std::uint64_t>::max()) return fail("audit Merkle tree is full (2^64 - 1 leaves)");
  // Appending leaf number size_ merges one perfect subtree per trailing one
  // bit of size_: the binary carry of size_ + 1.
  const std::uint64_t newSize = size_ + 1;
  Sha256 h = leaf;
  unsigned level = 0;
  for (std::uint64_t s = size_; (s & 1) != 0; s >>= 1) {
    h = nodeHash(hashes_.back(), h);
    hashes_.pop_back();
    ++level;
    if (onCompleted) onCompleted(level, (newSize >> level) - 1, h);
  }
  hashes_.push_back(h);
  size_ = newSize;
  return {};
}

Sha256 MerkleFrontier::root() const {
  if (hashes_.empty()) return emptyRoot();
  Sha256 acc = hashes_.back();
  for (std::size_t i = hashes_.size() - 1; i-- > 0;) acc = nodeHash(hashes_[i], acc);
  return acc;
}

namespace {
constexpr std::string_view kFrontierMagic = "CBMF";
constexpr char kFrontierVersion = 0x01;
constexpr std::size_t kFrontierHeader = kFrontierMagic.size() + 1 + 8;
}  // namespace

std::string MerkleFrontier::toBytes() const {
  std::string out;
  out.reserve(kFrontierHeader + hashes_.size() * 32);
  out.append(kFrontierMagic);
  out.push_back(kFrontierVersion);
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((size_ >> shift) & 0xff));
  for (const Sha256& h : hashes_) out.append(reinterpret_cast<const char*>(h.data()), h.size());
  return out;
}

Result<MerkleFrontier> MerkleFrontier::fromBytes(std::string_view bytes) {
  if (bytes.size() < kFrontierHeader || bytes.substr(0, kFrontierMagic.size()) != kFrontierMagic) {
    return fail("audit frontier: not a carebridge Merkle frontier (missing \"CBMF\" header)");
  }
  if (bytes[kFrontierMagic.size()] != kFrontierVersion) {
    return fail("audit frontier: unsupported version " +
                std::to_string(static_cast<unsigned char>(bytes[kFrontierMagic.size()])));
  }
  std::uint64_t size = 0;
  for (std::size_t i = kFrontierMagic.size() + 1; i < kFrontierHeader; ++i) {
    size = (size << 8) | static_cast<unsigned char>(bytes[i]);
  }
  const auto count = static_cast<std::size_t>(std::popcount(size));
  if (bytes.size() != kFrontierHeader + count * 32) {
    return fail("audit frontier: " + std::to_string(bytes.size()) + " bytes, expected " +
                std::to_string(kFrontierHeader + count * 32) + " for tree size " + std::to_string(size));
  }
  MerkleFrontier f;
  f.size_ = size;
  f.hashes_.resize(count);
  for (std::size_t i = 0; i < count; ++i) toHash(bytes.substr(kFrontierHeader + i * 32, 32), f.hashes_[i]);
  return f;
}

// ---- Leaf hash sources -----------------------------------------------------

Status LeafHashSource::readLeafHashes(std::uint64_t begin, std::span<Sha256> out) const {
  const std::uint64_t have = size();
  if (begin > have || out.size() > have - begin) {
    return fail("leaf range " + rangeText(begin, begin + out.size()) + " is beyond the " + std::to_string(have) +
                " leaves");
  }
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = leafHash(begin + i);
  return {};
}

std::optional<Sha256> LeafHashSource::cachedSubtreeHash(unsigned /*level*/, std::uint64_t /*index*/) const {
  return std::nullopt;
}

Status VectorLeafHashSource::readLeafHashes(std::uint64_t begin, std::span<Sha256> out) const {
  if (begin > leaves_.size() || out.size() > leaves_.size() - begin) {
    return fail("leaf range " + rangeText(begin, begin + out.size()) + " is beyond the " +
                std::to_string(leaves_.size()) + " leaves");
  }
  const auto first = leaves_.begin() + static_cast<std::ptrdiff_t>(begin);
  std::copy(first, first + static_cast<std::ptrdiff_t>(out.size()), out.begin());
  return {};
}

// ---- Roots and proofs over a source ----------------------------------------

Result<Sha256> rangeRoot(const LeafHashSource& source, std::uint64_t begin, std::uint64_t end) {
  return guarded("audit Merkle root", [&]() -> Result<Sha256> {
    if (begin > end) return fail("leaf range " + rangeText(begin, end) + " is reversed");
    if (Status s = checkTreeSize(source, end); !s) return s.error();
    RangeHasher hasher(source);
    return hasher.root(begin, end);
  });
}

Result<Sha256> rootOf(const LeafHashSource& source, std::uint64_t treeSize) { return rangeRoot(source, 0, treeSize); }

Result<MerkleFrontier> frontierOf(const LeafHashSource& source, std::uint64_t treeSize) {
  return guarded("audit Merkle frontier", [&]() -> Result<MerkleFrontier> {
    if (Status s = checkTreeSize(source, treeSize); !s) return s.error();
    // The frontier holds the roots of the perfect subtrees of the binary
    // decomposition of treeSize, largest (leftmost) first.
    MerkleFrontier f;
    RangeHasher hasher(source);
    std::uint64_t pos = 0;
    for (int bit = 63; bit >= 0; --bit) {
      const std::uint64_t span = std::uint64_t{1} << bit;
      if ((treeSize & span) == 0) continue;
      auto h = hasher.root(pos, pos + span);
      if (!h) return h.error();
      f.hashes_.push_back(*h);
      pos += span;
    }
    f.size_ = treeSize;
    return f;
  });
}

Result<std::vector<Sha256>> inclusionProof(const LeafHashSource& source, std::uint64_t index, std::uint64_t treeSize) {
  return guarded("audit inclusion proof", [&]() -> Result<std::vector<Sha256>> {
    if (Status s = checkTreeSize(source, treeSize); !s) return s.error();
    if (index >= treeSize) {
      return fail("inclusion proof: leaf index " + std::to_string(index) + " is not below tree size " +
                  std::to_string(treeSize));
    }
    // RFC 9162 2.1.3.1, unrolled: PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])
    // for m < k, and PATH(m - k, D[k:n]) : MTH(D[0:k]) otherwise. Walking
    // down collects the siblings top first; the proof lists them bottom first.
    // The sibling ranges are disjoint, so each leaf is read at most once.
    RangeHasher hasher(source);
    std::vector<Sha256> path;
    path.reserve(static_cast<std::size_t>(std::bit_width(treeSize)));
    std::uint64_t lo = 0;
    std::uint64_t hi = treeSize;
    while (hi - lo > 1) {
      const std::uint64_t k = splitPoint(hi - lo);
      Result<Sha256> sibling = index < lo + k ? hasher.root(lo + k, hi) : hasher.root(lo, lo + k);
      if (!sibling) return sibling.error();
      path.push_back(*sibling);
      if (index < lo + k) {
        hi = lo + k;
      } else {
        lo += k;
      }
    }
    std::reverse(path.begin(), path.end());
    return path;
  });
}

Result<std::vector<Sha256>> consistencyProof(const LeafHashSource& source, std::uint64_t oldSize,
                                             std::uint64_t newSize) {
  return guarded("audit consistency proof", [&]() -> Result<std::vector<Sha256>> {
    if (Status s = checkTreeSize(source, newSize); !s) return s.error();
    if (oldSize == 0 || oldSize > newSize) {
      return fail("consistency proof: needs 0 < old size <= new size, got old size " + std::to_string(oldSize) +
                  " and new size " + std::to_string(newSize));
    }
    // RFC 9162 2.1.4.1, unrolled: SUBPROOF(m, D[n], b) is {} (b true) or
    // {MTH(D[n])} when m == n; else with k the split point,
    // SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) if m <= k, and
    // SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) if m > k.
    RangeHasher hasher(source);
    std::vector<Sha256> proof;
    proof.reserve(static_cast<std::size_t>(std::bit_width(newSize)) + 1);
    std::uint64_t lo = 0;
    std::uint64_t hi = newSize;
    std::uint64_t m = oldSize;  // relative to lo
    bool b = true;
    while (true) {
      if (m == hi - lo) {
        if (!b) {
          auto h = hasher.root(lo, hi);
          if (!h) return h.error();
          proof.push_back(*h);
        }
        break;
      }
      const std::uint64_t k = splitPoint(hi - lo);
      if (m <= k) {
        auto h = hasher.root(lo + k, hi);
        if (!h) return h.error();
        proof.push_back(*h);
        hi = lo + k;
      } else {
        auto h = hasher.root(lo, lo + k);
        if (!h) return h.error();
        proof.push_back(*h);
        lo += k;
        m -= k;
        b = false;
      }
    }
    std::reverse(proof.begin(), proof.end());
    return proof;
  });
}

// ---- Verification ----------------------------------------------------------

Result<Sha256> rootFromInclusionProof(std::uint64_t index, std::uint64_t treeSize, const Sha256& leaf,
                                      std::span<const Sha256> path) {
  // RFC 9162 2.1.3.2, step by step.
  // 1. leaf_index must be below tree_size.
  if (index >= treeSize) {
    return fail("inclusion proof: leaf index " + std::to_string(index) + " is not below tree size " +
                std::to_string(treeSize));
  }
  // 2.-3. fn = leaf_index, sn = tree_size - 1, r = hash.
  std::uint64_t fn = index;
  std::uint64_t sn = treeSize - 1;
  Sha256 r = leaf;
  // 4. For each p in the path:
  for (const Sha256& p : path) {
    // a. A path longer than the tree is high fails.
    if (sn == 0)
      return fail("inclusion proof: more path hashes than a tree of size " + std::to_string(treeSize) + " has levels");
    if ((fn & 1) != 0 || fn == sn) {
      // b. p is a left sibling.
      r = nodeHash(p, r);
      // A node on the right border without a right sibling moves up
      // levels without hashing.
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    // c.
    fn >>= 1;
    sn >>= 1;
  }
  // 5. The path must have reached the root exactly.
  if (sn != 0)
    return fail("inclusion proof: too few path hashes for leaf " + std::to_string(index) + " in a tree of size " +
                std::to_string(treeSize));
  return r;
}

Status verifyInclusion(std::uint64_t index, std::uint64_t treeSize, const Sha256& leaf, std::span<const Sha256> path,
                       const Sha256& root) {
  Result<Sha256> computed = rootFromInclusionProof(index, treeSize, leaf, path);
  if (!computed) return computed.error();
  if (*computed != root) {
    return fail("inclusion proof: the path from leaf " + std::to_string(index) + " leads to root " + toHex(*computed) +
                ", not to the expected root " + toHex(root));
  }
  return {};
}

Status verifyConsistency(std::uint64_t oldSize, std::uint64_t newSize, const Sha256& oldRoot, const Sha256& newRoot,
                         std::span<const Sha256> proof) {
  const std::string sizes = "from size " + std::to_string(oldSize) + " to size " + std::to_string(newSize);
  if (newSize < oldSize) return fail("consistency proof " + sizes + ": the log cannot shrink");
  if (oldSize == 0) return fail("consistency proof " + sizes + ": a proof from the empty tree proves nothing");
  if (oldSize == newSize) {
    if (!proof.empty()) return fail("consistency proof " + sizes + ": equal sizes need an empty proof");
    if (oldRoot != newRoot) return fail("consistency proof " + sizes + ": equal sizes but different roots");
    return {};
  }
  // RFC 9162 2.1.4.2, step by step.
  // 1. An empty path fails.
  if (proof.empty()) return fail("consistency proof " + sizes + ": empty proof");
  // 2. If first is an exact power of 2, first_hash is prepended to the path.
  const bool prepend = std::has_single_bit(oldSize);
  const std::size_t count = proof.size() + (prepend ? 1 : 0);
  auto at = [&](std::size_t i) -> const Sha256& { return prepend ? (i == 0 ? oldRoot : proof[i - 1]) : proof[i]; };
  // 3.-4. fn = first - 1, sn = second - 1, then drop the levels where the
  // old tree's last leaf is a right child (those nodes are shared).
  std::uint64_t fn = oldSize - 1;
  std::uint64_t sn = newSize - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  // 5. fr and sr start at the first path value.
  Sha256 fr = at(0);
  Sha256 sr = fr;
  // 6. For each subsequent value c:
  for (std::size_t i = 1; i < count; ++i) {
    const Sha256& c = at(i);
    if (sn == 0) return fail("consistency proof " + sizes + ": too many path hashes");
    if ((fn & 1) != 0 || fn == sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  // 7. Both roots must be reproduced and the path must reach the top.
  if (sn != 0) return fail("consistency proof " + sizes + ": too few path hashes");
  if (fr != oldRoot)
    return fail("consistency proof " + sizes + ": the path does not reproduce the old root " + toHex(oldRoot));
  if (sr != newRoot)
    return fail("consistency proof " + sizes + ": the path does not reproduce the new root " + toHex(newRoot));
  return {};
}

Status verifyInclusionBytes(std::uint64_t index, std::uint64_t treeSize, std::string_view leaf,
                            std::span<const std::string> path, std::string_view root) {
  Sha256 leafH{};
  if (!toHash(leaf, leafH)) {
    return fail("inclusion proof: leaf hash is " + std::to_string(leaf.size()) + " bytes, not 32");
  }
  std::vector<Sha256> hashes(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (!toHash(path[i], hashes[i])) {
      return fail("inclusion proof: path hash " + std::to_string(i) + " is " + std::to_string(path[i].size()) +
                  " bytes, not 32");
    }
  }
  Result<Sha256> computed = rootFromInclusionProof(index, treeSize, leafH, hashes);
  if (!computed) return computed.error();
  Sha256 rootH{};
  if (!toHash(root, rootH) || rootH != *computed) {
    return fail("inclusion proof: the path from leaf " + std::to_string(index) + " does not lead to the expected root");
  }
  return {};
}

Status verifyConsistencyBytes(std::uint64_t oldSize, std::uint64_t newSize, std::string_view oldRoot,
                              std::string_view newRoot, std::span<const std::string> proof) {
  if (oldSize == newSize && oldSize != 0) {
    // Nothing to hash: the claim is only that both roots are the same.
    if (!proof.empty()) return fail("consistency proof: equal sizes need an empty proof");
    if (oldRoot != newRoot) return fail("consistency proof: equal sizes but different roots");
    return {};
  }
  Sha256 oldH{};
  Sha256 newH{};
  std::vector<Sha256> hashes(proof.size());
  const bool shapeChecks = newSize >= oldSize && oldSize != 0;  // else the typed check names the real fault
  if (shapeChecks) {
    if (!toHash(oldRoot, oldH))
      return fail("consistency proof: old root is " + std::to_string(oldRoot.size()) + " bytes, not 32");
    if (!toHash(newRoot, newH))
      return fail("consistency proof: new root is " + std::to_string(newRoot.size()) + " bytes, not 32");
    for (std::size_t i = 0; i < proof.size(); ++i) {
      if (!toHash(proof[i], hashes[i])) {
        return fail("consistency proof: path hash " + std::to_string(i) + " is " + std::to_string(proof[i].size()) +
                    " bytes, not 32");
      }
    }
  }
  return verifyConsistency(oldSize, newSize, oldH, newH, hashes);
}

std::optional<Sha256> parseHashHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Sha256 out{};
  for (std::size_t i = 0; i < 32; ++i) {
    int v = 0;
    for (std::size_t j = 0; j < 2; ++j) {
      const char c = hex[2 * i + j];
      int d = 0;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else {
        return std::nullopt;
      }
      v = (v << 4) | d;
    }
    out[i] = static_cast<std::uint8_t>(v);
  }
  return out;
}

}  // namespace cb::audit
