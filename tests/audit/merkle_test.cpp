// The Merkle tree against a naive transcription of RFC 9162 2.1 (recursive
// MTH, PATH and SUBPROOF over a vector), for every tree size 1..200; the
// frontier's persistence; the subtree-cache fast path; failing sources.

#include "audit/merkle.h"

#include <gtest/gtest.h>

#include <bit>
#include <cctype>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>

namespace cb::audit {
namespace {

// ---- The RFC 9162 definitions, literally (slow, obviously correct) -------

std::uint64_t largestPowerOfTwoBelow(std::uint64_t n) {
  std::uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

Sha256 naiveMth(const std::vector<Sha256>& d, std::uint64_t lo, std::uint64_t hi) {
  const std::uint64_t n = hi - lo;
  if (n == 0) return emptyRoot();
  if (n == 1) return d[lo];
  const std::uint64_t k = largestPowerOfTwoBelow(n);
  return nodeHash(naiveMth(d, lo, lo + k), naiveMth(d, lo + k, hi));
}

std::vector<Sha256> naivePath(const std::vector<Sha256>& d, std::uint64_t m, std::uint64_t lo, std::uint64_t hi) {
  const std::uint64_t n = hi - lo;
  if (n == 1) return {};
  const std::uint64_t k = largestPowerOfTwoBelow(n);
  std::vector<Sha256> out;
  if (m < k) {
    out = naivePath(d, m, lo, lo + k);
    out.push_back(naiveMth(d, lo + k, hi));
  } else {
    out = naivePath(d, m - k, lo + k, hi);
    out.push_back(naiveMth(d, lo, lo + k));
  }
  return out;
}

std::vector<Sha256> naiveSubproof(const std::vector<Sha256>& d, std::uint64_t m, std::uint64_t lo, std::uint64_t hi,
                                  bool b) {
  const std::uint64_t n = hi - lo;
  if (m == n) return b ? std::vector<Sha256>{} : std::vector<Sha256>{naiveMth(d, lo, hi)};
  const std::uint64_t k = largestPowerOfTwoBelow(n);
  std::vector<Sha256> out;
  if (m <= k) {
    out = naiveSubproof(d, m, lo, lo + k, b);
    out.push_back(naiveMth(d, lo + k, hi));
  } else {
    out = naiveSubproof(d, m - k, lo + k, hi, false);
    out.push_back(naiveMth(d, lo, lo + k));
  }
  return out;
}

std::vector<Sha256> makeLeaves(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Sha256> leaves;
  leaves.reserve(n);
  for (std::size_t i = 0; i < n; ++i) leaves.push_back(leafHash("audit entry " + std::to_string(rng())));
  return leaves;
}

Sha256 flipped(Sha256 h, std::size_t byte = 0) {
  h[byte % h.size()] ^= 0x10;
  return h;
}

// Indices or sizes to try for a tree of size n: all of them for small trees,
// the edges plus a random sample otherwise.
std::vector<std::uint64_t> sample(std::uint64_t first, std::uint64_t last, std::mt19937_64& rng) {
  std::vector<std::uint64_t> out;
  if (last - first < 64) {
    for (std::uint64_t i = first; i <= last; ++i) out.push_back(i);
    return out;
  }
  out = {first, first + 1, last - 1, last};
  std::uniform_int_distribution<std::uint64_t> pick(first, last);
  for (int i = 0; i < 12; ++i) out.push_back(pick(rng));
  return out;
}

TEST(Merkle, HashingIsDomainSeparated) {
  // RFC 9162 2.1.1: a leaf and a node over the same bytes must differ.
  const Sha256 a = leafHash("a");
  const Sha256 b = leafHash("b");
  std::string concat(reinterpret_cast<const char*>(a.data()), a.size());
  concat.append(reinterpret_cast<const char*>(b.data()), b.size());
  EXPECT_NE(nodeHash(a, b), leafHash(concat));
  EXPECT_NE(nodeHash(a, b), nodeHash(b, a));
  EXPECT_EQ(toHex(emptyRoot()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // The span and string_view overloads hash the same bytes.
  const std::string entry = "entry";
  EXPECT_EQ(leafHash(entry),
            leafHash(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(entry.data()), entry.size())));
}

TEST(Merkle, RootsAndProofsMatchNaiveRfcForSizes1To200) {
  std::mt19937_64 rng(9162);
  const std::vector<Sha256> all = makeLeaves(200, 6962);
  VectorLeafHashSource source(all);
  for (std::uint64_t n = 1; n <= all.size(); ++n) {
    SCOPED_TRACE("tree size " + std::to_string(n));
    const Sha256 root = naiveMth(all, 0, n);
    ASSERT_EQ(*rootOf(source, n), root);

    for (std::uint64_t i : sample(0, n - 1, rng)) {
      SCOPED_TRACE("leaf " + std::to_string(i));
      auto path = inclusionProof(source, i, n);
      ASSERT_TRUE(path.ok()) << path.error().message;
      ASSERT_EQ(*path, naivePath(all, i, 0, n));
      ASSERT_TRUE(verifyInclusion(i, n, all[i], *path, root).ok());

      EXPECT_FALSE(verifyInclusion(i, n, flipped(all[i]), *path, root).ok()) << "wrong leaf";
      EXPECT_FALSE(verifyInclusion(i, n, all[i], *path, flipped(root)).ok()) << "wrong root";
      EXPECT_FALSE(verifyInclusion(i ^ 1, n, all[i], *path, root).ok()) << "wrong index";
      // No "wrong tree size" case here: a path can be valid for neighbouring
      // sizes when the leaf's path has the same shape in both trees (leaf 0
      // of 3 and of 4 leaves), so RFC 9162 verification yields the same
      // root. The size is bound to the root by the signed checkpoint; the
      // reference vectors check the size*2 and size/2 cases.
      for (std::size_t k = 0; k < path->size(); ++k) {
        auto bad = *path;
        bad[k] = flipped(bad[k], k);
        EXPECT_FALSE(verifyInclusion(i, n, all[i], bad, root).ok()) << "modified path[" << k << "]";
      }
      auto longer = *path;
      longer.push_back(root);
      EXPECT_FALSE(verifyInclusion(i, n, all[i], longer, root).ok()) << "extra hash";
      if (!path->empty()) {
        auto shorter = *path;
        shorter.pop_back();
        EXPECT_FALSE(verifyInclusion(i, n, all[i], shorter, root).ok()) << "missing hash";
      }
    }

    for (std::uint64_t m : sample(1, n, rng)) {
      SCOPED_TRACE("old size " + std::to_string(m));
      const Sha256 oldRoot = naiveMth(all, 0, m);
      auto proof = consistencyProof(source, m, n);
      ASSERT_TRUE(proof.ok()) << proof.error().message;
      ASSERT_EQ(*proof, naiveSubproof(all, m, 0, n, true));
      ASSERT_TRUE(verifyConsistency(m, n, oldRoot, root, *proof).ok());

      EXPECT_FALSE(verifyConsistency(m, n, flipped(oldRoot), root, *proof).ok()) << "wrong old root";
      EXPECT_FALSE(verifyConsistency(m, n, oldRoot, flipped(root), *proof).ok()) << "wrong new root";
      EXPECT_FALSE(verifyConsistency(n, m, root, oldRoot, *proof).ok() && m != n) << "swapped";
      for (std::size_t k = 0; k < proof->size(); ++k) {
        auto bad = *proof;
        bad[k] = flipped(bad[k], k);
        EXPECT_FALSE(verifyConsistency(m, n, oldRoot, root, bad).ok()) << "modified proof[" << k << "]";
      }
      auto longer = *proof;
      longer.push_back(root);
      EXPECT_FALSE(verifyConsistency(m, n, oldRoot, root, longer).ok()) << "extra hash";
      if (!proof->empty()) {
        auto shorter = *proof;
        shorter.pop_back();
        EXPECT_FALSE(verifyConsistency(m, n, oldRoot, root, shorter).ok()) << "missing hash";
        EXPECT_FALSE(verifyConsistency(m + 1, n, oldRoot, root, *proof).ok()) << "old size + 1";
        EXPECT_FALSE(verifyConsistency(m - 1, n, oldRoot, root, *proof).ok()) << "old size - 1";
      }
    }
  }
}

TEST(Merkle, ProofArgumentsOutOfRangeAreErrors) {
  VectorLeafHashSource source(makeLeaves(10, 1));
  EXPECT_FALSE(rootOf(source, 11).ok());
  EXPECT_FALSE(rangeRoot(source, 5, 4).ok());
  EXPECT_FALSE(inclusionProof(source, 10, 10).ok());
  EXPECT_FALSE(inclusionProof(source, 0, 0).ok());
  EXPECT_FALSE(inclusionProof(source, 0, 11).ok());
  EXPECT_FALSE(consistencyProof(source, 0, 5).ok());
  EXPECT_FALSE(consistencyProof(source, 6, 5).ok());
  EXPECT_FALSE(consistencyProof(source, 5, 11).ok());
  auto same = consistencyProof(source, 7, 7);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->empty());
  EXPECT_FALSE(frontierOf(source, 11).ok());
  EXPECT_FALSE(rootFromInclusionProof(std::numeric_limits<std::uint64_t>::max(), 1, source.leaves()[0], {}).ok());
}

TEST(Merkle, ParseHashHexAcceptsOnlyCanonicalSpelling) {
  const Sha256 h = leafHash("x");
  EXPECT_EQ(parseHashHex(toHex(h)), h);
  std::string upper = toHex(h);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper != toHex(h)) {
    EXPECT_FALSE(parseHashHex(upper).has_value());
  }
  EXPECT_FALSE(parseHashHex(toHex(h).substr(1)).has_value());
  EXPECT_FALSE(parseHashHex(toHex(h) + "0").has_value());
  EXPECT_FALSE(parseHashHex(" " + toHex(h).substr(1)).has_value());
}

// ---- Frontier ----------------------------------------------------------------

TEST(MerkleFrontier, ResumeFromBytesEqualsFullRecompute) {
  const std::vector<Sha256> all = makeLeaves(300, 42);
  VectorLeafHashSource source(all);
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    const std::uint64_t n = std::uniform_int_distribution<std::uint64_t>(0, all.size())(rng);
    const std::uint64_t k = std::uniform_int_distribution<std::uint64_t>(0, n)(rng);
    SCOPED_TRACE("resume at " + std::to_string(k) + " of " + std::to_string(n));
    MerkleFrontier first;
    for (std::uint64_t i = 0; i < k; ++i) ASSERT_TRUE(first.append(all[i]).ok());
    const std::string saved = first.toBytes();
    // What would be persisted is small: header plus one hash per set bit.
    EXPECT_EQ(saved.size(), 13u + 32u * static_cast<std::size_t>(std::popcount(k)));
    auto resumed = MerkleFrontier::fromBytes(saved);
    ASSERT_TRUE(resumed.ok()) << resumed.error().message;
    EXPECT_EQ(*resumed, first);
    auto rebuilt = frontierOf(source, k);
    ASSERT_TRUE(rebuilt.ok());
    EXPECT_EQ(*rebuilt, first);
    for (std::uint64_t i = k; i < n; ++i) ASSERT_TRUE(resumed->append(all[i]).ok());

    MerkleFrontier straight;
    for (std::uint64_t i = 0; i < n; ++i) ASSERT_TRUE(straight.append(all[i]).ok());
    EXPECT_EQ(resumed->size(), n);
    EXPECT_EQ(*resumed, straight);
    EXPECT_EQ(resumed->root(), naiveMth(all, 0, n));
    EXPECT_EQ(resumed->root(), *rootOf(source, n));
  }
}

TEST(MerkleFrontier, RejectsDamagedBytes) {
  MerkleFrontier f;
  for (const Sha256& h : makeLeaves(11, 3)) ASSERT_TRUE(f.append(h).ok());
  const std::string good = f.toBytes();
  ASSERT_TRUE(MerkleFrontier::fromBytes(good).ok());
  EXPECT_FALSE(MerkleFrontier::fromBytes("").ok());
  EXPECT_FALSE(MerkleFrontier::fromBytes(good.substr(0, good.size() - 1)).ok()) << "truncated";
  EXPECT_FALSE(MerkleFrontier::fromBytes(good + "x").ok()) << "trailing byte";
  std::string magic = good;
  magic[0] = 'X';
  EXPECT_FALSE(MerkleFrontier::fromBytes(magic).ok()) << "magic";
  std::string version = good;
  version[4] = 0x02;
  EXPECT_FALSE(MerkleFrontier::fromBytes(version).ok()) << "version";
  std::string size = good;
  size[12] = static_cast<char>(size[12] ^ 0x04);  // 11 -> 15: four hashes expected, three present
  EXPECT_FALSE(MerkleFrontier::fromBytes(size).ok()) << "size/hash count mismatch";
}

TEST(MerkleFrontier, ReportsEveryCompletedSubtree) {
  const std::vector<Sha256> all = makeLeaves(77, 5);
  VectorLeafHashSource source(all);
  MerkleFrontier f;
  std::map<std::pair<unsigned, std::uint64_t>, Sha256> completed;
  for (const Sha256& h : all) {
    ASSERT_TRUE(f.append(h, [&](unsigned level, std::uint64_t index, const Sha256& hash) {
                   EXPECT_TRUE(completed.emplace(std::make_pair(level, index), hash).second) << "reported twice";
                 }).ok());
  }
  std::size_t expected = 0;
  for (unsigned level = 1; (std::uint64_t{1} << level) <= all.size(); ++level) {
    for (std::uint64_t index = 0; ((index + 1) << level) <= all.size(); ++index) {
      ++expected;
      auto it = completed.find({level, index});
      ASSERT_NE(it, completed.end()) << level << "/" << index;
      EXPECT_EQ(it->second, naiveMth(all, index << level, (index + 1) << level));
    }
  }
  EXPECT_EQ(completed.size(), expected);
}

// ---- Sources -----------------------------------------------------------------

// Keeps the frontier's completed subtrees of some levels as a node cache (as
// a store would) and counts how many leaves are read.
class CachingSource final : public LeafHashSource {
 public:
  CachingSource(const std::vector<Sha256>& leaves, std::uint64_t levels) : leaves_(leaves), levels_(levels) {
    MerkleFrontier f;
    for (const Sha256& h : leaves) {
      EXPECT_TRUE(f.append(h, [&](unsigned level, std::uint64_t index, const Sha256& hash) {
                     if ((levels_ >> level) & 1) cache_[{level, index}] = hash;
                   }).ok());
    }
  }
  std::uint64_t size() const override { return leaves_.size(); }
  Sha256 leafHash(std::uint64_t index) const override {
    ++reads;
    return leaves_.at(index);
  }
  std::uint64_t cachedSubtreeLevels() const override { return levels_; }
  std::optional<Sha256> cachedSubtreeHash(unsigned level, std::uint64_t index) const override {
    ++cacheQueries;
    auto it = cache_.find({level, index});
    if (it == cache_.end()) return std::nullopt;
    return corrupt ? flipped(it->second) : it->second;
  }
  void forget(unsigned level, std::uint64_t index) { cache_.erase({level, index}); }

