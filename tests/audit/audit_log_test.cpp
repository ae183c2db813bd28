// `carebridge audit verify|prove|consistency|verify-proof` against a real
// SQLite store: every kind of tampering issue #5 names (a changed byte, a
// deleted entry, two swapped, a truncated tail, a replaced checkpoint
// signature) is detected and the first entry or checkpoint that does not
// match is named; proofs printed by prove/consistency are checked by the
// standalone verifier; the v1 -> v2 schema migration keeps existing logs.

#include <CLI/CLI.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "audit/log_verifier.h"
#include "audit/merkle.h"
#include "audit/proof.h"
#include "audit_log_fixture.h"
#include "cli/audit_command.h"
#include "store/schema.h"

namespace cb::audit::testing {
namespace {

using ::testing::HasSubstr;

class AuditVerifyTest : public AuditLogTest {
 protected:
  void SetUp() override {
    AuditLogTest::SetUp();
    // Checkpoints at 10, 20 and 25 over 25 entries.
    appendWithCheckpoints({10, 20, 25});
    closeStore();
  }

  void expectFirstBad(const CliRun& r, std::uint64_t entry) {
    EXPECT_EQ(r.status, cli::kAuditMismatch) << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr("first entry that does not match: " + std::to_string(entry) + "\n")) << r.out;
  }
};

TEST_F(AuditVerifyTest, AnUntouchedLogVerifies) {
  auto r = verify();
  EXPECT_EQ(r.status, cli::kAuditVerified) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("audit log verified: 25 entries, 3 checkpoints"));
  EXPECT_THAT(r.out, HasSubstr("entries 0..24 are pinned by a signed checkpoint"));
  // The same with the key given as a string, as an auditor would; the
  // audit.viewed entry the first run wrote is not covered by a checkpoint yet.
  auto again = verify(publicKey);
  EXPECT_EQ(again.status, cli::kAuditVerified);
  EXPECT_THAT(again.out, HasSubstr("entries 25..25 are not yet covered"));
}

TEST_F(AuditVerifyTest, OneChangedByteInAnEntryIsNamed) {
  std::string entry = textAt("SELECT entry FROM audit_log WHERE seq = 7");
  ASSERT_FALSE(entry.empty());
  entry[entry.size() / 2] ^= 0x01;
  setText("UPDATE audit_log SET entry = ? WHERE seq = 7", entry);
  auto r = verify();
  expectFirstBad(r, 7);
  EXPECT_THAT(r.out, HasSubstr("entry 7 was altered"));
}

TEST_F(AuditVerifyTest, AnAlteredIndexedColumnIsNamed) {
  // Queries and subject access reports search the columns, not the entry.
  sql("UPDATE audit_log SET subject_key = 'subject-9' WHERE seq = 4");
  auto r = verify();
  expectFirstBad(r, 4);
  EXPECT_THAT(r.out, HasSubstr("column 'subject_key'"));
}

TEST_F(AuditVerifyTest, ADeletedEntryIsNamed) {
  sql("DELETE FROM audit_log WHERE seq = 12");
  auto r = verify();
  expectFirstBad(r, 12);
  EXPECT_THAT(r.out, HasSubstr("entry 12 is missing"));
}

TEST_F(AuditVerifyTest, TwoSwappedEntriesAreNamed) {
  // Swapping the entries' content (their leaf hashes stay): exact.
  const std::string a = textAt("SELECT entry FROM audit_log WHERE seq = 3");
  const std::string b = textAt("SELECT entry FROM audit_log WHERE seq = 8");
  setText("UPDATE audit_log SET entry = ? WHERE seq = 3", b);
  setText("UPDATE audit_log SET entry = ? WHERE seq = 8", a);
  expectFirstBad(verify(), 3);
}

TEST_F(AuditVerifyTest, SwappedRowsWithTheirLeafHashesAreLocatedBetweenCheckpoints) {
  // Swapping whole rows keeps each row self-consistent; only the signed
  // roots can tell. Entries 0..9 still match the checkpoint at 10, so the
  // alteration lies in 10..19 and the checkpoint at 20 is named.
  sql("UPDATE audit_log SET seq = -1 WHERE seq = 13; UPDATE audit_log SET seq = 13 WHERE seq = 16; "
      "UPDATE audit_log SET seq = 16 WHERE seq = -1;");
  auto r = verify();
  expectFirstBad(r, 10);
  EXPECT_THAT(r.out, HasSubstr("checkpoint that does not match: tree size 20"));
  EXPECT_THAT(r.out, HasSubstr("at or after entry 10"));
  EXPECT_THAT(r.out, HasSubstr("before entry 20"));
}

