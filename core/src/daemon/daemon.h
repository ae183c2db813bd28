#pragma once
// carebridged: the long-running daemon. Owns the store, the adapters (one
// plugin instance per configured adapter), the pipeline stages and the
// admin listener, and ties them to the process's life:
//
//   start:   config -> store -> plugins -> adapters -> recover -> ready
//   SIGHUP:  build a whole new configuration, adapters and routes beside the
//            running ones; swap them in at once, or keep the old and say why
//   SIGTERM: stop dispatching, drain in-flight deliveries, stop adapters
//            (finishing their in-flight receipts), route what was received,
//            record the stop in the audit trail, exit 0
//
// systemd: Type=notify (READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1 via
// sd_notify, see systemd.service(5) and sd_notify(3)).

#include "common/result.h"

#include <filesystem>
#include <memory>
#include <string>

namespace cb::daemon {

struct DaemonOptions {
  std::filesystem::path config_file;
};

/// Validates a configuration without starting anything: the file, every
/// adapter's plugin and settings, TLS files. Returns a report for the
/// operator (what is wrong, file:line), or a one-line summary if all is well.
Result<std::string> checkConfig(const std::filesystem::path& config_file);

/// Runs the daemon until SIGTERM/SIGINT. Returns the process exit code.
int run(const DaemonOptions& options);

}  // namespace cb::daemon
