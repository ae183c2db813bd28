#pragma once
// A thin RAII layer over the SQLite C API: a connection and prepared
// statements with typed bind and column helpers. No exceptions: every call
// returns a Result or Status naming the SQL and SQLite's message.

#include "common/result.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace cb::store {

class Statement;

/// One SQLite connection. Not thread-safe: each thread that touches the
/// database owns its own connection (WAL lets readers run beside the writer).
class Connection {
 public:
  struct Options {
    bool read_only = false;
    bool synchronous_full = true;  ///< PRAGMA synchronous=FULL: a commit survives power loss
    int busy_timeout_ms = 10000;   ///< wait this long for another process's write lock
    /// Gather WAL frames into large writes (wal_write_buffer.h); for the
    /// connection that commits most, the store's writer.
    bool buffer_wal_writes = false;
  };
  static Result<std::unique_ptr<Connection>> open(const std::filesystem::path& path, const Options& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one or more statements without results.
  Status exec(std::string_view sql);
  /// A cached prepared statement for `sql` (prepared once per connection).
  /// OWNERSHIP: the connection owns it; reset() happens on each use.
  Result<Statement*> prepare(std::string_view sql);

  std::int64_t lastInsertRowid() const;
  int changes() const;
  /// PRAGMA data_version: changes when another connection commits (SQLite
  /// "data_version" pragma), so the daemon notices the CLI's writes.
  std::int64_t dataVersion();
  std::string errorMessage() const;
  const std::filesystem::path& path() const { return path_; }
  sqlite3* native() { return db_; }

 private:
  Connection() = default;
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
  // Looked up by string_view (C++20 heterogeneous lookup): the writer runs
  // a dozen cached statements per record, mostly from string literals, and
  // a std::string key would be built (and allocated) for each.
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::unique_ptr<Statement>, SqlHash, std::equal_to<>> cache_;
};

/// A prepared statement. Parameters are 1-based, columns 0-based (SQLite's convention).
class Statement {
 public:
  Statement(Connection& conn, sqlite3_stmt* stmt, std::string sql) : conn_(conn), stmt_(stmt), sql_(std::move(sql)) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& reset();
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bindBlob(int index, std::string_view bytes);
  Statement& bindNull(int index);
  Statement& bindOptional(int index, const std::optional<std::string>& text);

  /// Steps once: true if a row is available, false when done; an error
  /// otherwise (a bind error also surfaces here).
  Result<bool> step();
  /// Runs a statement that returns no rows.
  Status run();

  std::int64_t columnInt(int col) const;
  std::string columnText(int col) const;
  std::string columnBlob(int col) const;
  bool columnIsNull(int col) const;

 private:
  Connection& conn_;
  sqlite3_stmt* stmt_;
  std::string sql_;
  int bind_error_ = 0;
};

}  // namespace cb::store