TEST_F(AuditVerifyTest, ATruncatedTailIsNamed) {
  sql("DELETE FROM audit_log WHERE seq >= 22");
  auto r = verify();
  expectFirstBad(r, 22);
  EXPECT_THAT(r.out, HasSubstr("truncated"));
}

TEST_F(AuditVerifyTest, ATruncatedTailWithARewoundTreeStateIsCaughtByTheCheckpoint) {
  // A careful tamperer also rewrites the tree state to match 22 entries.
  {
    openStore();
    store::StoreLeafHashSource source(*store, 22);
    auto f = frontierOf(source, 22);
    ASSERT_TRUE(f) << f.error().message;
    closeStore();
    sql("DELETE FROM audit_log WHERE seq >= 22");
    setText("UPDATE audit_state SET size = 22, frontier = ? WHERE id = 1", f->toBytes(), true);
  }
  auto r = verify();
  expectFirstBad(r, 22);
  EXPECT_THAT(r.out, HasSubstr("checkpoint that does not match: tree size 25"));
  EXPECT_THAT(r.out, HasSubstr("truncated"));
}

TEST_F(AuditVerifyTest, ATailTruncatedBehindTheLastCheckpointIsNamed) {
  // Without any new entry (a read-only look at the log), truncation below a
  // checkpoint's size names the first missing entry and the checkpoint.
  openStore();
  store::StoreLeafHashSource source(*store, 22);
  auto f = frontierOf(source, 22);
  ASSERT_TRUE(f);
  closeStore();
  sql("DELETE FROM audit_log WHERE seq >= 22");
  setText("UPDATE audit_state SET size = 22, frontier = ? WHERE id = 1", f->toBytes(), true);
  openStore();
  auto key = VerifierKey::parse(publicKey);
  ASSERT_TRUE(key);
  auto r = verifyAuditLog(*store, *key);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->intact);
  EXPECT_EQ(r->first_bad_entry, 22u);
  EXPECT_EQ(r->bad_checkpoint, 25u);
  EXPECT_THAT(r->problem, HasSubstr("truncated"));
}

TEST_F(AuditVerifyTest, AReplacedCheckpointSignatureIsNamed) {
  // Another key with the same name signs the same checkpoint text.
  auto other = SignerKey::generate("test.example/audit");
  ASSERT_TRUE(other);
  const std::string note = textAt("SELECT note FROM audit_checkpoints WHERE tree_size = 20");
  auto parsed = parseSignedNote(note);
  ASSERT_TRUE(parsed);
  auto forged = signNote(parsed->text, *other);
  ASSERT_TRUE(forged);
  setText("UPDATE audit_checkpoints SET note = ? WHERE tree_size = 20", *forged);
  auto r = verify();
  EXPECT_EQ(r.status, cli::kAuditMismatch) << r.out;
  EXPECT_THAT(r.out, HasSubstr("checkpoint that does not match: tree size 20"));
  EXPECT_THAT(r.out, HasSubstr("signature does not verify"));
}

TEST_F(AuditVerifyTest, AFlippedCheckpointSignatureByteIsNamed) {
  std::string note = textAt("SELECT note FROM audit_checkpoints WHERE tree_size = 10");
  const auto pos = note.rfind(' ') + 10;  // inside the base64 signature
  note[pos] = note[pos] == 'A' ? 'B' : 'A';
  setText("UPDATE audit_checkpoints SET note = ? WHERE tree_size = 10", note);
  auto r = verify();
  EXPECT_EQ(r.status, cli::kAuditMismatch) << r.out;
  EXPECT_THAT(r.out, HasSubstr("checkpoint that does not match: tree size 10"));
}

TEST_F(AuditVerifyTest, TheWrongVerifierKeyFailsEveryCheckpoint) {
  auto other = SignerKey::generate("test.example/audit");
  ASSERT_TRUE(other);
  auto r = verify(other->verifierKey().text());
  EXPECT_EQ(r.status, cli::kAuditMismatch);
  EXPECT_THAT(r.out, HasSubstr("tree size 10"));
}

