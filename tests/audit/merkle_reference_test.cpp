// The Merkle tree against third-party reference data in
// ../shared/reference/merkle: the RFC 6962 8-leaf reference tree and every
// inclusion/consistency vector of transparency-dev/merkle, positive and
// negative. The files are discovered at run time; finding none is a failure.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <sstream>
#include <utility>

#include "audit/merkle.h"
#include "audit_test_util.h"

namespace cb::audit {
namespace {

using testing::bytesOf;
using testing::filesUnder;
using testing::hashFromHex;
using testing::merkleReferenceDir;
using testing::readFile;

// The 8-leaf tree of rfc6962-reference-tree.txt.
struct ReferenceTree {
  std::vector<std::string> inputs;                             // leaf inputs
  std::vector<Sha256> leafHashes;                              // as listed
  std::map<std::uint64_t, Sha256> roots;                       // tree size -> root
  std::map<std::pair<unsigned, std::uint64_t>, Sha256> nodes;  // (level, index) -> hash
};

ReferenceTree loadReferenceTree() {
  ReferenceTree t;
  const auto path = merkleReferenceDir() / "rfc6962-reference-tree.txt";
  std::istringstream in(readFile(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string kind;
    fields >> kind;
    if (kind == "leaf") {
      std::uint64_t index = 0;
      std::string input;
      std::string hash;
      fields >> index >> input >> hash;
      EXPECT_EQ(index, t.inputs.size()) << line;
      std::string bytes;
      if (input != "-") {
        EXPECT_TRUE(fromHex(input, bytes)) << line;
      }
      t.inputs.push_back(bytes);
      t.leafHashes.push_back(hashFromHex(hash));
    } else if (kind == "root") {
      std::uint64_t size = 0;
      std::string hash;
      fields >> size >> hash;
      t.roots[size] = hashFromHex(hash);
    } else if (kind == "node") {
      unsigned level = 0;
      std::uint64_t index = 0;
      std::string hash;
      fields >> level >> index >> hash;
      t.nodes[{level, index}] = hashFromHex(hash);
    } else {
      ADD_FAILURE() << "unknown line in " << path << ": " << line;
    }
  }
  return t;
}

std::string decodeBase64(const boost::json::value& v) {
  std::string out;
  if (v.is_null()) return out;
  const auto& s = v.as_string();
  EXPECT_TRUE(base64Decode(std::string_view(s.data(), s.size()), out)) << "bad base64 in vector: " << s;
  return out;
}

std::vector<std::string> decodeProof(const boost::json::value& v) {
  std::vector<std::string> out;
  if (v.is_null()) return out;  // Go marshals a nil slice as null
  for (const auto& item : v.as_array()) out.push_back(decodeBase64(item));
  return out;
}

bool allHashSized(const std::vector<std::string>& v) {
  return std::all_of(v.begin(), v.end(), [](const std::string& s) { return s.size() == 32; });
}

std::vector<Sha256> toHashes(const std::vector<std::string>& v) {
  std::vector<Sha256> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) std::copy(v[i].begin(), v[i].end(), out[i].begin());
  return out;
}

Sha256 toHash(const std::string& s) {
  Sha256 h{};
  std::copy(s.begin(), s.end(), h.begin());
  return h;
}

TEST(MerkleReference, ReferenceTreeLeavesRootsAndNodes) {
  const ReferenceTree t = loadReferenceTree();
  ASSERT_EQ(t.inputs.size(), 8u);
  ASSERT_EQ(t.roots.size(), 9u);
  ASSERT_FALSE(t.nodes.empty());

  VectorLeafHashSource source;
  MerkleFrontier frontier;
  std::map<std::pair<unsigned, std::uint64_t>, Sha256> completed;
  EXPECT_EQ(emptyRoot(), t.roots.at(0));
  EXPECT_EQ(*rootOf(source, 0), t.roots.at(0));
  EXPECT_EQ(frontier.root(), t.roots.at(0));
  for (std::size_t i = 0; i < t.inputs.size(); ++i) {
    const Sha256 leaf = leafHash(t.inputs[i]);
    EXPECT_EQ(leaf, t.leafHashes[i]) << "leaf " << i;
    source.push(leaf);
    ASSERT_TRUE(frontier
                    .append(leaf,
                            [&](unsigned level, std::uint64_t index, const Sha256& h) {
                              completed[{level, index}] = h;
                            })
                    .ok());
    const std::uint64_t size = i + 1;
    EXPECT_EQ(*rootOf(source, size), t.roots.at(size)) << "size " << size;
    EXPECT_EQ(frontier.root(), t.roots.at(size)) << "size " << size;
    auto resumed = MerkleFrontier::fromBytes(frontier.toBytes());
    ASSERT_TRUE(resumed.ok()) << resumed.error().message;
    EXPECT_EQ(resumed->root(), t.roots.at(size));
  }
  // Every complete subtree node: recomputed from the leaves, and reported
  // by the frontier exactly once as it was completed.
  for (const auto& [key, hash] : t.nodes) {
    const auto [level, index] = key;
    auto h = rangeRoot(source, index << level, (index + 1) << level);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(*h, hash) << "node level " << level << " index " << index;
  }
  EXPECT_EQ(completed, t.nodes);
}

TEST(MerkleReference, InclusionVectors) {
  const ReferenceTree t = loadReferenceTree();
  VectorLeafHashSource source(t.leafHashes);
  const auto files = filesUnder(merkleReferenceDir() / "inclusion", ".json");
  ASSERT_FALSE(files.empty()) << "no inclusion vectors found under " << merkleReferenceDir();
  std::size_t positive = 0;
  std::size_t negative = 0;
  std::size_t generated = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const auto v = boost::json::parse(readFile(file)).as_object();
    const auto index = v.at("leafIdx").to_number<std::uint64_t>();
    const auto size = v.at("treeSize").to_number<std::uint64_t>();
    const std::string root = decodeBase64(v.at("root"));
    const std::string leaf = decodeBase64(v.at("leafHash"));
    const std::vector<std::string> proof = decodeProof(v.at("proof"));
    const bool wantErr = v.at("wantErr").as_bool();
    (wantErr ? negative : positive)++;

    Status got = verifyInclusionBytes(index, size, leaf, proof, root);
    EXPECT_EQ(!got.ok(), wantErr) << v.at("desc").as_string() << ": " << (got.ok() ? "verified" : got.error().message);

    // The typed API must agree wherever the hashes are representable.
    if (leaf.size() == 32 && root.size() == 32 && allHashSized(proof)) {
      Status typed = verifyInclusion(index, size, toHash(leaf), toHashes(proof), toHash(root));
      EXPECT_EQ(typed.ok(), got.ok());
    }
    // Happy paths over the reference tree: we must generate the same proof.
    if (!wantErr && size <= t.leafHashes.size() && index < size && bytesOf(t.leafHashes[index]) == leaf) {
      auto ours = inclusionProof(source, index, size);
      ASSERT_TRUE(ours.ok()) << ours.error().message;
      EXPECT_EQ(*ours, toHashes(proof));
      EXPECT_EQ(bytesOf(*rootOf(source, size)), root);
      ++generated;
    }
  }
  EXPECT_GT(positive, 0u);
  EXPECT_GT(negative, 0u);
  EXPECT_GT(generated, 0u);
}

TEST(MerkleReference, ConsistencyVectors) {
  const ReferenceTree t = loadReferenceTree();
  VectorLeafHashSource source(t.leafHashes);
  const auto files = filesUnder(merkleReferenceDir() / "consistency", ".json");
  ASSERT_FALSE(files.empty()) << "no consistency vectors found under " << merkleReferenceDir();
  std::size_t positive = 0;
  std::size_t negative = 0;
  std::size_t generated = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const auto v = boost::json::parse(readFile(file)).as_object();
    const auto size1 = v.at("size1").to_number<std::uint64_t>();
    const auto size2 = v.at("size2").to_number<std::uint64_t>();
    const std::string root1 = decodeBase64(v.at("root1"));
    const std::string root2 = decodeBase64(v.at("root2"));
    const std::vector<std::string> proof = decodeProof(v.at("proof"));
    const bool wantErr = v.at("wantErr").as_bool();
    (wantErr ? negative : positive)++;

    Status got = verifyConsistencyBytes(size1, size2, root1, root2, proof);
    EXPECT_EQ(!got.ok(), wantErr) << v.at("desc").as_string() << ": " << (got.ok() ? "verified" : got.error().message);

    if (root1.size() == 32 && root2.size() == 32 && allHashSized(proof)) {
      Status typed = verifyConsistency(size1, size2, toHash(root1), toHash(root2), toHashes(proof));
      EXPECT_EQ(typed.ok(), got.ok());
    }
    const bool overReferenceTree = size1 > 0 && size1 <= size2 && size2 <= t.leafHashes.size() &&
                                   t.roots.count(size1) != 0 && bytesOf(t.roots.at(size1)) == root1 &&
                                   bytesOf(t.roots.at(size2)) == root2;
    if (!wantErr && overReferenceTree) {
      auto ours = consistencyProof(source, size1, size2);
      ASSERT_TRUE(ours.ok()) << ours.error().message;
      EXPECT_EQ(*ours, toHashes(proof));
      ++generated;
    }
  }
  EXPECT_GT(positive, 0u);
  EXPECT_GT(negative, 0u);
  EXPECT_GT(generated, 0u);
}

// Every proof we can generate over the reference tree verifies against its
// listed roots (complements the vectors, which cover only a few positions).
TEST(MerkleReference, AllProofsOverReferenceTreeVerify) {
  const ReferenceTree t = loadReferenceTree();
  VectorLeafHashSource source(t.leafHashes);
  for (std::uint64_t n = 1; n <= t.leafHashes.size(); ++n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      auto path = inclusionProof(source, i, n);
      ASSERT_TRUE(path.ok());
      EXPECT_TRUE(verifyInclusion(i, n, t.leafHashes[i], *path, t.roots.at(n)).ok()) << i << "/" << n;
    }
    for (std::uint64_t m = 1; m <= n; ++m) {
      auto proof = consistencyProof(source, m, n);
      ASSERT_TRUE(proof.ok());
      EXPECT_TRUE(verifyConsistency(m, n, t.roots.at(m), t.roots.at(n), *proof).ok()) << m << "->" << n;
    }
  }
}

}  // namespace
}  // namespace cb::audit
