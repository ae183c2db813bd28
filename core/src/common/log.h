#pragma once
// One named spdlog logger per component ("store", "pipeline", "net", ...);
// plugins log through the host as "plugin.<instance>".
//
// Operational logs name message ids, adapter instances and files. They never
// carry record content or identifiers of people (names, NHS numbers, dates of
// birth): what happened to whom is recorded only in the audit trail.

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace cb::log {

/// Configures the sink shared by every component logger (stderr, which
/// systemd's journal captures) and the level. Safe to call again on reload.
void setup(const std::string& level);

/// The logger for a component, created on first use with the shared sink.
std::shared_ptr<spdlog::logger> get(const std::string& component);

/// Parses "trace|debug|info|warn|error|critical|off"; false if unknown.
bool parseLevel(const std::string& name, spdlog::level::level_enum& out);

}  // namespace cb::log