TEST_F(AuditVerifyTest, PublishedCopiesCatchALogRewrittenWithoutItsCheckpoints) {
  // The daemon published each checkpoint to data/../published.
  const auto published = dir / "published";
  ASSERT_TRUE(std::filesystem::exists(published / "checkpoint-00000000000000000020.txt"));
  EXPECT_EQ(verify("", published).status, cli::kAuditVerified);
  // Rewrite history: drop entries from 15 on and every stored checkpoint,
  // and make the tree state match. The store alone now looks consistent.
  openStore();
  store::StoreLeafHashSource source(*store, 15);
  auto f = frontierOf(source, 15);
  ASSERT_TRUE(f);
  closeStore();
  sql("DELETE FROM audit_log WHERE seq >= 15; DELETE FROM audit_checkpoints;");
  setText("UPDATE audit_state SET size = 15, frontier = ? WHERE id = 1", f->toBytes(), true);
  openStore();
  auto key = VerifierKey::parse(publicKey);
  ASSERT_TRUE(key);
  auto alone = verifyAuditLog(*store, *key);
  ASSERT_TRUE(alone);
  EXPECT_TRUE(alone->intact);
  EXPECT_EQ(alone->covered, 0u);
  closeStore();
  auto withCopies = verify("", published);
  EXPECT_EQ(withCopies.status, cli::kAuditMismatch) << withCopies.out;
  EXPECT_THAT(withCopies.out, HasSubstr("published checkpoint"));
  EXPECT_THAT(withCopies.out, HasSubstr("first entry that does not match: 15"));
}

TEST_F(AuditVerifyTest, VerifyIsAudited) {
  ASSERT_EQ(verify().status, cli::kAuditVerified);
  openStore();
  auto rows = store->auditEntries(25, 10);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].action, action::kViewed);
  EXPECT_EQ((*rows)[0].actor, "person:auditor-1");
  EXPECT_THAT((*rows)[0].entry, HasSubstr("carebridge audit verify"));
}

TEST_F(AuditVerifyTest, VerifyReportsProgressOnLargeLogs) {
  openStore();
  auto key = VerifierKey::parse(publicKey);
  ASSERT_TRUE(key);
  std::vector<std::uint64_t> seen;
  LogVerifyOptions o;
  o.progress = [&seen](std::uint64_t done, std::uint64_t) { seen.push_back(done); };
  auto r = verifyAuditLog(*store, *key, o);
  ASSERT_TRUE(r && r->intact);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), 25u);
}

// ---- proofs ----------------------------------------------------------------

class AuditProofTest : public AuditVerifyTest {
 protected:
  CliRun prove(std::uint64_t entry, std::optional<std::uint64_t> checkpoint) {
    std::ostringstream out, err;
    const int s = cli::auditProve(ctx, entry, checkpoint, out, err);
    return {s, out.str(), err.str()};
  }
  CliRun consistency(std::uint64_t from, std::uint64_t to) {
    std::ostringstream out, err;
    const int s = cli::auditConsistency(ctx, from, to, "", out, err);
    return {s, out.str(), err.str()};
  }
  CliRun verifyProof(const std::string& proof, const std::string& key, const std::string& entry = "") {
    cb::test::writeFile(dir / "proof.txt", proof);
    std::filesystem::path entryFile;
    if (!entry.empty()) {
      entryFile = dir / "entry.json";
      cb::test::writeFile(entryFile, entry);
    }
    std::ostringstream out, err;
    const int s = cli::auditVerifyProof(key, dir / "proof.txt", entryFile, out, err);
    return {s, out.str(), err.str()};
  }
};

TEST_F(AuditProofTest, InclusionProofsFromProveVerifyStandalone) {
  for (std::uint64_t entry : {0u, 5u, 9u, 19u}) {
    auto p = prove(entry, 20);
    ASSERT_EQ(p.status, 0) << p.err;
    auto v = verifyProof(p.out, publicKey);
    EXPECT_EQ(v.status, 0) << v.out << v.err;
    EXPECT_THAT(v.out, HasSubstr("verified: entry " + std::to_string(entry) + " "));
    EXPECT_THAT(v.out, HasSubstr("at tree size 20"));
  }
  // The default checkpoint is the newest; the key may come from a file.
  auto p = prove(24, std::nullopt);
  ASSERT_EQ(p.status, 0) << p.err;
  EXPECT_EQ(verifyProof(p.out, (dir / "signing.key.pub").string()).status, 0);
}

