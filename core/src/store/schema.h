#pragma once
// The store's SQLite schema and its migrations. The schema version lives in
// PRAGMA user_version; each migration moves it up by one, inside a
// transaction, so an upgrade either completes or leaves the old schema intact.

#include "common/result.h"

namespace cb::store {

class Connection;

/// The version this build writes. A store with a newer version is refused
/// (an older carebridged must not touch a newer daemon's data).
inline constexpr int kSchemaVersion = 5;

/// Creates or upgrades the schema.
Status migrate(Connection& db);

}  // namespace cb::store
