#include "audit/checkpoint.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>

namespace cb::audit {
namespace {

// U+2014 EM DASH followed by a space opens every signature line (signed-note, "Format").
constexpr std::string_view kSignaturePrefix = "\xE2\x80\x94 ";
constexpr std::string_view kPrivateKeyPrefix = "PRIVATE+KEY+";
constexpr std::size_t kMaxKeyFileBytes = 4096;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

std::span<const std::uint8_t> bytesOf(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// A std::string that wipes itself: for buffers that hold the private seed.
struct SecretString {
  std::string value;
  SecretString() = default;
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  ~SecretString() { OPENSSL_cleanse(value.data(), value.size()); }
};

// Base64 (RFC 4648 section 4) in its one canonical spelling: decoding and
// re-encoding must give the input back. That rejects whitespace and
// non-zero padding bits, so every altered character changes the value.
bool decodeBase64Canonical(std::string_view in, std::string& out) {
  if (!base64Decode(in, out)) return false;
  if (base64Encode(out) != in) {
    OPENSSL_cleanse(out.data(), out.size());
    out.clear();
    return false;
  }
  return true;
}

// Decimal without sign, spaces or leading zeros ("0" itself is allowed), as
// tlog-checkpoint requires for the tree size.
bool parseDecimal(std::string_view s, std::uint64_t max, std::uint64_t& out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// Decodes one UTF-8 code point at s[i], advancing i; false on malformed,
// overlong, surrogate or out-of-range sequences.
bool nextCodePoint(std::string_view s, std::size_t& i, char32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    cp = b0;
    ++i;
    return true;
  }
  std::size_t len = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1Fu;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0Fu;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07u;
    min = 0x10000;
  } else {
    return false;
  }
  if (s.size() - i < len) return false;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  i += len;
  return true;
}

// Unicode White_Space, as Go's unicode.IsSpace (which the reference note
// implementation uses for key names).
bool isUnicodeSpace(char32_t cp) {
  switch (cp) {
    case U'\t':
    case U'\n':
    case U'\v':
    case U'\f':
    case U'\r':
    case U' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: return true;
    default: return cp >= 0x2000 && cp <= 0x200A;
  }
}

// signed-note: "MUST be valid UTF-8 and MUST NOT contain any ASCII control
// characters (those below U+0020) other than newline".
bool isValidNoteText(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    if (!nextCodePoint(s, i, cp)) return false;
    if (cp < 0x20 && cp != U'\n') return false;
  }
  return true;
}

std::string keyIdHex(std::uint32_t id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(8, '0');
  for (int i = 7; i >= 0; --i) {
    s[static_cast<std::size_t>(i)] = kDigits[id & 0xF];
    id >>= 4;
  }
  return s;
}

bool parseKeyIdHex(std::string_view s, std::uint32_t& out) {
  if (s.size() != 8) return false;
  std::uint32_t v = 0;
  for (char c : s) {
    std::uint32_t d = 0;
    if (c >= '0' && c <= '9') {
      d = static_cast<std::uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<std::uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<std::uint32_t>(c - 'A' + 10);
    } else {
      return false;
    }
    v = (v << 4) | d;
  }
  out = v;
  return true;
}

// Splits s at the first '+', as Go's note package does; the base64 key part
// (last) may itself contain '+'.
std::string_view chop(std::string_view& s) {
  const auto plus = s.find('+');
  if (plus == std::string_view::npos) {
    std::string_view all = s;
    s = {};
    return all;
  }
  std::string_view head = s.substr(0, plus);
  s.remove_prefix(plus + 1);
  return head;
}

Result<Ed25519PublicKey> publicKeyFromSeed(std::span<const std::uint8_t, 32> seed) {
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!pkey) return fail("OpenSSL could not load the Ed25519 private key");
  Ed25519PublicKey pub{};
  std::size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), pub.data(), &len) != 1 || len != pub.size()) {
    return fail("OpenSSL could not derive the Ed25519 public key");
  }
  return pub;
}

// Reads at most `limit` bytes of a small file (a key). POSIX calls rather
// than iostreams so the error names the real cause (errno).
std::string readLimited(const std::filesystem::path& path, std::size_t limit, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot open " + path.string() + ": " + std::strerror(errno);
    return {};
  }
  std::string data(limit + 1, '\0');
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = "cannot read " + path.string() + ": " + std::strerror(errno);
      break;
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (error.empty() && done > limit) {
    error = path.string() + " is larger than " + std::to_string(limit) + " bytes; not a key file";
  }
  // Shrinking keeps the buffer, so a caller's wipe still covers every byte read.
  data.resize(done);
  return data;
}

