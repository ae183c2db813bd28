#pragma once
// What every `carebridge` subcommand needs: the daemon's configuration (to
// find the store) and who is running the command (for the audit trail).

#include "audit/audit_event.h"
#include "common/result.h"
#include "config/config.h"
#include "store/store.h"

#include <memory>
#include <string>

namespace cb::cli {

struct CliContext {
  std::string config_file = "/etc/carebridge/carebridge.toml";
  std::string user;  ///< --as, else $SUDO_USER, else $USER

  /// Loads the configuration (errors name file:line).
  Result<std::shared_ptr<const config::Config>> config() const;
  /// Opens the daemon's store (the daemon may be running: SQLite WAL lets
  /// both use it; writes from here are picked up by the daemon within a second).
  Result<std::unique_ptr<store::Store>> openStore() const;
  /// The person running the command, as an audit actor with `role`.
  audit::Actor actor(const std::string& role) const;
};

}  // namespace cb::cli
