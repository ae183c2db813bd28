// Checkpoint signing keys, C2SP signed notes and tlog checkpoints: the C2SP
// examples in ../shared/reference/merkle/checkpoints (discovered at run
// time), RFC 8032 Ed25519, round trips and every tamper case we can name.

#include "audit/checkpoint.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "audit/merkle.h"
#include "audit_test_util.h"

namespace cb::audit {
namespace {

using testing::filesUnder;
using testing::merkleReferenceDir;
using testing::readFile;

constexpr std::string_view kEmDash = "\xE2\x80\x94";

std::string hexToBytes(std::string_view hex) {
  std::string out;
  EXPECT_TRUE(fromHex(hex, out));
  return out;
}

// A signer key string for `seed` whose key id field is deliberately wrong.
std::string signerKeyTextWithWrongId(const std::string& name, const std::string& seed, std::uint32_t realId) {
  const char* wrong = realId == 0 ? "00000001" : "00000000";
  return "PRIVATE+KEY+" + name + "+" + wrong + "+" + base64Encode(std::string(1, '\x01') + seed);
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cb-audit-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// ---- C2SP reference examples -------------------------------------------------

TEST(CheckpointReference, SignedNoteExamplesVerifyAndAlteredCopiesDoNot) {
  const auto dir = merkleReferenceDir() / "checkpoints";
  const auto notes = filesUnder(dir, ".txt");
  ASSERT_FALSE(notes.empty()) << "no checkpoint examples found under " << dir;
  std::size_t verified = 0;
  std::size_t parsedOnly = 0;
  for (const auto& file : notes) {
    SCOPED_TRACE(file.string());
    const std::string note = readFile(file);
    auto parsed = parseSignedNote(note);
    if (!parsed) {
      // Only notes count; the folder's README is prose.
      EXPECT_EQ(note.find(std::string(kEmDash) + " "), std::string::npos) << parsed.error().message;
      continue;
    }
    auto vkeyFile = file;
    vkeyFile.replace_extension(".vkey");
    if (!std::filesystem::exists(vkeyFile)) {
      ++parsedOnly;
      continue;
    }
    auto key = loadVerifierKeyFile(vkeyFile);
    ASSERT_TRUE(key.ok()) << key.error().message;
    EXPECT_EQ(key->text() + "\n", readFile(vkeyFile)) << "key string must round-trip";
    auto text = openNote(note, *key);
    ASSERT_TRUE(text.ok()) << text.error().message;
    EXPECT_EQ(*text, parsed->text);
    ++verified;

    // Every single-byte alteration anywhere in the note is rejected.
    for (std::size_t i = 0; i < note.size(); ++i) {
      for (int mask : {0x01, 0x20}) {
        std::string altered = note;
        altered[i] = static_cast<char>(static_cast<unsigned char>(altered[i]) ^ mask);
        EXPECT_FALSE(openNote(altered, *key).ok()) << "byte " << i << " ^ " << mask;
      }
    }
    // Dropping the signature, or everything after the text, is rejected.
    EXPECT_FALSE(openNote(parsed->text, *key).ok());
    EXPECT_FALSE(openNote(parsed->text + "\n", *key).ok());
  }
  EXPECT_GT(verified, 0u) << "no example with a .vkey verified";
  EXPECT_GT(parsedOnly, 0u);
}

TEST(CheckpointReference, TlogCheckpointExampleParses) {
  const auto file = merkleReferenceDir() / "checkpoints" / "c2sp-tlog-checkpoint-example.txt";
  const std::string note = readFile(file);
  auto cp = parseSignedCheckpoint(note);
  ASSERT_TRUE(cp.ok()) << cp.error().message;
  EXPECT_EQ(cp->origin, "example.com/behind-the-sofa");
  EXPECT_EQ(cp->size, 20852163u);
  std::string root;
  ASSERT_TRUE(base64Decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", root));
  EXPECT_EQ(std::string(cp->root.begin(), cp->root.end()), root);
  EXPECT_FALSE(cp->time.has_value());
  EXPECT_TRUE(cp->extensions.empty());
  // Its body re-formats to the same bytes.
  auto parsedNote = parseSignedNote(note);
  ASSERT_TRUE(parsedNote.ok());
  EXPECT_EQ(*formatCheckpoint(*cp), parsedNote->text);
  ASSERT_EQ(parsedNote->signatures.size(), 1u);
  EXPECT_EQ(parsedNote->signatures[0].keyName, "example.com/behind-the-sofa");

  // No verifier key is published for it: another key, even one with the
  // log's name, must not verify it (signed-note: unknown keys are ignored).
  auto other = SignerKey::generate("example.com/behind-the-sofa");
  ASSERT_TRUE(other.ok());
  auto result = verifyCheckpoint(note, other->verifierKey());
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("no signature by"), std::string::npos) << result.error().message;
  auto exampleKey = loadVerifierKeyFile(merkleReferenceDir() / "checkpoints" / "c2sp-signed-note-example.vkey");
  ASSERT_TRUE(exampleKey.ok());
  EXPECT_FALSE(verifyCheckpoint(note, *exampleKey).ok());
}

// ---- Keys ----------------------------------------------------------------------

TEST(CheckpointKeys, Rfc8032TestVector1) {
  // RFC 8032 section 7.1, TEST 1: empty message.
  const std::string seed = hexToBytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  const std::string pub = hexToBytes("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const std::string sig = hexToBytes(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24"
      "655141438e7a100b");
  Ed25519PublicKey pubKey{};
  std::copy(pub.begin(), pub.end(), pubKey.begin());
  const std::string name = "rfc8032.example/test1";
  const std::uint32_t id = ed25519KeyId(name, pubKey);
  char idHex[9];
  std::snprintf(idHex, sizeof idHex, "%08x", id);
  const std::string text = "PRIVATE+KEY+" + name + "+" + idHex + "+" + base64Encode(std::string(1, '\x01') + seed);

  auto key = SignerKey::parse(text);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->verifierKey().publicKey(), pubKey);
  EXPECT_EQ(key->text(), text);
  auto signature = key->sign("");
  ASSERT_TRUE(signature.ok());
  EXPECT_EQ(std::string(signature->begin(), signature->end()), sig);
  EXPECT_TRUE(key->verifierKey().verify("", *signature));
  EXPECT_FALSE(key->verifierKey().verify("x", *signature));

  // A key string whose id does not match its key is refused.
  EXPECT_FALSE(SignerKey::parse(signerKeyTextWithWrongId(name, seed, id)).ok());
}

TEST(CheckpointKeys, GenerateParseAndKeyStringsRoundTrip) {
  auto key = SignerKey::generate("carebridge.example.nhs.uk/audit");
  ASSERT_TRUE(key.ok()) << key.error().message;
  const std::string secret = key->text();
  EXPECT_TRUE(secret.starts_with("PRIVATE+KEY+carebridge.example.nhs.uk/audit+"));
  auto again = SignerKey::parse(secret);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->keyId(), key->keyId());
  EXPECT_EQ(again->verifierKey().text(), key->verifierKey().text());