  mutable std::uint64_t reads = 0;
  mutable std::uint64_t cacheQueries = 0;
  bool corrupt = false;

 private:
  std::vector<Sha256> leaves_;
  std::uint64_t levels_;
  std::map<std::pair<unsigned, std::uint64_t>, Sha256> cache_;
};

TEST(MerkleSource, SubtreeCacheGivesSameAnswersWithFewerReads) {
  const std::vector<Sha256> all = makeLeaves(1000, 11);
  VectorLeafHashSource plain(all);
  CachingSource cached(all, (1u << 3) | (1u << 6));
  cached.forget(6, 3);  // a hole: the algorithm must fall back to level 3 / leaves there
  std::mt19937_64 rng(99);
  for (std::uint64_t n : {1ull, 7ull, 8ull, 64ull, 65ull, 500ull, 513ull, 999ull, 1000ull}) {
    SCOPED_TRACE("tree size " + std::to_string(n));
    EXPECT_EQ(*rootOf(cached, n), *rootOf(plain, n));
    EXPECT_EQ(*frontierOf(cached, n), *frontierOf(plain, n));
    for (std::uint64_t i : sample(0, n - 1, rng))
      EXPECT_EQ(*inclusionProof(cached, i, n), *inclusionProof(plain, i, n));
    for (std::uint64_t m : sample(1, n, rng))
      EXPECT_EQ(*consistencyProof(cached, m, n), *consistencyProof(plain, m, n));
  }
  cached.reads = 0;
  ASSERT_TRUE(rootOf(cached, 1000).ok());
  // 1000 = 15 full level-6 blocks (one missing, replaced by 8 level-3 ones)
  // + 5 level-3 blocks; none of the 1000 leaves needs reading.
  EXPECT_EQ(cached.reads, 0u);
  cached.reads = 0;
  EXPECT_FALSE(rootOf(cached, 1003).ok()) << "beyond the log";
  ASSERT_TRUE(rootOf(cached, 997).ok());
  EXPECT_EQ(cached.reads, 5u);  // 992 from the cache, 5 leaves read
}

TEST(MerkleSource, CorruptCacheChangesTheRoot) {
  const std::vector<Sha256> all = makeLeaves(100, 12);
  CachingSource cached(all, 1u << 4);
  cached.corrupt = true;
  EXPECT_NE(*rootOf(cached, 100), naiveMth(all, 0, 100));
}

class FailingSource final : public LeafHashSource {
 public:
  explicit FailingSource(bool throws) : throws_(throws) {}
  std::uint64_t size() const override { return 100; }
  Sha256 leafHash(std::uint64_t index) const override {
    if (index >= 50) throw std::runtime_error("disk I/O error");
    return cb::audit::leafHash(std::to_string(index));
  }
  Status readLeafHashes(std::uint64_t begin, std::span<Sha256> out) const override {
    if (!throws_ && begin + out.size() > 50) return fail("database is locked");
    return LeafHashSource::readLeafHashes(begin, out);
  }

