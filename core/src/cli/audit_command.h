#pragma once
// `carebridge audit tail`: the latest entries of the audit trail, for
// operators and the demo. (Queries by person, proofs and verification for
// information governance build on the same store.)

#include "cli/cli_context.h"

namespace CLI {
class App;
}

namespace cb::cli {

void addAuditCommands(CLI::App& app, CliContext& ctx);

}  // namespace cb::cli