  const std::string vtext = key->verifierKey().text();
  auto vkey = VerifierKey::parse(vtext);
  ASSERT_TRUE(vkey.ok()) << vkey.error().message;
  EXPECT_EQ(vkey->name(), "carebridge.example.nhs.uk/audit");
  EXPECT_EQ(vkey->keyId(), key->keyId());
  EXPECT_EQ(vkey->text(), vtext);
  // The id is SHA-256(name || 0x0A || 0x01 || key)[:4].
  std::string msg = vkey->name() + "\n\x01";
  msg.append(vkey->publicKey().begin(), vkey->publicKey().end());
  const Sha256 h = sha256(msg);
  EXPECT_EQ(vkey->keyId(),
            (std::uint32_t{h[0]} << 24) | (std::uint32_t{h[1]} << 16) | (std::uint32_t{h[2]} << 8) | h[3]);

  // Two generated keys differ.
  auto other = SignerKey::generate("carebridge.example.nhs.uk/audit");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->verifierKey().text(), vtext);

  // A signer key is not a verifier key and vice versa.
  EXPECT_FALSE(VerifierKey::parse(secret).ok());
  EXPECT_FALSE(SignerKey::parse(vtext).ok());
}

TEST(CheckpointKeys, MalformedKeysAreRejected) {
  auto key = SignerKey::generate("log.example/a");
  ASSERT_TRUE(key.ok());
  const std::string good = key->verifierKey().text();
  ASSERT_TRUE(VerifierKey::parse(good).ok());
  const auto firstPlus = good.find('+');
  const auto secondPlus = good.find('+', firstPlus + 1);
  std::string wrongId = good;
  wrongId[firstPlus + 1] = wrongId[firstPlus + 1] == '0' ? '1' : '0';
  EXPECT_FALSE(VerifierKey::parse(wrongId).ok()) << "key id mismatch";
  std::string renamed = "log.example/b" + good.substr(firstPlus);
  EXPECT_FALSE(VerifierKey::parse(renamed).ok()) << "name not matching id";
  EXPECT_FALSE(VerifierKey::parse(good.substr(0, good.size() - 4)).ok()) << "short key";
  EXPECT_FALSE(VerifierKey::parse(good.substr(0, secondPlus)).ok()) << "no key";
  EXPECT_FALSE(VerifierKey::parse(" " + good).ok()) << "space in name";
  EXPECT_FALSE(VerifierKey::parse(good + "\n").ok()) << "trailing newline in the string itself";
  // Wrong algorithm byte (0x02), with an id computed for it so only the type is wrong.
  std::string raw;
  ASSERT_TRUE(base64Decode(good.substr(secondPlus + 1), raw));
  raw[0] = '\x02';
  EXPECT_FALSE(VerifierKey::parse(good.substr(0, secondPlus + 1) + base64Encode(raw)).ok()) << "algorithm";

  for (const char* name : {"", "a b", "a+b", "tab\there", "nbsp\xC2\xA0here", "em\xE2\x80\x83space", "\xFF"}) {
    EXPECT_FALSE(isValidKeyName(name)) << name;
    EXPECT_FALSE(SignerKey::generate(name).ok()) << name;
  }
  EXPECT_TRUE(isValidKeyName("example.com/log42"));
  EXPECT_TRUE(isValidKeyName("caf\xC3\xA9.example/log"));
}