std::string_view trimTrailingSpace(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::string signatureLine(const std::string& name, std::uint32_t keyId, const Ed25519Signature& sig) {
  std::string blob;
  blob.reserve(4 + sig.size());
  for (int shift = 24; shift >= 0; shift -= 8) blob.push_back(static_cast<char>((keyId >> shift) & 0xFF));
  blob.append(reinterpret_cast<const char*>(sig.data()), sig.size());
  std::string line(kSignaturePrefix);
  line += name;
  line += ' ';
  line += base64Encode(blob);
  line += '\n';
  return line;
}

// Splits text (ending in '\n') into its lines, without the newlines.
std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return lines;
}

}  // namespace

std::uint32_t ed25519KeyId(std::string_view name, const Ed25519PublicKey& publicKey) {
  std::string msg(name);
  msg.push_back('\n');
  msg.push_back(static_cast<char>(kEd25519SignatureType));
  msg.append(reinterpret_cast<const char*>(publicKey.data()), publicKey.size());
  const Sha256 h = sha256(msg);
  return (std::uint32_t{h[0]} << 24) | (std::uint32_t{h[1]} << 16) | (std::uint32_t{h[2]} << 8) | std::uint32_t{h[3]};
}

bool isValidKeyName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size();) {
    char32_t cp = 0;
    if (!nextCodePoint(name, i, cp)) return false;
    if (cp < 0x20 || cp == U'+' || isUnicodeSpace(cp)) return false;
  }
  return true;
}

// ---- VerifierKey -----------------------------------------------------------

VerifierKey::VerifierKey(std::string name, const Ed25519PublicKey& publicKey)
    : name_(std::move(name)), publicKey_(publicKey), keyId_(ed25519KeyId(name_, publicKey_)) {}

Result<VerifierKey> VerifierKey::parse(std::string_view text) {
  std::string_view rest = text;
  const std::string_view name = chop(rest);
  const std::string_view idHex = chop(rest);
  const std::string_view key64 = rest;
  if (!isValidKeyName(name)) {
    return fail("verifier key: key name \"" + std::string(name) +
                "\" is empty or contains a space, '+' or control character");
  }
  std::uint32_t id = 0;
  if (!parseKeyIdHex(idHex, id)) return fail("verifier key " + std::string(name) + ": key id is not 8 hex digits");
  std::string key;
  if (!decodeBase64Canonical(key64, key))
    return fail("verifier key " + std::string(name) + ": key is not valid base64");
  if (key.size() != 33 || static_cast<std::uint8_t>(key[0]) != kEd25519SignatureType) {
    return fail("verifier key " + std::string(name) + ": not an Ed25519 key (expected 0x01 followed by 32 bytes)");
  }
  Ed25519PublicKey pub{};
  std::copy(key.begin() + 1, key.end(), pub.begin());
  VerifierKey vk(std::string(name), pub);
  if (vk.keyId_ != id) {
    return fail("verifier key " + std::string(name) + ": key id " + std::string(idHex) +
                " does not match the key (expected " + keyIdHex(vk.keyId_) + ")");
  }
  return vk;
}

std::string VerifierKey::text() const {
  std::string key(1, static_cast<char>(kEd25519SignatureType));
  key.append(reinterpret_cast<const char*>(publicKey_.data()), publicKey_.size());
  return name_ + "+" + keyIdHex(keyId_) + "+" + base64Encode(key);
}

bool VerifierKey::verify(std::string_view message, std::span<const std::uint8_t> signature) const {
  if (signature.size() != std::tuple_size_v<Ed25519Signature>) return false;
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, publicKey_.data(), publicKey_.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx) return false;
  // Ed25519 is used without a pre-hash (RFC 8032 "pure" Ed25519), hence no digest.
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) return false;
  const auto msg = bytesOf(message);
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), msg.data(), msg.size()) == 1;
}

// ---- SignerKey -------------------------------------------------------------

Result<SignerKey> SignerKey::generate(std::string_view name) {
  if (!isValidKeyName(name)) {
    return fail("signer key: key name \"" + std::string(name) +
                "\" is empty or contains a space, '+' or control character");
  }
  SignerKey key;
  if (RAND_priv_bytes(key.seed_.data(), static_cast<int>(key.seed_.size())) != 1) {
    return fail("signer key: OpenSSL's random generator failed");
  }
  auto pub = publicKeyFromSeed(key.seed_);
  if (!pub) return pub.error();
  key.name_ = std::string(name);
  key.publicKey_ = *pub;
  key.keyId_ = ed25519KeyId(key.name_, key.publicKey_);
  return key;
}

