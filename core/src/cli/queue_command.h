#pragma once
// `carebridge queue list|show|replay`: the operator's view of deliveries
// waiting, failed (the dead-letter queue) or held, and replay of dead letters.

#include "cli/cli_context.h"

namespace CLI {
class App;
}

namespace cb::cli {

void addQueueCommands(CLI::App& app, CliContext& ctx);

}  // namespace cb::cli