TEST(CheckpointKeys, KeyFiles) {
  TempDir tmp;
  auto key = SignerKey::generate("log.example/files");
  ASSERT_TRUE(key.ok());
  const auto path = tmp.path / "audit-signer.key";
  ASSERT_TRUE(writeSignerKeyFile(path, *key).ok());
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto loaded = loadSignerKeyFile(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->text(), key->text());

  // Never overwrites an existing key.
  auto other = SignerKey::generate("log.example/files");
  ASSERT_TRUE(other.ok());
  Status again = writeSignerKeyFile(path, *other);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos);
  EXPECT_EQ(loadSignerKeyFile(path)->text(), key->text());

  // Refuses a key file others can read, and says how to fix it.
  std::filesystem::permissions(path, std::filesystem::perms::others_read, std::filesystem::perm_options::add);
  auto open = loadSignerKeyFile(path);
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.error().message.find("chmod 600"), std::string::npos) << open.error().message;
  // ...and its error messages never contain the secret: the base64 after
  // "PRIVATE+KEY+<name>+<key id>+" (which may itself contain '+', so
  // counting from the end could leave a few characters that turn up in
  // any message by chance).
  const std::string text = key->text();
  std::size_t secret_at = 0;
  for (int i = 0; i < 4; ++i) secret_at = text.find('+', secret_at) + 1;
  const std::string secret = text.substr(secret_at);
  ASSERT_GE(secret.size(), 40u) << "the key text is not PRIVATE+KEY+<name>+<id>+<base64>";
  EXPECT_EQ(open.error().message.find(secret), std::string::npos);

  const auto vpath = tmp.path / "audit.vkey";
  std::ofstream(vpath) << key->verifierKey().text() << "\n";
  auto vkey = loadVerifierKeyFile(vpath);
  ASSERT_TRUE(vkey.ok()) << vkey.error().message;
  EXPECT_EQ(vkey->text(), key->verifierKey().text());
  EXPECT_FALSE(loadVerifierKeyFile(tmp.path / "missing.vkey").ok());
  EXPECT_FALSE(loadSignerKeyFile(tmp.path / "missing.key").ok());
}