Result<SignerKey> SignerKey::parse(std::string_view text) {
  // Error messages below never quote the input: it holds the private key.
  if (text.substr(0, kPrivateKeyPrefix.size()) != kPrivateKeyPrefix) {
    return fail("signer key: does not start with PRIVATE+KEY+ (is this a verifier key?)");
  }
  std::string_view rest = text.substr(kPrivateKeyPrefix.size());
  const std::string_view name = chop(rest);
  const std::string_view idHex = chop(rest);
  const std::string_view key64 = rest;
  if (!isValidKeyName(name))
    return fail("signer key: the key name is empty or contains a space, '+' or control character");
  std::uint32_t id = 0;
  if (!parseKeyIdHex(idHex, id)) return fail("signer key " + std::string(name) + ": key id is not 8 hex digits");
  SecretString raw;
  if (!decodeBase64Canonical(key64, raw.value))
    return fail("signer key " + std::string(name) + ": key is not valid base64");
  if (raw.value.size() != 33 || static_cast<std::uint8_t>(raw.value[0]) != kEd25519SignatureType) {
    return fail("signer key " + std::string(name) + ": not an Ed25519 key (expected 0x01 followed by a 32-byte seed)");
  }
  SignerKey key;
  std::copy(raw.value.begin() + 1, raw.value.end(), key.seed_.begin());
  auto pub = publicKeyFromSeed(key.seed_);
  if (!pub) return pub.error();
  key.name_ = std::string(name);
  key.publicKey_ = *pub;
  key.keyId_ = ed25519KeyId(key.name_, key.publicKey_);
  if (key.keyId_ != id) {
    return fail("signer key " + std::string(name) + ": key id " + std::string(idHex) +
                " does not match the key (the file is damaged or was edited)");
  }
  return key;
}

SignerKey::SignerKey(SignerKey&& other) noexcept
    : name_(std::move(other.name_)), seed_(other.seed_), publicKey_(other.publicKey_), keyId_(other.keyId_) {
  OPENSSL_cleanse(other.seed_.data(), other.seed_.size());
}

SignerKey& SignerKey::operator=(SignerKey&& other) noexcept {
  if (this != &other) {
    name_ = std::move(other.name_);
    seed_ = other.seed_;
    publicKey_ = other.publicKey_;
    keyId_ = other.keyId_;
    OPENSSL_cleanse(other.seed_.data(), other.seed_.size());
  }
  return *this;
}

SignerKey::~SignerKey() { OPENSSL_cleanse(seed_.data(), seed_.size()); }

std::string SignerKey::text() const {
  SecretString raw;
  raw.value.push_back(static_cast<char>(kEd25519SignatureType));
  raw.value.append(reinterpret_cast<const char*>(seed_.data()), seed_.size());
  SecretString b64;
  b64.value = base64Encode(raw.value);
  return std::string(kPrivateKeyPrefix) + name_ + "+" + keyIdHex(keyId_) + "+" + b64.value;
}

Result<Ed25519Signature> SignerKey::sign(std::string_view message) const {
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed_.data(), seed_.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx) return fail("signing with key " + name_ + ": OpenSSL could not load the key");
  Ed25519Signature sig{};
  std::size_t len = sig.size();
  const auto msg = bytesOf(message);
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()) != 1 || len != sig.size()) {
    return fail("signing with key " + name_ + ": OpenSSL Ed25519 signing failed");
  }
  return sig;
}

// ---- Key files -------------------------------------------------------------

Result<SignerKey> loadSignerKeyFile(const std::filesystem::path& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec) return fail("signer key file " + path.string() + ": " + ec.message());
  using std::filesystem::perms;
  if ((st.permissions() & (perms::others_all | perms::group_write)) != perms::none) {
    return fail("signer key file " + path.string() +
                " can be read or written by other users; restrict it with: chmod 600 " + path.string());
  }
  std::string error;
  SecretString data;
  data.value = readLimited(path, kMaxKeyFileBytes, error);
  if (!error.empty()) return fail("signer key file: " + error);
  auto key = SignerKey::parse(trimTrailingSpace(data.value));
  if (!key) return fail("signer key file " + path.string() + ": " + key.error().message);
  return key;
}

