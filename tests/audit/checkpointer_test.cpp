// The checkpoint signer over a real store with a fake clock: it signs when
// the log has grown and the interval has passed or `every` entries were
// added, never over a log that does not extend its last checkpoint, stores
// and publishes each checkpoint, resumes after a restart, and reads its key
// and publishers from [audit].

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "audit/checkpointer.h"
#include "audit_log_fixture.h"

namespace cb::audit::testing {
namespace {

using ::testing::HasSubstr;

class CheckpointerTest : public AuditLogTest {};

TEST_F(CheckpointerTest, SignsAtTheIntervalOnlyWhenTheLogHasGrown) {
  auto cp = checkpointer();
  ASSERT_TRUE(cp && cp->enabled());
  // Nothing to sign in an empty log.
  auto r = cp->tick();
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);

  append(5);
  r = cp->tick();  // the first checkpoint is due at once
  ASSERT_TRUE(r && *r) << (r ? "" : r.error().message);
  EXPECT_EQ((*r)->checkpoint.size, 5u);
  EXPECT_EQ((*r)->checkpoint.origin, "test.example/audit");
  EXPECT_EQ((*r)->checkpoint.time->time_since_epoch().count(), kStartMs / 1000);

  append(3);
  r = cp->tick();
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r) << "signed before the interval";
  clock.advance(std::chrono::minutes(9));
  EXPECT_FALSE(*cp->tick());
  clock.advance(std::chrono::minutes(1));
  r = cp->tick();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->checkpoint.size, 8u);
  EXPECT_EQ((*r)->checkpoint.time->time_since_epoch().count(), kStartMs / 1000 + 600);

  // No growth, no checkpoint, however long it has been.
  clock.advance(std::chrono::hours(5));
  EXPECT_FALSE(*cp->tick());
  EXPECT_EQ(cp->checkpointedSize(), 8u);
}

TEST_F(CheckpointerTest, SignsWhenEnoughEntriesWereAdded) {
  auto cp = checkpointer();
  append(1);
  ASSERT_TRUE(*cp->tick());
  append(9);
  EXPECT_FALSE(*cp->tick()) << "9 new entries are fewer than checkpoint_every = 10";
  append(1);
  auto r = cp->tick();  // no time has passed
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->checkpoint.size, 11u);
}

TEST_F(CheckpointerTest, TheFinalCheckpointCoversAnyGrowth) {
  auto cp = checkpointer();
  append(4);
  ASSERT_TRUE(*cp->tick());
  append(1);
  auto r = cp->signFinal();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->checkpoint.size, 5u);
  EXPECT_FALSE(*cp->signFinal());
}

TEST_F(CheckpointerTest, CheckpointsAreStoredSignedAndPublished) {
  auto cp = checkpointer();
  append(3);
  auto r = cp->tick();
  ASSERT_TRUE(r && *r);
  auto stored = store->latestAuditCheckpoint();
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->tree_size, 3);
  EXPECT_EQ((*stored)->note, (*r)->note);
  EXPECT_EQ((*stored)->time_s, kStartMs / 1000);
  auto verified = verifyCheckpoint((*stored)->note, publicKey);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->root, (*stored)->root);
  // The root is the tree's: MTH over the stored leaves.
  store::StoreLeafHashSource source(*store, 3);
  EXPECT_EQ(*rootOf(source, 3), verified->root);

  const auto published = dir / "published";
  EXPECT_EQ(cb::test::readFile(published / DirectoryPublisher::fileName(3)), (*r)->note);
  EXPECT_EQ(cb::test::readFile(published / "latest.txt"), (*r)->note);
  EXPECT_EQ(DirectoryPublisher::fileName(3), "checkpoint-00000000000000000003.txt");
}

TEST_F(CheckpointerTest, TheSyslogLineCarriesTheWholeNote) {
  auto cp = checkpointer();
  append(2);
  auto r = cp->tick();
  ASSERT_TRUE(r && *r);
  const std::string line = SyslogPublisher::message(**r);
  EXPECT_THAT(line, HasSubstr("carebridge audit checkpoint origin=test.example/audit size=2 root="));
  const auto at = line.find(" note=");
  ASSERT_NE(at, std::string::npos);
  std::string note;
  ASSERT_TRUE(base64Decode(line.substr(at + 6), note));
  EXPECT_EQ(note, (*r)->note);
}

// A publisher that fails until told otherwise.
class FlakyPublisher final : public CheckpointPublisher {
 public:
  explicit FlakyPublisher(std::vector<std::uint64_t>& sizes, bool& up) : sizes_(sizes), up_(up) {}
  std::string describe() const override { return "flaky"; }
  Status publish(const SignedCheckpoint& cp) override {
    if (!up_) return fail("collector down");
    sizes_.push_back(cp.checkpoint.size);
    return {};
  }

 private:
  std::vector<std::uint64_t>& sizes_;
  bool& up_;
};

TEST_F(CheckpointerTest, FailedPublicationsAreRetriedInOrder) {
  auto key = loadSignerKeyFile(dir / "signing.key");
  ASSERT_TRUE(key);
  std::vector<std::uint64_t> sizes;
  bool up = false;
  std::vector<std::unique_ptr<CheckpointPublisher>> pubs;
  pubs.push_back(std::make_unique<FlakyPublisher>(sizes, up));
  auto cp = Checkpointer::create({std::chrono::minutes(10), 2}, std::move(*key), std::move(pubs), *store, clock);
  ASSERT_TRUE(cp) << cp.error().message;
  append(2);
  ASSERT_TRUE(*(*cp)->tick());
  append(2);
  ASSERT_TRUE(*(*cp)->tick());
  EXPECT_EQ((*cp)->pendingPublications(), 2u);
  EXPECT_TRUE(sizes.empty());
  up = true;
  ASSERT_TRUE((*cp)->tick());
  EXPECT_EQ((*cp)->pendingPublications(), 0u);
  EXPECT_EQ(sizes, (std::vector<std::uint64_t>{2, 4}));
}