// ---- Notes and checkpoints ---------------------------------------------------------

Checkpoint sampleCheckpoint() {
  Checkpoint cp;
  cp.origin = "carebridge.example.nhs.uk/audit";
  cp.size = 12345;
  cp.root = leafHash("some root");
  cp.time = std::chrono::sys_seconds(std::chrono::seconds(1767225600));
  cp.extensions = {"agreement-set 2026-04", "note caf\xC3\xA9"};
  return cp;
}

TEST(Checkpoint, SignVerifyRoundTrip) {
  auto key = SignerKey::generate("carebridge.example.nhs.uk/audit");
  ASSERT_TRUE(key.ok());
  const Checkpoint cp = sampleCheckpoint();
  auto note = signCheckpoint(cp, *key);
  ASSERT_TRUE(note.ok()) << note.error().message;
  EXPECT_TRUE(note->starts_with("carebridge.example.nhs.uk/audit\n12345\n" + base64Encode(cp.root) +
                                "\ntimestamp 1767225600\nagreement-set 2026-04\n"));
  EXPECT_NE(note->find("\n\n" + std::string(kEmDash) + " carebridge.example.nhs.uk/audit "), std::string::npos);

  auto verified = verifyCheckpoint(*note, key->verifierKey());
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(*verified, cp);
  auto byText = verifyCheckpoint(*note, key->verifierKey().text());
  ASSERT_TRUE(byText.ok());
  EXPECT_EQ(*byText, cp);
  EXPECT_EQ(*parseSignedCheckpoint(*note), cp);

  // Without time and extensions.
  Checkpoint bare;
  bare.origin = "o";
  bare.size = 0;
  bare.root = emptyRoot();
  auto bareNote = signCheckpoint(bare, *key);
  ASSERT_TRUE(bareNote.ok());
  EXPECT_EQ(*verifyCheckpoint(*bareNote, key->verifierKey()), bare);
}

