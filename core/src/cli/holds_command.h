#pragma once
// `carebridge holds list|show|approve|refuse`: disclosures an agreement held
// for a named role to approve (issue #4 "Held disclosures"). Approval
// releases the record to delivery; refusal ends it. Both need a reason, and
// the approver's identity (--as, else $SUDO_USER/$USER) and reason go into
// the audit trail in the same transaction as the change.

#include "cli/cli_context.h"

namespace CLI {
class App;
}

namespace cb::cli {

void addHoldsCommands(CLI::App& app, CliContext& ctx);

}  // namespace cb::cli