TEST_F(AuditProofTest, TheProvenEntryCanBeCheckedByItsBytes) {
  auto p = prove(6, 10);
  ASSERT_EQ(p.status, 0) << p.err;
  const std::string entry6 = textAt("SELECT entry FROM audit_log WHERE seq = 6");
  const std::string entry7 = textAt("SELECT entry FROM audit_log WHERE seq = 7");
  EXPECT_EQ(verifyProof(p.out, publicKey, entry6).status, 0);
  auto wrong = verifyProof(p.out, publicKey, entry7);
  EXPECT_EQ(wrong.status, cli::kAuditMismatch);
  EXPECT_THAT(wrong.out, HasSubstr("is not the entry the proof is about"));
}

TEST_F(AuditProofTest, AlteredProofsOrTheWrongKeyDoNotVerify) {
  auto p = prove(5, 20);
  ASSERT_EQ(p.status, 0);
  // Change one hex digit of the first path hash.
  std::string altered = p.out;
  const auto at = altered.find("\npath ") + 6;
  altered[at] = altered[at] == '0' ? '1' : '0';
  EXPECT_EQ(verifyProof(altered, publicKey).status, cli::kAuditMismatch);
  // Claim another index.
  std::string moved = p.out;
  moved.replace(moved.find("index 5\n"), 8, "index 4\n");
  EXPECT_EQ(verifyProof(moved, publicKey).status, cli::kAuditMismatch);
  auto other = SignerKey::generate("test.example/audit");
  ASSERT_TRUE(other);
  auto v = verifyProof(p.out, other->verifierKey().text());
  EXPECT_EQ(v.status, cli::kAuditMismatch);
  EXPECT_THAT(v.out, HasSubstr("PROOF DOES NOT VERIFY"));
}

TEST_F(AuditProofTest, ConsistencyProofsVerifyStandalone) {
  for (auto [from, to] : {std::pair<std::uint64_t, std::uint64_t>{10, 20}, {10, 25}, {20, 25}, {25, 25}}) {
    auto c = consistency(from, to);
    ASSERT_EQ(c.status, 0) << c.err;
    EXPECT_THAT(c.err, HasSubstr("checked: the log at tree size " + std::to_string(to)));
    auto v = verifyProof(c.out, publicKey);
    EXPECT_EQ(v.status, 0) << v.out << v.err;
    EXPECT_THAT(v.out, HasSubstr("append-only extension of tree size " + std::to_string(from)));
  }
}

TEST_F(AuditProofTest, NoProofIsIssuedFromATamperedLog) {
  sql("UPDATE audit_log SET seq = -1 WHERE seq = 13; UPDATE audit_log SET seq = 13 WHERE seq = 16; "
      "UPDATE audit_log SET seq = 16 WHERE seq = -1;");
  auto p = prove(5, 20);
  EXPECT_EQ(p.status, cli::kAuditMismatch);
  EXPECT_THAT(p.err, HasSubstr("no proof issued"));
  EXPECT_EQ(consistency(10, 20).status, cli::kAuditMismatch);
}

TEST_F(AuditProofTest, ProveAndConsistencyAreAudited) {
  ASSERT_EQ(prove(3, 10).status, 0);
  ASSERT_EQ(consistency(10, 20).status, 0);
  openStore();
  auto rows = store->auditEntries(25, 10);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_THAT((*rows)[0].entry, HasSubstr("carebridge audit prove"));
  EXPECT_THAT((*rows)[1].entry, HasSubstr("carebridge audit consistency"));
}

TEST_F(AuditProofTest, ProveExplainsWhatIsNotCovered) {
  auto p = prove(25, std::nullopt);
  EXPECT_EQ(p.status, cli::kAuditCannotCheck);
  EXPECT_THAT(p.err, HasSubstr("not covered"));
  EXPECT_EQ(prove(1, 11).status, cli::kAuditCannotCheck);
}