Status writeSignerKeyFile(const std::filesystem::path& path, const SignerKey& key) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST)
      return fail("signer key file " + path.string() + " already exists; refusing to replace a signing key");
    return fail("cannot create signer key file " + path.string() + ": " + std::strerror(err));
  }
  SecretString content;
  content.value = key.text();
  content.value.push_back('\n');
  std::size_t done = 0;
  while (done < content.value.size()) {
    const ssize_t n = ::write(fd, content.value.data() + done, content.value.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return fail("writing signer key file " + path.string() + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return fail("writing signer key file " + path.string() + ": " + std::strerror(err));
  }
  return {};
}

Result<VerifierKey> loadVerifierKeyFile(const std::filesystem::path& path) {
  std::string error;
  const std::string data = readLimited(path, kMaxKeyFileBytes, error);
  if (!error.empty()) return fail("verifier key file: " + error);
  auto key = VerifierKey::parse(trimTrailingSpace(data));
  if (!key) return fail("verifier key file " + path.string() + ": " + key.error().message);
  return key;
}

// ---- Signed notes ----------------------------------------------------------

Result<SignedNote> parseSignedNote(std::string_view note) {
  if (note.size() > kMaxNoteBytes) return fail("signed note: larger than " + std::to_string(kMaxNoteBytes) + " bytes");
  if (!isValidNoteText(note))
    return fail("signed note: not valid UTF-8, or contains control characters other than newline");
  if (note.empty() || note.back() != '\n') return fail("signed note: does not end with a newline");
  // "the text is separated from the signatures by the last empty line".
  const auto blank = note.rfind("\n\n");
  if (blank == std::string_view::npos) return fail("signed note: no blank line before the signature lines");
  SignedNote out;
  out.text = std::string(note.substr(0, blank + 1));
  std::string_view sigs = note.substr(blank + 2);
  if (sigs.empty()) return fail("signed note: no signature lines after the blank line");
  std::size_t lineNo = 0;
  for (std::string_view line : splitLines(sigs)) {
    ++lineNo;
    const std::string where = "signed note: signature line " + std::to_string(lineNo);
    if (line.substr(0, kSignaturePrefix.size()) != kSignaturePrefix) {
      return fail(where + " does not start with an em dash (U+2014) and a space");
    }
    line.remove_prefix(kSignaturePrefix.size());
    const auto space = line.find(' ');
    if (space == std::string_view::npos) return fail(where + " has no signature after the key name");
    NoteSignature sig;
    sig.keyName = std::string(line.substr(0, space));
    if (!isValidKeyName(sig.keyName)) return fail(where + ": invalid key name \"" + sig.keyName + "\"");
    std::string blob;
    if (!decodeBase64Canonical(line.substr(space + 1), blob))
      return fail(where + " (key " + sig.keyName + "): signature is not valid base64");
    if (blob.size() < 5) return fail(where + " (key " + sig.keyName + "): signature too short");
    sig.keyId = (std::uint32_t{static_cast<unsigned char>(blob[0])} << 24) |
                (std::uint32_t{static_cast<unsigned char>(blob[1])} << 16) |
                (std::uint32_t{static_cast<unsigned char>(blob[2])} << 8) |
                std::uint32_t{static_cast<unsigned char>(blob[3])};
    sig.signature = blob.substr(4);
    // One signature per key: a repeated (name, key id) pair is malformed
    // rather than ignored, so a note has a single accepted spelling.
    for (const NoteSignature& earlier : out.signatures) {
      if (earlier.keyName == sig.keyName && earlier.keyId == sig.keyId) {
        return fail(where + ": a second signature by key " + sig.keyName + "+" + keyIdHex(sig.keyId));
      }
    }
    if (out.signatures.size() == kMaxNoteSignatures) {
      return fail("signed note: more than " + std::to_string(kMaxNoteSignatures) + " signatures");
    }
    out.signatures.push_back(std::move(sig));
  }
  return out;
}

Result<std::string> signNote(std::string_view text, const SignerKey& key) {
  if (text.empty() || text.back() != '\n') return fail("note text must end with a newline");
  if (!isValidNoteText(text))
    return fail("note text is not valid UTF-8 or contains control characters other than newline");
  auto sig = key.sign(text);
  if (!sig) return sig.error();
  std::string note(text);
  note.push_back('\n');
  note += signatureLine(key.name(), key.keyId(), *sig);
  return note;
}

Result<std::string> openNote(std::string_view note, const VerifierKey& key) {
  auto parsed = parseSignedNote(note);
  if (!parsed) return parsed.error();
  bool verified = false;
  std::string seen;
  for (const NoteSignature& sig : parsed->signatures) {
    // signed-note: the (name, key id) pair identifies the key; signatures
    // from any other key are ignored, even if one of the two matches.
    if (sig.keyName != key.name() || sig.keyId != key.keyId()) {
      seen += (seen.empty() ? "" : ", ") + sig.keyName + "+" + keyIdHex(sig.keyId);
      continue;
    }
    if (!key.verify(parsed->text, bytesOf(sig.signature))) {
      return fail("signed note: the signature by " + key.name() + "+" + keyIdHex(key.keyId()) +
                  " does not verify; the note was altered after signing");
    }
    verified = true;
  }
  if (!verified) {
    return fail("signed note: no signature by " + key.name() + "+" + keyIdHex(key.keyId()) +
                (seen.empty() ? std::string() : " (signed by " + seen + ")"));
  }
  return std::move(parsed->text);
}

// ---- Checkpoints -----------------------------------------------------------

Result<std::string> formatCheckpoint(const Checkpoint& cp) {
  auto badLine = [](std::string_view line) {
    return line.empty() || line.find('\n') != std::string_view::npos || !isValidNoteText(line);
  };
  if (badLine(cp.origin)) return fail("checkpoint: the origin must be one non-empty line of text");
  std::string text = cp.origin;
  text += '\n';
  text += std::to_string(cp.size);
  text += '\n';
  text += base64Encode(cp.root);
  text += '\n';
  if (cp.time) {
    const auto secs = cp.time->time_since_epoch().count();
    if (secs < 0) return fail("checkpoint: signing time before 1970");
    text += kTimestampExtension;
    text += std::to_string(secs);
    text += '\n';
  }
  for (const std::string& ext : cp.extensions) {
    if (badLine(ext)) return fail("checkpoint: extension lines must be single non-empty lines of text");
    if (ext.starts_with(kTimestampExtension)) {
      return fail("checkpoint: extension \"" + ext + "\" would be read as the signing time; set Checkpoint::time");
    }
    text += ext;
    text += '\n';
  }
  return text;
}

Result<Checkpoint> parseCheckpoint(std::string_view text) {
  if (text.empty() || text.back() != '\n') return fail("checkpoint: text does not end with a newline");
  if (!isValidNoteText(text)) return fail("checkpoint: not valid UTF-8, or contains control characters");
  const auto lines = splitLines(text);
  if (lines.size() < 3) return fail("checkpoint: needs origin, tree size and root hash lines");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) return fail("checkpoint: line " + std::to_string(i + 1) + " is empty");
  }
  Checkpoint cp;
  cp.origin = std::string(lines[0]);
  if (!parseDecimal(lines[1], std::numeric_limits<std::uint64_t>::max(), cp.size)) {
    return fail("checkpoint " + cp.origin + ": tree size \"" + std::string(lines[1]) +
                "\" is not a decimal number without leading zeros");
  }
  std::string root;
  if (!decodeBase64Canonical(lines[2], root) || root.size() != cp.root.size()) {
    return fail("checkpoint " + cp.origin + ": root hash is not the base64 of 32 bytes");
  }
  std::copy(root.begin(), root.end(), cp.root.begin());
  std::size_t i = 3;
  if (i < lines.size() && lines[i].starts_with(kTimestampExtension)) {
    std::uint64_t secs = 0;
    if (!parseDecimal(lines[i].substr(kTimestampExtension.size()),
                      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()), secs)) {
      return fail("checkpoint " + cp.origin + ": malformed timestamp line \"" + std::string(lines[i]) + "\"");
    }
    cp.time = std::chrono::sys_seconds(std::chrono::seconds(static_cast<std::int64_t>(secs)));
    ++i;
  }
  for (; i < lines.size(); ++i) {
    if (lines[i].starts_with(kTimestampExtension)) {
      return fail("checkpoint " + cp.origin + ": a timestamp line may only be the first extension line");
    }
    cp.extensions.emplace_back(lines[i]);
  }
  return cp;
}

Result<std::string> signCheckpoint(const Checkpoint& checkpoint, const SignerKey& key) {
  auto text = formatCheckpoint(checkpoint);
  if (!text) return text.error();
  return signNote(*text, key);
}

Result<Checkpoint> parseSignedCheckpoint(std::string_view note) {
  auto parsed = parseSignedNote(note);
  if (!parsed) return parsed.error();
  return parseCheckpoint(parsed->text);
}

Result<Checkpoint> verifyCheckpoint(std::string_view note, const VerifierKey& key) {
  auto text = openNote(note, key);
  if (!text) return text.error();
  return parseCheckpoint(*text);
}

Result<Checkpoint> verifyCheckpoint(std::string_view note, std::string_view verifierKeyText) {
  auto key = VerifierKey::parse(verifierKeyText);
  if (!key) return key.error();
  return verifyCheckpoint(note, *key);
}

}  // namespace cb::audit