 private:
  bool throws_;
};

TEST(MerkleSource, ReadFailuresBecomeErrors) {
  for (bool throws : {false, true}) {
    SCOPED_TRACE(throws ? "throwing source" : "failing source");
    FailingSource source(throws);
    EXPECT_TRUE(rootOf(source, 50).ok());
    auto root = rootOf(source, 51);
    ASSERT_FALSE(root.ok());
    EXPECT_NE(root.error().message.find(throws ? "disk I/O error" : "database is locked"), std::string::npos)
        << root.error().message;
    EXPECT_FALSE(inclusionProof(source, 3, 60).ok());
    EXPECT_FALSE(consistencyProof(source, 3, 60).ok());
    EXPECT_FALSE(frontierOf(source, 60).ok());
  }
}

// A large tree: streaming root and frontier agree (correctness at scale,
// not a timing; the timing lives in the benchmarks).
TEST(MerkleSource, LargeTreeRootMatchesFrontier) {
  constexpr std::uint64_t kLeaves = (1u << 20) + 12345;
  std::vector<Sha256> leaves(kLeaves);
  MerkleFrontier f;
  for (std::uint64_t i = 0; i < kLeaves; ++i) {
    Sha256 h{};
    for (std::size_t b = 0; b < 8; ++b) h[b] = static_cast<std::uint8_t>(i >> (8 * b));
    leaves[i] = h;
    ASSERT_TRUE(f.append(h).ok());
  }
  VectorLeafHashSource source(std::move(leaves));
  auto root = rootOf(source, kLeaves);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(*root, f.root());
  auto path = inclusionProof(source, kLeaves - 2, kLeaves);
  ASSERT_TRUE(path.ok());
  EXPECT_TRUE(verifyInclusion(kLeaves - 2, kLeaves, source.leaves()[kLeaves - 2], *path, *root).ok());
}

}  // namespace
}  // namespace cb::audit
