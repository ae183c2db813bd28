// carebridge: the command-line tool for operators, integration engineers and
// information governance. Each subcommand family lives in its own file.
#include "cli/agreement_command.h"
#include "cli/audit_command.h"
#include "cli/cli_context.h"
#include "cli/holds_command.h"
#include "cli/map_command.h"
#include "cli/queue_command.h"
#include "xml/safe_xml.h"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  cb::xml::init();
  CLI::App app{"carebridge: operate and inspect carebridged"};
  cb::cli::CliContext ctx;
  app.add_option("-c,--config", ctx.config_file, "carebridged's configuration file")->capture_default_str();
  app.add_option("--as", ctx.user, "your user name for the audit trail (default: $SUDO_USER or $USER)");
  app.require_subcommand(1);
  cb::cli::addQueueCommands(app, ctx);
  cb::cli::addHoldsCommands(app, ctx);
  cb::cli::addAuditCommands(app, ctx);
  cb::cli::addMapCommands(app);
  cb::cli::addAgreementCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
