// The proof text format end to end: build from a store-like source and a
// signed checkpoint, format, parse, verify with only the verifier key; and
// every single-line change to a proof text is rejected.

#include "audit/proof.h"

#include <gtest/gtest.h>

#include <cctype>
#include <functional>

namespace cb::audit {
namespace {

constexpr const char* kOrigin = "carebridge.example.nhs.uk/audit";

// A log of `n` entries with a signer, and checkpoints signed over it.
struct Log {
  VectorLeafHashSource source;
  SignerKey key = SignerKey::generate(kOrigin).value();

  explicit Log(std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i)
      source.push(leafHash("{\"action\":\"record.received\",\"seq\":" + std::to_string(i) + "}"));
  }
  std::string checkpoint(std::uint64_t size, std::int64_t time = 1767225600) const {
    Checkpoint cp;
    cp.origin = kOrigin;
    cp.size = size;
    cp.root = rootOf(source, size).value();
    cp.time = std::chrono::sys_seconds(std::chrono::seconds(time));
    return signCheckpoint(cp, key).value();
  }
};

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

std::string joinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// A different character of the same kind, so numbers stay numbers and hex
// stays hex: the change must be caught by verification, not just parsing.
char alteredChar(char c) {
  if (c >= '0' && c <= '8') return static_cast<char>(c + 1);
  if (c == '9') return '0';
  if (c >= 'a' && c <= 'e') return static_cast<char>(c + 1);
  if (c == 'f') return 'a';
  if (std::isalpha(static_cast<unsigned char>(c))) return c == 'Z' || c == 'z' ? 'A' : static_cast<char>(c + 1);
  return c == 'x' ? 'y' : 'x';
}

// Every single-line change to `text` must make `verify` fail: each line
// altered at its first and last character, deleted, duplicated, given a
// trailing space, or followed by an inserted blank line.
void expectEveryLineChangeRejected(const std::string& text, const std::function<bool(const std::string&)>& verify) {
  ASSERT_TRUE(verify(text)) << "the unaltered proof must verify";
  const auto lines = splitLines(text);
  ASSERT_EQ(joinLines(lines), text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(i + 1) + ": \"" + lines[i] + "\"");
    std::vector<std::vector<std::string>> variants;
    if (!lines[i].empty()) {
      for (std::size_t at : {std::size_t{0}, lines[i].size() - 1}) {
        auto v = lines;
        v[i][at] = alteredChar(v[i][at]);
        variants.push_back(v);
      }
    }
    auto deleted = lines;
    deleted.erase(deleted.begin() + static_cast<std::ptrdiff_t>(i));
    variants.push_back(deleted);
    auto duplicated = lines;
    duplicated.insert(duplicated.begin() + static_cast<std::ptrdiff_t>(i), lines[i]);
    variants.push_back(duplicated);
    auto spaced = lines;
    spaced[i] += " ";
    variants.push_back(spaced);
    auto blank = lines;
    blank.insert(blank.begin() + static_cast<std::ptrdiff_t>(i) + 1, "");
    variants.push_back(blank);
    for (std::size_t k = 0; k < variants.size(); ++k) {
      EXPECT_FALSE(verify(joinLines(variants[k]))) << "variant " << k;
    }
  }
  EXPECT_FALSE(verify(text.substr(0, text.size() - 1))) << "missing final newline";
  EXPECT_FALSE(verify(text + "\n")) << "trailing blank line";
}

TEST(InclusionProofText, BuildFormatParseVerify) {
  Log log(100);
  const std::string note = log.checkpoint(100);
  for (std::uint64_t index : {0ull, 1ull, 37ull, 63ull, 64ull, 98ull, 99ull}) {
    SCOPED_TRACE("leaf " + std::to_string(index));
    auto proof = buildInclusionProof(log.source, index, note);
    ASSERT_TRUE(proof.ok()) << proof.error().message;
    EXPECT_EQ(proof->leafHash, log.source.leaves()[index]);
    const std::string text = formatInclusionProof(*proof);
    EXPECT_TRUE(text.starts_with("carebridge inclusion proof v1\nindex " + std::to_string(index) +
                                 "\ntree-size 100\nleaf-hash "));
    auto parsed = parseInclusionProof(text);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(*parsed, *proof);

    auto verified = verifyInclusionProofText(text, log.key.verifierKey().text());
    ASSERT_TRUE(verified.ok()) << verified.error().message;
    EXPECT_EQ(verified->index, index);
    EXPECT_EQ(verified->leafHash, log.source.leaves()[index]);
    EXPECT_EQ(verified->checkpoint.size, 100u);
    EXPECT_EQ(verified->checkpoint.origin, kOrigin);
    EXPECT_EQ(verified->checkpoint.time->time_since_epoch().count(), 1767225600);
  }
  // Against an older checkpoint too.
  auto old = buildInclusionProof(log.source, 5, log.checkpoint(6));
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(verifyInclusionProofText(formatInclusionProof(*old), log.key.verifierKey()).ok());
  // Single-entry tree: an empty path.
  auto single = buildInclusionProof(log.source, 0, log.checkpoint(1));
  ASSERT_TRUE(single.ok());
  EXPECT_TRUE(single->path.empty());
  EXPECT_TRUE(verifyInclusionProofText(formatInclusionProof(*single), log.key.verifierKey()).ok());
  // No proof for an index outside the checkpoint.
  EXPECT_FALSE(buildInclusionProof(log.source, 6, log.checkpoint(6)).ok());
}

