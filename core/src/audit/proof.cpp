#include "audit/proof.h"

#include <bit>
#include <exception>
#include <limits>

namespace cb::audit {
namespace {

// U+2014 EM DASH + space: the start of a signature line (C2SP signed-note).
constexpr std::string_view kSignaturePrefix = "\xE2\x80\x94 ";

// Reads a proof text line by line, keeping the line number for messages.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}

  bool atEnd() const { return pos_ == text_.size(); }
  std::size_t lineNo() const { return lineNo_; }
  std::size_t pos() const { return pos_; }

  // The next complete line (without its newline), or false at the end.
  bool peek(std::string_view& line) const {
    if (atEnd()) return false;
    const auto nl = text_.find('\n', pos_);
    if (nl == std::string_view::npos) return false;
    line = text_.substr(pos_, nl - pos_);
    return true;
  }
  bool next(std::string_view& line) {
    if (!peek(line)) return false;
    pos_ += line.size() + 1;
    ++lineNo_;
    return true;
  }
  std::string_view slice(std::size_t from) const { return text_.substr(from, pos_ - from); }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t lineNo_ = 0;
};

Error at(const LineReader& r, const char* kind, const std::string& what) {
  return Error{std::string(kind) + " line " + std::to_string(r.lineNo()) + ": " + what};
}

// Decimal without sign or leading zeros: one spelling per number.
bool parseDecimal(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// Reads "<name> <value>" and returns the value.
Result<std::string_view> field(LineReader& r, const char* kind, std::string_view name) {
  std::string_view line;
  if (!r.next(line)) return fail(std::string(kind) + ": missing \"" + std::string(name) + "\" line");
  if (line.size() <= name.size() || line.substr(0, name.size()) != name || line[name.size()] != ' ') {
    return at(r, kind, "expected \"" + std::string(name) + " ...\", found \"" + std::string(line) + "\"");
  }
  return line.substr(name.size() + 1);
}

Result<std::uint64_t> numberField(LineReader& r, const char* kind, std::string_view name) {
  auto v = field(r, kind, name);
  if (!v) return v.error();
  std::uint64_t n = 0;
  if (!parseDecimal(*v, n)) return at(r, kind, std::string(name) + " is not a decimal number without leading zeros");
  return n;
}

Result<Sha256> hashValue(const LineReader& r, const char* kind, std::string_view name, std::string_view hex) {
  auto h = parseHashHex(hex);
  if (!h) return at(r, kind, std::string(name) + " is not 64 lower-case hex digits");
  return *h;
}

Status expectLine(LineReader& r, const char* kind, std::string_view expected) {
  std::string_view line;
  if (!r.next(line)) return fail(std::string(kind) + ": missing \"" + std::string(expected) + "\" line");
  if (line != expected)
    return at(r, kind, "expected \"" + std::string(expected) + "\", found \"" + std::string(line) + "\"");
  return {};
}

// Zero or more "path <hex>" lines.
Result<std::vector<Sha256>> pathLines(LineReader& r, const char* kind) {
  std::vector<Sha256> path;
  std::string_view line;
  while (r.peek(line) && line.starts_with("path ")) {
    r.next(line);
    auto h = hashValue(r, kind, "path", line.substr(5));
    if (!h) return h.error();
    path.push_back(*h);
  }
  return path;
}

// An embedded signed checkpoint: body lines up to the blank line, the blank
// line, then the signature lines. Checkpoint bodies have no blank lines
// (tlog-checkpoint), so the note ends at the first line after the blank
// line that is not a signature line.
Result<std::string> embeddedNote(LineReader& r, const char* kind, const char* which) {
  const std::size_t start = r.pos();
  std::string_view line;
  std::size_t bodyLines = 0;
  while (true) {
    if (!r.next(line)) return fail(std::string(kind) + ": " + which + " note ends before its signatures");
    if (line.empty()) break;
    ++bodyLines;
  }
  if (bodyLines == 0) return at(r, kind, std::string(which) + " note has no text");
  std::size_t signatures = 0;
  while (r.peek(line) && line.starts_with(kSignaturePrefix)) {
    r.next(line);
    ++signatures;
  }
  if (signatures == 0) return fail(std::string(kind) + ": " + which + " note has no signature lines");
  return std::string(r.slice(start));
}

Status commonChecks(std::string_view text, const char* kind) {
  if (text.size() > kMaxProofTextBytes)
    return fail(std::string(kind) + ": larger than " + std::to_string(kMaxProofTextBytes) + " bytes");
  if (text.empty() || text.back() != '\n') return fail(std::string(kind) + ": text does not end with a newline");
  return {};
}

void appendPath(std::string& out, const std::vector<Sha256>& path) {
  for (const Sha256& h : path) {
    out += "path ";
    out += toHex(h);
    out += '\n';
  }
}

// Reads one leaf hash from a store, turning a throwing source into an Error.
Result<Sha256> readLeaf(const LeafHashSource& source, std::uint64_t index) {
  try {
    Sha256 leaf{};
    Status s = source.readLeafHashes(index, std::span<Sha256>(&leaf, 1));
    if (!s) return s.error();
    return leaf;
  } catch (const std::exception& e) {
    return fail("reading audit leaf " + std::to_string(index) + ": " + e.what());
  }
}

}  // namespace

// ---- Building --------------------------------------------------------------

Result<InclusionProof> buildInclusionProof(const LeafHashSource& source, std::uint64_t index,
                                           std::string_view checkpointNote) {
  auto cp = parseSignedCheckpoint(checkpointNote);
  if (!cp) return cp.error();
  auto path = inclusionProof(source, index, cp->size);
  if (!path) return path.error();
  auto leaf = readLeaf(source, index);
  if (!leaf) return leaf.error();
  // The path and the leaf together cover every leaf of the tree, so this
  // one check compares the whole store prefix with the signed root.
  auto root = rootFromInclusionProof(index, cp->size, *leaf, *path);
  if (!root) return root.error();
  if (*root != cp->root) {
    return fail("audit store does not reproduce the root of its signed checkpoint at tree size " +
                std::to_string(cp->size) + ": the store or the checkpoint has been altered; no proof issued");
  }
  InclusionProof proof;
  proof.index = index;
  proof.treeSize = cp->size;
  proof.leafHash = *leaf;
  proof.path = std::move(*path);
  proof.checkpointNote = std::string(checkpointNote);
  return proof;
}

Result<ConsistencyProof> buildConsistencyProof(const LeafHashSource& source, std::string_view oldCheckpointNote,
                                               std::string_view newCheckpointNote) {
  auto older = parseSignedCheckpoint(oldCheckpointNote);
  if (!older) return fail("old checkpoint: " + older.error().message);
  auto newer = parseSignedCheckpoint(newCheckpointNote);
  if (!newer) return fail("new checkpoint: " + newer.error().message);
  if (older->origin != newer->origin) {
    return fail("consistency proof: checkpoints of different logs (\"" + older->origin + "\" and \"" + newer->origin +
                "\")");
  }
  auto path = consistencyProof(source, older->size, newer->size);
  if (!path) return path.error();
  // A path that reproduces both roots covers the whole store prefix, except
  // when the old size is a power of two: then RFC 9162 2.1.4.2 seeds the
  // check with the old root itself, so compare that part of the store too.
  if (std::has_single_bit(older->size)) {
    auto oldRoot = rootOf(source, older->size);
    if (!oldRoot) return oldRoot.error();
    if (*oldRoot != older->root) {
      return fail("audit store does not reproduce the root of its signed checkpoint at tree size " +
                  std::to_string(older->size) + ": the store or the checkpoint has been altered; no proof issued");
    }
  }
  if (Status s = verifyConsistency(older->size, newer->size, older->root, newer->root, *path); !s) {
    return fail("audit store does not reproduce its signed checkpoints at tree sizes " + std::to_string(older->size) +
                " and " + std::to_string(newer->size) + " (" + s.error().message + "); no proof issued");
  }
  ConsistencyProof proof;
  proof.oldSize = older->size;
  proof.newSize = newer->size;
  proof.path = std::move(*path);
  proof.oldCheckpointNote = std::string(oldCheckpointNote);
  proof.newCheckpointNote = std::string(newCheckpointNote);
  return proof;
}

// ---- Text form -------------------------------------------------------------

std::string formatInclusionProof(const InclusionProof& proof) {
  std::string out(kInclusionProofHeader);
  out += "\nindex " + std::to_string(proof.index);
  out += "\ntree-size " + std::to_string(proof.treeSize);
  out += "\nleaf-hash " + toHex(proof.leafHash);
  out += '\n';
  appendPath(out, proof.path);
  out += "checkpoint\n";
  out += proof.checkpointNote;
  return out;
}

std::string formatConsistencyProof(const ConsistencyProof& proof) {
  std::string out(kConsistencyProofHeader);
  out += "\nold-size " + std::to_string(proof.oldSize);
  out += "\nnew-size " + std::to_string(proof.newSize);
  out += '\n';
  appendPath(out, proof.path);
  out += "old-checkpoint\n";
  out += proof.oldCheckpointNote;
  out += "new-checkpoint\n";
  out += proof.newCheckpointNote;
  return out;
}

Result<InclusionProof> parseInclusionProof(std::string_view text) {
  constexpr const char* kKind = "inclusion proof";
  if (Status s = commonChecks(text, kKind); !s) return s.error();
  LineReader r(text);
  if (Status s = expectLine(r, kKind, kInclusionProofHeader); !s) return s.error();
  InclusionProof proof;
  auto index = numberField(r, kKind, "index");
  if (!index) return index.error();
  proof.index = *index;
  auto size = numberField(r, kKind, "tree-size");
  if (!size) return size.error();
  proof.treeSize = *size;
  auto leafHex = field(r, kKind, "leaf-hash");
  if (!leafHex) return leafHex.error();
  auto leaf = hashValue(r, kKind, "leaf-hash", *leafHex);
  if (!leaf) return leaf.error();
  proof.leafHash = *leaf;
  auto path = pathLines(r, kKind);
  if (!path) return path.error();
  proof.path = std::move(*path);
  if (Status s = expectLine(r, kKind, "checkpoint"); !s) return s.error();
  auto note = embeddedNote(r, kKind, "checkpoint");
  if (!note) return note.error();
  proof.checkpointNote = std::move(*note);
  if (!r.atEnd()) return at(r, kKind, "unexpected text after the checkpoint");
  return proof;
}

Result<ConsistencyProof> parseConsistencyProof(std::string_view text) {
  constexpr const char* kKind = "consistency proof";
  if (Status s = commonChecks(text, kKind); !s) return s.error();
  LineReader r(text);
  if (Status s = expectLine(r, kKind, kConsistencyProofHeader); !s) return s.error();
  ConsistencyProof proof;
  auto oldSize = numberField(r, kKind, "old-size");
  if (!oldSize) return oldSize.error();
  proof.oldSize = *oldSize;
  auto newSize = numberField(r, kKind, "new-size");
  if (!newSize) return newSize.error();
  proof.newSize = *newSize;
  auto path = pathLines(r, kKind);
  if (!path) return path.error();
  proof.path = std::move(*path);
  if (Status s = expectLine(r, kKind, "old-checkpoint"); !s) return s.error();
  auto oldNote = embeddedNote(r, kKind, "old checkpoint");
  if (!oldNote) return oldNote.error();
  proof.oldCheckpointNote = std::move(*oldNote);
  if (Status s = expectLine(r, kKind, "new-checkpoint"); !s) return s.error();
  auto newNote = embeddedNote(r, kKind, "new checkpoint");
  if (!newNote) return newNote.error();
  proof.newCheckpointNote = std::move(*newNote);
  if (!r.atEnd()) return at(r, kKind, "unexpected text after the new checkpoint");
  return proof;
}

// ---- Verification ----------------------------------------------------------

Result<VerifiedInclusion> verifyInclusionProofText(std::string_view text, const VerifierKey& key) {
  auto proof = parseInclusionProof(text);
  if (!proof) return proof.error();
  auto cp = verifyCheckpoint(proof->checkpointNote, key);
  if (!cp) return fail("inclusion proof: checkpoint: " + cp.error().message);
  if (cp->size != proof->treeSize) {
    return fail("inclusion proof: tree-size " + std::to_string(proof->treeSize) +
                " differs from the checkpoint's size " + std::to_string(cp->size));
  }
  if (Status s = verifyInclusion(proof->index, proof->treeSize, proof->leafHash, proof->path, cp->root); !s) {
    return s.error();
  }
  VerifiedInclusion out;
  out.index = proof->index;
  out.leafHash = proof->leafHash;
  out.checkpoint = std::move(*cp);
  return out;
}

Result<VerifiedInclusion> verifyInclusionProofText(std::string_view text, std::string_view verifierKeyText) {
  auto key = VerifierKey::parse(verifierKeyText);
  if (!key) return key.error();
  return verifyInclusionProofText(text, *key);
}

Result<VerifiedConsistency> verifyConsistencyProofText(std::string_view text, const VerifierKey& key) {
  auto proof = parseConsistencyProof(text);
  if (!proof) return proof.error();
  auto older = verifyCheckpoint(proof->oldCheckpointNote, key);
  if (!older) return fail("consistency proof: old checkpoint: " + older.error().message);
  auto newer = verifyCheckpoint(proof->newCheckpointNote, key);
  if (!newer) return fail("consistency proof: new checkpoint: " + newer.error().message);
  if (older->origin != newer->origin) {
    return fail("consistency proof: checkpoints of different logs (\"" + older->origin + "\" and \"" + newer->origin +
                "\")");
  }
  if (older->size != proof->oldSize || newer->size != proof->newSize) {
    return fail("consistency proof: old-size " + std::to_string(proof->oldSize) + " / new-size " +
                std::to_string(proof->newSize) + " differ from the checkpoints' sizes " + std::to_string(older->size) +
                " / " + std::to_string(newer->size));
  }
  if (Status s = verifyConsistency(proof->oldSize, proof->newSize, older->root, newer->root, proof->path); !s) {
    return s.error();
  }
  VerifiedConsistency out;
  out.older = std::move(*older);
  out.newer = std::move(*newer);
  return out;
}

Result<VerifiedConsistency> verifyConsistencyProofText(std::string_view text, std::string_view verifierKeyText) {
  auto key = VerifierKey::parse(verifierKeyText);
  if (!key) return key.error();
  return verifyConsistencyProofText(text, *key);
}

}  // namespace cb::audit
