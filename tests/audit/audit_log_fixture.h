#pragma once
// A real audit log for the tests of checkpoints, verification and proofs: a
// temp folder with a carebridge.toml ([daemon] + [audit]), a signing key made
// by `carebridge audit keygen`, a SQLite store with entries appended through
// the store's own writer, and direct SQL access to tamper with the file the
// way someone with write access to it could.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>

#include "audit/checkpointer.h"
#include "cli/audit_verify_command.h"
#include "cli/cli_context.h"
#include "common/clock.h"
#include "store/store.h"
#include "support/test_support.h"

namespace cb::audit::testing {

/// 2026-01-05T09:00:00Z, the fake clock's start.
inline constexpr std::int64_t kStartMs = 1767603600000;

class AuditLogTest : public ::testing::Test {
 protected:
  cb::test::TempDir dir;
  FakeClock clock{kStartMs};
  std::unique_ptr<store::Store> store;
  std::string publicKey;  ///< the verifier key string
  cli::CliContext ctx;

  void SetUp() override {
    std::ostringstream out, err;
    ASSERT_EQ(cli::auditKeygen(dir / "signing.key", "test.example/audit", out, err), 0) << err.str();
    publicKey = out.str();
    while (!publicKey.empty() && publicKey.back() == '\n') publicKey.pop_back();
    writeConfig("checkpoint_interval = \"10m\"\ncheckpoint_every = 10\npublish_dir = \"published\"\n");
    ctx.config_file = (dir / "carebridge.toml").string();
    ctx.user = "auditor-1";
    openStore();
  }

  void writeConfig(const std::string& auditExtra) {
    cb::test::writeFile(dir / "carebridge.toml", "[daemon]\ndata_dir = \"data\"\n\n[audit]\nsigning_key = \"signing.key\"\n"
                                                 "verifier_key = \"signing.key.pub\"\n" + auditExtra);
  }

  std::filesystem::path dbPath() const { return dir / "data/carebridge.db"; }

  void openStore() {
    std::filesystem::create_directories(dir / "data");
    store::StoreOptions o;
    o.path = dbPath();
    o.synchronous_full = false;
    auto s = store::Store::open(o);
    ASSERT_TRUE(s) << s.error().message;
    store = std::move(*s);
  }
  void closeStore() { store.reset(); }

  std::shared_ptr<const config::Config> config() {
    auto c = ctx.config();
    EXPECT_TRUE(c) << c.error().message;
    return c ? *c : nullptr;
  }

  std::unique_ptr<Checkpointer> checkpointer() {
    auto c = Checkpointer::create(config()->audit, *store, clock);
    EXPECT_TRUE(c) << c.error().message;
    return c ? std::move(*c) : nullptr;
  }

  /// Appends `n` varied entries (as the pipeline would write them).
  void append(int n) {
    std::vector<AuditEvent> events;
    const auto base = store->auditSize();
    for (int i = 0; i < n; ++i) {
      const auto k = *base + i;
      AuditEvent e;
      e.time_ms = kStartMs + k * 1000;
      e.actor = Actor::adapter("in-rio", "RAT");
      e.action = k % 3 == 0 ? action::kReceived : k % 3 == 1 ? action::kDecided : action::kDeliveryAttempt;
      e.outcome = outcome::kSuccess;
      e.message_id = "0190a1b2-0000-7000-8000-" + std::to_string(100000000000 + k);
      e.record_type = "SafeguardingEnquiry";
      e.source_org = "RAT";
      e.destination_org = k % 2 == 0 ? "00K" : "";
      e.subject_key = "subject-" + std::to_string(k % 7);
      e.payload_sha256 = std::string(64, 'a');
      e.with("entry", std::to_string(k));
      events.push_back(std::move(e));
    }
    auto s = store->auditSync(std::move(events));
    ASSERT_TRUE(s) << s.error().message;
  }

  /// Appends entries and has the checkpointer sign after each size in
  /// `sizes` (checkpoint_every = 10 makes each due).
  void appendWithCheckpoints(std::initializer_list<int> sizes) {
    auto cp = checkpointer();
    ASSERT_TRUE(cp);
    for (int size : sizes) {
      append(static_cast<int>(size - *store->auditSize()));
      clock.advance(std::chrono::minutes(11));
      auto r = cp->tick();
      ASSERT_TRUE(r) << r.error().message;
      ASSERT_TRUE(*r) << "no checkpoint signed at size " << size;
    }
  }

  // ---- direct SQL on the store file (the store must be closed) ----

  void sql(const std::string& statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dbPath().c_str(), &db), SQLITE_OK);
    char* msg = nullptr;
    const int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &msg);
    EXPECT_EQ(rc, SQLITE_OK) << (msg != nullptr ? msg : "") << " in " << statement;
    sqlite3_free(msg);
    sqlite3_close(db);
  }

  std::string textAt(const std::string& query) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(dbPath().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, query.c_str(), -1, &st, nullptr), SQLITE_OK) << query;
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW) {
      const auto* p = static_cast<const char*>(sqlite3_column_blob(st, 0));
      out.assign(p == nullptr ? "" : p, static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }

  void setText(const std::string& statement, const std::string& value, bool blob = false) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dbPath().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, statement.c_str(), -1, &st, nullptr), SQLITE_OK) << statement;
    if (blob) {
      sqlite3_bind_blob(st, 1, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_text(st, 1, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    }
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }

  struct CliRun {
    int status;
    std::string out;
    std::string err;
  };
  CliRun verify(const std::string& key = "", const std::filesystem::path& published = {}) {
    std::ostringstream out, err;
    const int s = cli::auditVerify(ctx, key, published, out, err);
    return {s, out.str(), err.str()};
  }
};

}  // namespace cb::audit::testing