TEST(InclusionProofText, AnyChangedLineIsRejected) {
  Log log(45);
  const auto key = log.key.verifierKey();
  const std::string text = formatInclusionProof(buildInclusionProof(log.source, 21, log.checkpoint(45)).value());
  expectEveryLineChangeRejected(text, [&](const std::string& t) { return verifyInclusionProofText(t, key).ok(); });
}

TEST(InclusionProofText, RejectsOtherKeysLogsAndMismatches) {
  Log log(20);
  auto otherKey = SignerKey::generate(kOrigin);
  ASSERT_TRUE(otherKey.ok());
  const std::string text = formatInclusionProof(buildInclusionProof(log.source, 3, log.checkpoint(20)).value());
  EXPECT_FALSE(verifyInclusionProofText(text, otherKey->verifierKey()).ok()) << "other key";
  EXPECT_FALSE(verifyInclusionProofText(text, "not a key").ok());

  // A valid proof for one checkpoint glued to another checkpoint of the same log.
  InclusionProof p = buildInclusionProof(log.source, 3, log.checkpoint(20)).value();
  p.checkpointNote = log.checkpoint(19);
  EXPECT_FALSE(verifyInclusionProofText(formatInclusionProof(p), log.key.verifierKey()).ok()) << "size mismatch";
  p.treeSize = 19;
  EXPECT_FALSE(verifyInclusionProofText(formatInclusionProof(p), log.key.verifierKey()).ok()) << "path for size 20";

  // A consistency proof is not an inclusion proof.
  const std::string cons =
      formatConsistencyProof(buildConsistencyProof(log.source, log.checkpoint(3), log.checkpoint(20)).value());
  EXPECT_FALSE(verifyInclusionProofText(cons, log.key.verifierKey()).ok());
}

TEST(InclusionProofText, StoreThatDisagreesWithItsCheckpointGetsNoProof) {
  Log log(30);
  const std::string note = log.checkpoint(30);
  VectorLeafHashSource intact(log.source.leaves());
  std::vector<Sha256> leaves = log.source.leaves();
  leaves[12] = leafHash("an edited audit entry");
  VectorLeafHashSource edited(leaves);
  for (std::uint64_t index : {0ull, 12ull, 13ull, 29ull}) {
    auto proof = buildInclusionProof(edited, index, note);
    ASSERT_FALSE(proof.ok()) << "leaf " << index;
    EXPECT_NE(proof.error().message.find("does not reproduce"), std::string::npos) << proof.error().message;
  }
  EXPECT_TRUE(buildInclusionProof(intact, 12, note).ok());
}

TEST(ConsistencyProofText, BuildFormatParseVerify) {
  Log log(100);
  for (auto [m, n] : std::vector<std::pair<std::uint64_t, std::uint64_t>>{
           {1, 100}, {37, 100}, {64, 100}, {63, 64}, {99, 100}, {100, 100}}) {
    SCOPED_TRACE(std::to_string(m) + " -> " + std::to_string(n));
    auto proof = buildConsistencyProof(log.source, log.checkpoint(m, 1000), log.checkpoint(n, 2000));
    ASSERT_TRUE(proof.ok()) << proof.error().message;
    const std::string text = formatConsistencyProof(*proof);
    auto parsed = parseConsistencyProof(text);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(*parsed, *proof);
    auto verified = verifyConsistencyProofText(text, log.key.verifierKey().text());
    ASSERT_TRUE(verified.ok()) << verified.error().message;
    EXPECT_EQ(verified->older.size, m);
    EXPECT_EQ(verified->newer.size, n);
    EXPECT_EQ(verified->older.time->time_since_epoch().count(), 1000);
    EXPECT_EQ(verified->newer.time->time_since_epoch().count(), 2000);
  }
  EXPECT_FALSE(buildConsistencyProof(log.source, log.checkpoint(50), log.checkpoint(40)).ok()) << "shrinking";
  EXPECT_FALSE(buildConsistencyProof(log.source, log.checkpoint(0), log.checkpoint(40)).ok()) << "from empty";
}

TEST(ConsistencyProofText, AnyChangedLineIsRejected) {
  Log log(45);
  const auto key = log.key.verifierKey();
  for (std::uint64_t m : {13ull, 16ull}) {  // the RFC 9162 2.1.4.2 power-of-two case and the general one
    SCOPED_TRACE("old size " + std::to_string(m));
    const std::string text =
        formatConsistencyProof(buildConsistencyProof(log.source, log.checkpoint(m), log.checkpoint(45)).value());
    expectEveryLineChangeRejected(text, [&](const std::string& t) { return verifyConsistencyProofText(t, key).ok(); });
  }
}

