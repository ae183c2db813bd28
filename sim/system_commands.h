#pragma once
// The per-system simulator commands of carebridge-sim (`carebridge-sim rio
// adt`, `carenotes serve`, `mosaic import`, ...; see README.md). Kept apart
// from sim_main.cpp so the generic send/sink commands stay as they were.

#include <functional>

namespace CLI {
class App;
}

namespace cb::sim {

/// Adds one subcommand per seed system to `app`. When the user picks one of
/// them, `chosen` is set (during parsing) to the function that runs it and
/// returns the exit status.
void addSystemCommands(CLI::App& app, std::function<int()>& chosen);

}  // namespace cb::sim
