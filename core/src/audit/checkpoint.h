#pragma once
// Signed checkpoints of the audit log: what an auditor is given to pin the
// Merkle root at a tree size, and to check that the log only ever grew.
//
// Formats, so any C2SP-compatible tool can check our checkpoints:
//  - Note and signature lines: C2SP signed-note
//    (https://github.com/C2SP/C2SP/blob/main/signed-note.md), Ed25519
//    (signature type 0x01, RFC 8032).
//  - Note text: C2SP tlog-checkpoint
//    (https://github.com/C2SP/C2SP/blob/main/tlog-checkpoint.md):
//      <origin>\n<tree size, decimal>\n<base64 root hash>\n[extension lines]
//  - Key strings as Go's golang.org/x/mod/sumdb/note writes them:
//      verifier  <name>+<8 hex key id>+<base64(0x01 || 32-byte public key)>
//      signer    PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte seed)>
//    key id = SHA-256(name || 0x0A || 0x01 || public key)[:4], big-endian.
//
// Signing time. A checkpoint carries the time it was signed as its first
// extension line, "timestamp <unix seconds>". tlog-checkpoint makes
// extension lines optional and opaque, and does not recommend them because
// log monitors cannot audit them. We accept that: the time is not a property
// of the Merkle tree but our signer's statement of when it saw that root,
// which lets an auditor see how fresh a checkpoint is; tools that do not
// know the line still verify the signature over it and ignore it.
//
// Base64 and decimal fields are accepted only in their canonical spelling,
// so no altered character of a note can decode to the same value.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/result.h"

namespace cb::audit {

/// Signature type byte of Ed25519 note signatures (C2SP signed-note,
/// "Signature types").
inline constexpr std::uint8_t kEd25519SignatureType = 0x01;
/// The extension line prefix that carries a checkpoint's signing time.
inline constexpr std::string_view kTimestampExtension = "timestamp ";
/// Upper bounds on what parsing accepts (signed-note: verifiers SHOULD
/// limit the number of signatures and MUST accept at least 16).
inline constexpr std::size_t kMaxNoteBytes = 1 << 20;
inline constexpr std::size_t kMaxNoteSignatures = 64;

using Ed25519PublicKey = std::array<std::uint8_t, 32>;
using Ed25519Signature = std::array<std::uint8_t, 64>;

/// SHA-256(name || 0x0A || 0x01 || publicKey)[:4] read big-endian: the key
/// id of an Ed25519 note key (signed-note, "Ed25519 signatures").
std::uint32_t ed25519KeyId(std::string_view name, const Ed25519PublicKey& publicKey);

/// A note key name: non-empty valid UTF-8 with no Unicode space, no '+'
/// and no control character (signed-note, "Format").
bool isValidKeyName(std::string_view name);

/// The public half of a checkpoint signing key: what auditors and the
/// standalone verifier are configured with. Cheap to copy.
class VerifierKey {
 public:
  /// Parses "<name>+<hex key id>+<base64(0x01 || public key)>", checking the
  /// name, the algorithm byte, the key length and that the key id matches.
  static Result<VerifierKey> parse(std::string_view text);

  const std::string& name() const noexcept { return name_; }
  std::uint32_t keyId() const noexcept { return keyId_; }
  const Ed25519PublicKey& publicKey() const noexcept { return publicKey_; }
  /// The key string accepted by parse() (and by Go's note.NewVerifier).
  std::string text() const;
  /// True if `signature` is a valid Ed25519 signature of `message`.
  bool verify(std::string_view message, std::span<const std::uint8_t> signature) const;

 private:
  friend class SignerKey;
  VerifierKey(std::string name, const Ed25519PublicKey& publicKey);

  std::string name_;
  Ed25519PublicKey publicKey_{};
  std::uint32_t keyId_ = 0;
};

/// The private checkpoint signing key. Owns the 32-byte Ed25519 seed and
/// wipes it on destruction; move-only so the secret is not copied around.
/// The daemon loads it from a file kept outside the audit store.
class SignerKey {
 public:
  /// A fresh key from OpenSSL's private random generator. `name` is the
  /// note key name; by convention the log's checkpoint origin.
  static Result<SignerKey> generate(std::string_view name);
  /// Parses "PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>",
  /// checking that the key id matches the public key derived from the seed.
  static Result<SignerKey> parse(std::string_view text);

  SignerKey(SignerKey&& other) noexcept;
  SignerKey& operator=(SignerKey&& other) noexcept;
  SignerKey(const SignerKey&) = delete;
  SignerKey& operator=(const SignerKey&) = delete;
  ~SignerKey();