TEST(ConsistencyProofText, RejectsSwappedForkedAndForeignCheckpoints) {
  Log log(40);
  auto proof = buildConsistencyProof(log.source, log.checkpoint(10), log.checkpoint(40)).value();
  ConsistencyProof swapped = proof;
  std::swap(swapped.oldCheckpointNote, swapped.newCheckpointNote);
  EXPECT_FALSE(verifyConsistencyProofText(formatConsistencyProof(swapped), log.key.verifierKey()).ok());

  // A fork: a second log that shares the first 10 entries, then differs.
  Log fork(0);
  for (std::uint64_t i = 0; i < 40; ++i) {
    fork.source.push(i < 10 ? log.source.leaves()[i] : leafHash("forked " + std::to_string(i)));
  }
  // The fork signed with the real key (a compromised signer) cannot prove
  // consistency between the real old checkpoint and its new one.
  Checkpoint forked;
  forked.origin = kOrigin;
  forked.size = 40;
  forked.root = rootOf(fork.source, 40).value();
  const std::string forkedNote = signCheckpoint(forked, log.key).value();
  ConsistencyProof mixed = proof;
  mixed.newCheckpointNote = forkedNote;
  EXPECT_FALSE(verifyConsistencyProofText(formatConsistencyProof(mixed), log.key.verifierKey()).ok());
  EXPECT_FALSE(buildConsistencyProof(log.source, log.checkpoint(10), forkedNote).ok());
  // Its own store can, but then the old checkpoint is from the real log:
  auto forkProof = buildConsistencyProof(fork.source, log.checkpoint(10), forkedNote);
  ASSERT_TRUE(forkProof.ok());  // prefix shared, so this is genuinely consistent
  EXPECT_TRUE(verifyConsistencyProofText(formatConsistencyProof(*forkProof), log.key.verifierKey()).ok());

  // Checkpoints of another origin cannot be mixed in.
  Checkpoint foreign;
  foreign.origin = "other.example/audit";
  foreign.size = 40;
  foreign.root = rootOf(log.source, 40).value();
  const std::string foreignNote = signCheckpoint(foreign, log.key).value();
  EXPECT_FALSE(buildConsistencyProof(log.source, log.checkpoint(10), foreignNote).ok());
  ConsistencyProof foreignProof = proof;
  foreignProof.newCheckpointNote = foreignNote;
  EXPECT_FALSE(verifyConsistencyProofText(formatConsistencyProof(foreignProof), log.key.verifierKey()).ok());
}

TEST(ConsistencyProofText, StoreThatDisagreesWithItsCheckpointsGetsNoProof) {
  Log log(40);
  for (std::uint64_t m : {10ull, 16ull}) {  // old size not / a power of two
    for (std::uint64_t editAt : {std::uint64_t{2}, m + 3}) {
      SCOPED_TRACE("old size " + std::to_string(m) + ", edited leaf " + std::to_string(editAt));
      std::vector<Sha256> leaves = log.source.leaves();
      leaves[editAt] = leafHash("an edited audit entry");
      VectorLeafHashSource edited(leaves);
      auto proof = buildConsistencyProof(edited, log.checkpoint(m), log.checkpoint(40));
      ASSERT_FALSE(proof.ok());
      EXPECT_NE(proof.error().message.find("does not reproduce"), std::string::npos) << proof.error().message;
    }
  }
}

TEST(ProofText, MalformedTextsAreRejected) {
  Log log(8);
  const std::string inc = formatInclusionProof(buildInclusionProof(log.source, 2, log.checkpoint(8)).value());
  ASSERT_TRUE(parseInclusionProof(inc).ok());
  EXPECT_FALSE(parseInclusionProof("").ok());
  EXPECT_FALSE(parseInclusionProof("carebridge inclusion proof v2\n").ok());
  EXPECT_FALSE(parseInclusionProof(inc.substr(0, inc.find("checkpoint\n"))).ok()) << "no checkpoint";
  std::string upperHex = inc;
  const auto leafAt = upperHex.find("leaf-hash ") + 10;
  for (std::size_t i = leafAt; i < leafAt + 64; ++i)
    upperHex[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upperHex[i])));
  if (upperHex != inc) {
    EXPECT_FALSE(parseInclusionProof(upperHex).ok()) << "upper-case hex";
  }
  std::string crlf;
  for (char c : inc) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  EXPECT_FALSE(verifyInclusionProofText(crlf, log.key.verifierKey()).ok()) << "CRLF line ends";
  std::string leading = inc;
  leading.replace(leading.find("index 2"), 7, "index 02");
  EXPECT_FALSE(parseInclusionProof(leading).ok()) << "leading zero";
}

}  // namespace
}  // namespace cb::audit