TEST(Checkpoint, TamperingIsRejected) {
  auto key = SignerKey::generate("carebridge.example.nhs.uk/audit");
  auto other = SignerKey::generate("carebridge.example.nhs.uk/audit");
  ASSERT_TRUE(key.ok() && other.ok());
  const Checkpoint cp = sampleCheckpoint();
  const std::string note = *signCheckpoint(cp, *key);
  const auto sigStart = note.rfind("\n\n") + 2;
  const std::string body = note.substr(0, sigStart - 1);
  const std::string sigLine = note.substr(sigStart);

  // One byte of the body.
  for (std::size_t i = 0; i + 1 < body.size(); ++i) {
    std::string altered = note;
    altered[i] = altered[i] == '1' ? '2' : '1';
    if (altered == note) continue;
    EXPECT_FALSE(verifyCheckpoint(altered, key->verifierKey()).ok()) << "body byte " << i;
  }
  // Another checkpoint's signature line (same key), swapped in.
  Checkpoint bigger = cp;
  bigger.size += 1;
  const std::string otherNote = *signCheckpoint(bigger, *key);
  const std::string otherSig = otherNote.substr(otherNote.rfind("\n\n") + 2);
  EXPECT_FALSE(verifyCheckpoint(body + "\n" + otherSig, key->verifierKey()).ok()) << "swapped signature";
  // The other key (same name, different id): unknown, so unverified.
  EXPECT_FALSE(verifyCheckpoint(note, other->verifierKey()).ok()) << "other key";
  // Signed by the other key only.
  EXPECT_FALSE(verifyCheckpoint(*signCheckpoint(cp, *other), key->verifierKey()).ok());
  // Missing signature; missing blank line.
  EXPECT_FALSE(verifyCheckpoint(body, key->verifierKey()).ok());
  EXPECT_FALSE(verifyCheckpoint(body + sigLine, key->verifierKey()).ok());
  // Bad base64 in the signature.
  std::string badB64 = note;
  badB64.insert(note.size() - 5, "!");
  EXPECT_FALSE(verifyCheckpoint(badB64, key->verifierKey()).ok());
  // Non-canonical base64: same bytes, different spelling (padding bits set).
  std::string b64 = sigLine.substr(sigLine.rfind(' ') + 1);
  b64.pop_back();  // newline
  ASSERT_EQ(b64.back(), '=');
  std::string raw;
  ASSERT_TRUE(base64Decode(b64, raw));
  std::string sloppy = b64;
  const char last = sloppy[sloppy.size() - 2];
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  sloppy[sloppy.size() - 2] = kAlphabet[kAlphabet.find(last) ^ 1];  // flips a padding bit only
  std::string sameBytes;
  ASSERT_TRUE(base64Decode(sloppy, sameBytes));
  ASSERT_EQ(sameBytes, raw) << "the test must only change padding bits";
  std::string nonCanonical = note;
  nonCanonical.replace(nonCanonical.rfind(b64), b64.size(), sloppy);
  EXPECT_FALSE(verifyCheckpoint(nonCanonical, key->verifierKey()).ok());
  // Unknown key id under the right name: re-encode the signature with
  // another id. It is ignored, so the note has no signature by the key.
  std::string blob = raw;
  blob[0] = static_cast<char>(blob[0] ^ 0x01);
  EXPECT_FALSE(
      verifyCheckpoint(body + "\n" + std::string(kEmDash) + " " + key->name() + " " + base64Encode(blob) + "\n",
                       key->verifierKey())
          .ok());
  // An extra signature by an unknown key is ignored; a bad one by the known key is not.
  const std::string cosigned = *signNote(body, *other);
  const std::string otherLine = cosigned.substr(cosigned.rfind("\n\n") + 2);
  EXPECT_TRUE(verifyCheckpoint(note + otherLine, key->verifierKey()).ok());
  EXPECT_TRUE(verifyCheckpoint(body + "\n" + otherLine + sigLine, key->verifierKey()).ok());
  EXPECT_FALSE(verifyCheckpoint(note + otherSig, key->verifierKey()).ok()) << "second, invalid signature by the key";
  // Control characters and invalid UTF-8 anywhere are refused.
  std::string withCr = note;
  withCr.insert(5, "\r");
  EXPECT_FALSE(parseSignedNote(withCr).ok());
  std::string withBadUtf8 = note;
  withBadUtf8.insert(5, "\xC0\xAF");
  EXPECT_FALSE(parseSignedNote(withBadUtf8).ok());
}

