#include "store/sqlite.h"

#include "store/wal_write_buffer.h"

#include <sqlite3.h>

namespace cb::store {
namespace {

// Debian builds SQLite with memory statistics on (SQLITE_DEFAULT_MEMSTATUS=1)
// and without lookaside, so every allocation SQLite makes (several per
// statement step) also takes a process-wide mutex to count it. carebridge
// never reads those counters (sqlite3_memory_used, sqlite3_status), so they
// are switched off before the first connection initialises the library
// (https://sqlite.org/c3ref/c_config_covering_index_scan.html#sqliteconfigmemstatus).
// sqlite3_config fails harmlessly (SQLITE_MISUSE) if the library was already
// initialised, e.g. by a program embedding this one; nothing else depends on it.
void configureSqliteOnce() {
  static const int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)rc;
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::open(const std::filesystem::path& path, const Options& options) {
  configureSqliteOnce();
  std::unique_ptr<Connection> c(new Connection());
  c->path_ = path;
  const int flags = (options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) |
                    SQLITE_OPEN_NOMUTEX;
  const char* vfs = options.buffer_wal_writes && !options.read_only ? walWriteBufferVfs() : nullptr;
  if (sqlite3_open_v2(path.c_str(), &c->db_, flags, vfs) != SQLITE_OK) {
    std::string msg = c->db_ != nullptr ? sqlite3_errmsg(c->db_) : "out of memory";
    return fail(path.string() + ": cannot open the store: " + msg);
  }
  sqlite3_extended_result_codes(c->db_, 1);
  sqlite3_busy_timeout(c->db_, options.busy_timeout_ms);
  std::string pragmas = "PRAGMA foreign_keys=ON;";
  if (!options.read_only) {
    // WAL: readers never block the writer and vice versa; one fsync per
    // commit of the WAL rather than per page (https://sqlite.org/wal.html).
    // A new store gets SQLite's default 4 KiB pages (no effect on an
    // existing file). A commit writes every page it changed whole to the
    // WAL, and most of the pages a commit changes are index leaves with a
    // few new small entries (the keyed person hash is a random key), so
    // smaller pages mean fewer bytes per commit and a shorter fsync. A
    // record of a few KiB spills into an overflow page, which costs less
    // than it saves: 8 KiB pages held one 4 KiB record each, half empty.
    // bench/pipeline/run: p99 after warm-up at 2,000 records/s 12.0 and
    // 12.4 ms against 14.0 and 13.9 ms with 8 KiB, a quarter less disk.
    pragmas += "PRAGMA page_size=4096;";
    pragmas += "PRAGMA journal_mode=WAL;";
    pragmas += options.synchronous_full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;";
    // Each record touches the messages, deliveries and audit_log tables and
    // their indexes several times; the default 2 MiB page cache makes the
    // writer reread index pages it has just written. 16 MiB keeps the hot
    // right-hand edges of every index in memory.
    pragmas += "PRAGMA cache_size=-16384;";
    // Checkpoint the WAL back into the database every 8192 pages (32 MiB)
    // rather than every 1000: a page rewritten by many commits in between
    // (the right-hand edges of the indexes) is then copied back once. The
    // daemon's writer replaces this with a background checkpointer
    // (Store::open); the CLI's occasional writes keep it.
    pragmas += "PRAGMA wal_autocheckpoint=8192;";
  }
  if (auto s = c->exec(pragmas); !s) return fail(path.string() + ": " + s.error().message);
  return c;
}

Connection::~Connection() {
  cache_.clear();
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Status Connection::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string s(sql);
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return fail("SQLite: " + msg);
  }
  return {};
}

Result<Statement*> Connection::prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->reset();
    return it->second.get();
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
      SQLITE_OK) {
    return fail("SQLite: cannot prepare: " + std::string(sqlite3_errmsg(db_)));
  }
  auto owned = std::make_unique<Statement>(*this, stmt, std::string(sql));
  Statement* raw = owned.get();
  cache_.emplace(std::string(sql), std::move(owned));
  return raw;
}

std::int64_t Connection::lastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
int Connection::changes() const { return sqlite3_changes(db_); }
std::string Connection::errorMessage() const { return sqlite3_errmsg(db_); }

std::int64_t Connection::dataVersion() {
  auto st = prepare("PRAGMA data_version");
  if (!st) return -1;
  auto row = (*st)->step();
  if (!row || !*row) return -1;
  std::int64_t v = (*st)->columnInt(0);
  (*st)->reset();
  return v;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = 0;
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  if (int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  if (int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      rc != SQLITE_OK) {
    bind_error_ = rc;
  }
  return *this;
}

Statement& Statement::bindBlob(int index, std::string_view bytes) {
  // A zero-length blob must still be a blob, not NULL.
  if (int rc = sqlite3_bind_blob64(stmt_, index, bytes.empty() ? "" : bytes.data(), bytes.size(), SQLITE_TRANSIENT);
      rc != SQLITE_OK) {
    bind_error_ = rc;
  }
  return *this;
}

Statement& Statement::bindNull(int index) {
  if (int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::bindOptional(int index, const std::optional<std::string>& text) {
  return text ? bind(index, *text) : bindNull(index);
}

Result<bool> Statement::step() {
  if (bind_error_ != 0) return fail("SQLite: bind failed (" + std::string(sqlite3_errstr(bind_error_)) + ")");
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string msg = "SQLite: " + conn_.errorMessage();
  sqlite3_reset(stmt_);
  return fail(msg);
}

Status Statement::run() {
  auto r = step();
  if (!r) return r.error();
  sqlite3_reset(stmt_);
  return {};
}

std::int64_t Statement::columnInt(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Statement::columnText(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::string Statement::columnBlob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  if (p == nullptr) return {};
  return std::string(static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

bool Statement::columnIsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

}  // namespace cb::store