TEST_F(CheckpointerTest, ResumesAfterARestartFromTheLatestCheckpoint) {
  {
    auto cp = checkpointer();
    append(6);
    ASSERT_TRUE(*cp->tick());
  }
  append(2);  // written while no checkpointer ran
  auto cp = checkpointer();
  ASSERT_TRUE(cp);
  EXPECT_EQ(cp->checkpointedSize(), 6u);
  EXPECT_FALSE(*cp->tick()) << "the interval runs from the stored checkpoint's time";
  clock.advance(std::chrono::minutes(10));
  auto r = cp->tick();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->checkpoint.size, 8u);
}

TEST_F(CheckpointerTest, ARestartWithAnotherKeyIsRefused) {
  {
    auto cp = checkpointer();
    append(2);
    ASSERT_TRUE(*cp->tick());
  }
  auto other = SignerKey::generate("test.example/audit");
  ASSERT_TRUE(other);
  auto cp = Checkpointer::create({}, std::move(*other), {}, *store, clock);
  ASSERT_FALSE(cp);
  EXPECT_THAT(cp.error().message, HasSubstr("does not verify with this key"));
}

TEST_F(CheckpointerTest, NeverSignsOverAnAlteredLog) {
  auto cp = checkpointer();
  append(5);
  ASSERT_TRUE(*cp->tick());
  append(5);
  closeStore();
  std::string entry = textAt("SELECT entry FROM audit_log WHERE seq = 7");
  entry[10] ^= 0x02;
  setText("UPDATE audit_log SET entry = ? WHERE seq = 7", entry);
  openStore();
  cp = checkpointer();
  ASSERT_TRUE(cp);
  clock.advance(std::chrono::hours(1));
  auto r = cp->tick();
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("entry 7 does not match its leaf hash"));
  EXPECT_EQ((*store->latestAuditCheckpoint())->tree_size, 5);
}

TEST_F(CheckpointerTest, RefusesToResumeWhenTheCheckpointedLogWasAltered) {
  {
    auto cp = checkpointer();
    append(4);
    ASSERT_TRUE(*cp->tick());
  }
  append(1);
  closeStore();
  // Rewrite entry 1 together with its leaf hash: only the signed root can tell.
  std::string entry = textAt("SELECT entry FROM audit_log WHERE seq = 1");
  entry[12] ^= 0x04;
  setText("UPDATE audit_log SET entry = ? WHERE seq = 1", entry);
  const Sha256 leaf = leafHash(entry);
  setText("UPDATE audit_log SET leaf_hash = ? WHERE seq = 1", std::string(leaf.begin(), leaf.end()), true);
  openStore();
  auto cp = Checkpointer::create(config()->audit, *store, clock);
  ASSERT_FALSE(cp);
  EXPECT_THAT(cp.error().message, HasSubstr("no longer reproduces its latest signed checkpoint (tree size 4)"));
}

TEST_F(CheckpointerTest, WithoutASigningKeyNothingIsSigned) {
  cb::test::writeFile(dir / "plain.toml", "[daemon]\ndata_dir = \"data\"\n");
  auto c = config::load(dir / "plain.toml");
  ASSERT_TRUE(c);
  auto cp = Checkpointer::create((*c)->audit, *store, clock);
  ASSERT_TRUE(cp);
  EXPECT_FALSE((*cp)->enabled());
  append(3);
  EXPECT_FALSE(*(*cp)->tick());
  EXPECT_FALSE(*(*cp)->signFinal());
}

TEST_F(CheckpointerTest, AnUnsafeOrBrokenKeyFileIsAConfigurationError) {
  std::filesystem::permissions(dir / "signing.key", std::filesystem::perms::group_read |
                                                        std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  auto cp = Checkpointer::create(config()->audit, *store, clock);
  ASSERT_FALSE(cp);
  EXPECT_THAT(cp.error().message, HasSubstr("carebridge.toml:4: audit.signing_key:"));
  EXPECT_THAT(cp.error().message, HasSubstr("chmod 600"));
  std::filesystem::remove(dir / "signing.key");
  cb::test::writeFile(dir / "signing.key", "PRIVATE+KEY+not-a-key\n");
  std::filesystem::permissions(dir / "signing.key", std::filesystem::perms::owner_read |
                                                        std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace);
  cp = Checkpointer::create(config()->audit, *store, clock);
  ASSERT_FALSE(cp);
  EXPECT_THAT(cp.error().message, HasSubstr("audit.signing_key"));
}

TEST_F(CheckpointerTest, KeygenRefusesToReplaceAKey) {
  std::ostringstream out, err;
  EXPECT_EQ(cli::auditKeygen(dir / "signing.key", "x", out, err), cli::kAuditCannotCheck);
  EXPECT_THAT(err.str(), HasSubstr("already exists"));
  EXPECT_EQ(std::filesystem::status(dir / "signing.key").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_TRUE(VerifierKey::parse(publicKey));
}

}  // namespace
}  // namespace cb::audit::testing