TEST(Checkpoint, StrictBodyParsing) {
  const std::string root = base64Encode(leafHash("r"));
  EXPECT_TRUE(parseCheckpoint("o\n0\n" + root + "\n").ok());
  EXPECT_TRUE(parseCheckpoint("o\n18446744073709551615\n" + root + "\n").ok());
  EXPECT_FALSE(parseCheckpoint("o\n18446744073709551616\n" + root + "\n").ok()) << "overflow";
  EXPECT_FALSE(parseCheckpoint("o\n007\n" + root + "\n").ok()) << "leading zeros";
  EXPECT_FALSE(parseCheckpoint("o\n+7\n" + root + "\n").ok());
  EXPECT_FALSE(parseCheckpoint("o\n7 \n" + root + "\n").ok());
  EXPECT_FALSE(parseCheckpoint("o\n7\n" + root).ok()) << "no final newline";
  EXPECT_FALSE(parseCheckpoint("o\n7\n").ok()) << "no root";
  EXPECT_FALSE(parseCheckpoint("\n7\n" + root + "\n").ok()) << "empty origin";
  EXPECT_FALSE(parseCheckpoint("o\n7\n" + base64Encode(std::string(31, 'x')) + "\n").ok()) << "short root";
  EXPECT_FALSE(parseCheckpoint("o\n7\n" + root + "\n\n").ok()) << "empty extension line";
  EXPECT_FALSE(parseCheckpoint("o\n7\n" + root + "\ntimestamp 01\n").ok());
  EXPECT_FALSE(parseCheckpoint("o\n7\n" + root + "\ntimestamp -1\n").ok());
  EXPECT_FALSE(parseCheckpoint("o\n7\n" + root + "\ntimestamp 9223372036854775808\n").ok());
  EXPECT_FALSE(parseCheckpoint("o\n7\n" + root + "\nx\ntimestamp 5\n").ok()) << "timestamp not first";
  EXPECT_FALSE(parseCheckpoint("o\n7\n" + root + "\ntimestamp 5\ntimestamp 6\n").ok()) << "two timestamps";
  auto withExt = parseCheckpoint("o\n7\n" + root + "\ntimestamp 5\nx\n");
  ASSERT_TRUE(withExt.ok());
  EXPECT_EQ(withExt->time->time_since_epoch().count(), 5);
  EXPECT_EQ(withExt->extensions, std::vector<std::string>{"x"});

  Checkpoint cp;
  cp.origin = "o";
  EXPECT_TRUE(formatCheckpoint(cp).ok());
  cp.extensions = {"timestamp 5"};
  EXPECT_FALSE(formatCheckpoint(cp).ok()) << "ambiguous extension";
  cp.extensions = {""};
  EXPECT_FALSE(formatCheckpoint(cp).ok());
  cp.extensions = {"a\nb"};
  EXPECT_FALSE(formatCheckpoint(cp).ok());
  cp.extensions.clear();
  cp.origin = "";
  EXPECT_FALSE(formatCheckpoint(cp).ok());
  cp.origin = "o";
  cp.time = std::chrono::sys_seconds(std::chrono::seconds(-1));
  EXPECT_FALSE(formatCheckpoint(cp).ok());
}

TEST(SignedNote, TextWithBlankLinesAndManySignatures) {
  auto a = SignerKey::generate("a.example/k");
  auto b = SignerKey::generate("b.example/k");
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string text = "first\n\nthird after a blank line\n";
  auto note = signNote(text, *a);
  ASSERT_TRUE(note.ok());
  auto opened = openNote(*note, a->verifierKey());
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(*opened, text);
  EXPECT_FALSE(openNote(*note, b->verifierKey()).ok());
  EXPECT_FALSE(signNote("no newline", *a).ok());
  EXPECT_FALSE(signNote("tab\there\n", *a).ok());

  // Up to kMaxNoteSignatures signature lines (one per key) are accepted,
  // more are not; a key may sign only once.
  const std::string line = note->substr(note->rfind("\n\n") + 2);
  EXPECT_FALSE(openNote(*note + line, a->verifierKey()).ok()) << "duplicate signature line";
  std::string many = *note;
  for (std::size_t i = 1; i < kMaxNoteSignatures; ++i) {
    auto cosigner = SignerKey::generate("cosigner" + std::to_string(i) + ".example/k");
    ASSERT_TRUE(cosigner.ok());
    const std::string cosigned = signNote(text, *cosigner).value();
    many += cosigned.substr(cosigned.rfind("\n\n") + 2);
  }
  EXPECT_TRUE(openNote(many, a->verifierKey()).ok());
  EXPECT_EQ(parseSignedNote(many)->signatures.size(), kMaxNoteSignatures);
  auto extra = SignerKey::generate("one-too-many.example/k");
  ASSERT_TRUE(extra.ok());
  const std::string extraNote = signNote(text, *extra).value();
  EXPECT_FALSE(openNote(many + extraNote.substr(extraNote.rfind("\n\n") + 2), a->verifierKey()).ok());
}

}  // namespace
}  // namespace cb::audit