TEST_F(AuditProofTest, TheCommandsAreRegisteredUnderAudit) {
  CLI::App app;
  cli::CliContext c;
  cli::addAuditCommands(app, c);
  auto* audit = app.get_subcommand("audit");
  for (const char* name : {"tail", "keygen", "verify", "checkpoints", "prove", "consistency", "verify-proof"}) {
    EXPECT_NO_THROW(audit->get_subcommand(name)) << name;
  }
  auto p = prove(2, 10);
  cb::test::writeFile(dir / "p.txt", p.out);
  const std::string proofPath = (dir / "p.txt").string();
  try {
    app.parse("audit verify-proof --key " + publicKey + " --proof " + proofPath, false);
    FAIL() << "the command did not report its exit status";
  } catch (const CLI::RuntimeError& e) {
    EXPECT_EQ(e.get_exit_code(), 0);
  }
}

// ---- schema migration --------------------------------------------------------

TEST_F(AuditLogTest, AVersion1StoreIsMigratedToVersion2KeepingItsLog) {
  append(12);
  closeStore();
  // What a version-1 carebridged left: no checkpoint table (nor what
  // version 3 added), user_version 1.
  sql("DROP TABLE audit_checkpoints; DROP TABLE audit_export_cursors; DROP INDEX audit_by_agreement; "
      "DROP INDEX audit_by_purpose; DROP INDEX audit_by_decision; DROP INDEX audit_by_subject_unlinked; "
      "DROP TABLE audit_subject_messages; "
      "DROP INDEX audit_by_time; DROP INDEX audit_by_action; DROP INDEX audit_by_source_org; "
      "DROP INDEX audit_by_destination_org; ALTER TABLE audit_log DROP COLUMN agreement; "
      "ALTER TABLE audit_log DROP COLUMN purpose; ALTER TABLE audit_log DROP COLUMN decision; "
      "PRAGMA user_version = 1;");
  openStore();
  EXPECT_EQ(*store->auditSize(), 12);
  auto cp = checkpointer();
  ASSERT_TRUE(cp);
  auto signedCp = cp->tick();
  ASSERT_TRUE(signedCp && *signedCp) << (signedCp ? "" : signedCp.error().message);
  EXPECT_EQ((*signedCp)->checkpoint.size, 12u);
  closeStore();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dbPath().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), store::kSchemaVersion);
  EXPECT_EQ(store::kSchemaVersion, 5);
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_EQ(verify().status, cli::kAuditVerified);
}

TEST_F(AuditLogTest, TheStoreRefusesCheckpointsThatDoNotMoveForwardOrClaimTooMuch) {
  append(5);
  auto cp = checkpointer();
  ASSERT_TRUE(cp);
  auto first = cp->tick();
  ASSERT_TRUE(first && *first);
  store::AuditCheckpointRow row;
  row.tree_size = 5;
  row.root = (*first)->checkpoint.root;
  row.note = (*first)->note;
  EXPECT_FALSE(store->appendAuditCheckpointSync(row));  // same size again
  row.tree_size = 6;
  EXPECT_FALSE(store->appendAuditCheckpointSync(row));  // beyond the log
  append(1);
  EXPECT_FALSE(store->appendAuditCheckpointSync(row));  // the wrong root for size 6
  auto all = store->auditCheckpoints(0, 10);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 1u);
}

// ---- [audit] configuration ---------------------------------------------------

TEST_F(AuditLogTest, AuditConfigurationIsValidated) {
  auto c = config();
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->audit.signing());
  EXPECT_EQ(c->audit.checkpoint_every, 10u);
  EXPECT_EQ(c->audit.checkpoint_interval, std::chrono::minutes(10));
  EXPECT_EQ(*c->audit.publish_dir, dir / "published");

  auto load = [this](const std::string& audit) {
    return config::loadFromString("[daemon]\ndata_dir = \"data\"\n[audit]\n" + audit, "t.toml", dir.path());
  };
  auto missing = load("signing_key = \"nope.key\"\n");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("t.toml:4: audit.signing_key: cannot read file"));
  auto unknown = load("signing_key = \"signing.key\"\ncheckpoint_evry = 5\n");
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message, HasSubstr("t.toml:5: audit.checkpoint_evry: unknown key"));
  auto noKey = load("publish_syslog = true\n");
  ASSERT_FALSE(noKey);
  EXPECT_THAT(noKey.error().message, HasSubstr("set signing_key"));
  auto tooOften = load("signing_key = \"signing.key\"\ncheckpoint_interval = \"10ms\"\n");
  EXPECT_FALSE(tooOften);
  EXPECT_TRUE(load("checkpoint_every = 5\n"));  // no signing: nothing else required
}

}  // namespace
}  // namespace cb::audit::testing