  const std::string& name() const noexcept { return name_; }
  std::uint32_t keyId() const noexcept { return keyId_; }
  /// The matching public key.
  VerifierKey verifierKey() const { return VerifierKey(name_, publicKey_); }
  /// The secret key string accepted by parse() (and by Go's note.NewSigner).
  /// It holds the private key: write it only to a protected file.
  std::string text() const;
  /// Ed25519 signature (RFC 8032) of `message`.
  Result<Ed25519Signature> sign(std::string_view message) const;

 private:
  SignerKey() = default;

  std::string name_;
  std::array<std::uint8_t, 32> seed_{};
  Ed25519PublicKey publicKey_{};
  std::uint32_t keyId_ = 0;
};

/// Reads a signer key file (the key string, optionally followed by a
/// newline). Refuses a file that others can access or group members can
/// write (mode & 0027), naming the file and the chmod that fixes it.
Result<SignerKey> loadSignerKeyFile(const std::filesystem::path& path);
/// Writes `key` to a new file with mode 0600; refuses to replace an
/// existing file, so a signing key is never overwritten by accident.
Status writeSignerKeyFile(const std::filesystem::path& path, const SignerKey& key);
/// Reads a verifier key file (the key string, optionally followed by a newline).
Result<VerifierKey> loadVerifierKeyFile(const std::filesystem::path& path);

/// One signature line of a note: "— <keyName> base64(keyId || signature)".
struct NoteSignature {
  std::string keyName;
  std::uint32_t keyId = 0;
  std::string signature;  ///< the signature bytes after the 4-byte key id
};

/// A note split into its text (with the final newline) and signatures;
/// nothing is verified yet.
struct SignedNote {
  std::string text;
  std::vector<NoteSignature> signatures;
};

/// Splits a signed note at its last blank line and parses the signature
/// lines. Rejects notes that are not valid UTF-8, contain control characters
/// other than newline, lack a final newline or signatures, have malformed
/// signature lines, two signatures by the same key (name and key id), or
/// more than kMaxNoteSignatures / kMaxNoteBytes.
Result<SignedNote> parseSignedNote(std::string_view note);
/// `text` (which must end in a newline) followed by a blank line and the
/// signature line of `key`.
Result<std::string> signNote(std::string_view text, const SignerKey& key);
/// Verifies `note` against `key` and returns its text. As signed-note
/// requires: signatures from other keys (another name or key id) are
/// ignored; a signature from `key` that does not verify rejects the note;
/// a note with no signature from `key` is rejected.
Result<std::string> openNote(std::string_view note, const VerifierKey& key);

/// The content of a checkpoint (tlog-checkpoint, "Note text").
struct Checkpoint {
  std::string origin;      ///< the log's identity, e.g. "carebridge.example.nhs.uk/audit"
  std::uint64_t size = 0;  ///< number of leaves
  Sha256 root{};           ///< MTH of those leaves (RFC 9162 2.1.1)
  /// Signing time, carried as the first extension line
  /// "timestamp <unix seconds>" (see the top of this file).
  std::optional<std::chrono::sys_seconds> time;
  /// Further extension lines, in order, without their newlines.
  std::vector<std::string> extensions;

  bool operator==(const Checkpoint&) const = default;
};

/// The note text of `checkpoint`. Rejects an empty origin, a time before
/// 1970, empty extension lines, an extension line that could be read as the
/// timestamp, and lines with newlines or control characters.
Result<std::string> formatCheckpoint(const Checkpoint& checkpoint);
/// Parses checkpoint note text (no signatures); strict: size without leading
/// zeros, canonical base64 of exactly 32 bytes, no empty lines, a timestamp
/// line only as the first extension line and well-formed.
Result<Checkpoint> parseCheckpoint(std::string_view text);
/// The signed note for `checkpoint`, signed with `key`.
Result<std::string> signCheckpoint(const Checkpoint& checkpoint, const SignerKey& key);
/// Parses a signed checkpoint WITHOUT checking any signature: for display,
/// or for the daemon's own checkpoints. Use verifyCheckpoint() for trust.
Result<Checkpoint> parseSignedCheckpoint(std::string_view note);
/// Verifies the signature of `key` on `note` (see openNote()) and parses
/// the checkpoint it signs.
Result<Checkpoint> verifyCheckpoint(std::string_view note, const VerifierKey& key);
/// As above with the verifier key given as its key string.
Result<Checkpoint> verifyCheckpoint(std::string_view note, std::string_view verifierKeyText);

}  // namespace cb::audit
