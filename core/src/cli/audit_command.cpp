#include "cli/audit_command.h"

#include "cli/audit_query_command.h"
#include "cli/audit_verify_command.h"

#include "common/clock.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <iomanip>
#include <iostream>

namespace cb::cli {
namespace {

int tail(const CliContext& ctx, std::size_t limit, bool raw) {
  auto st = ctx.openStore();
  if (!st) {
    std::cerr << st.error().message << "\n";
    return 1;
  }
  auto size = (*st)->auditSize();
  if (!size) {
    std::cerr << size.error().message << "\n";
    return 1;
  }
  const std::int64_t from = std::max<std::int64_t>(0, *size - static_cast<std::int64_t>(limit));
  auto rows = (*st)->auditEntries(from, limit);
  if (!rows) {
    std::cerr << rows.error().message << "\n";
    return 1;
  }
  // Showing the trail is itself recorded (who looked at what).
  audit::AuditEvent e;
  e.actor = ctx.actor("operator");
  e.action = audit::action::kViewed;
  e.outcome = audit::outcome::kSuccess;
  e.with("via", "carebridge audit tail").with("from", std::to_string(from)).with("count", std::to_string(rows->size()));
  if (auto s = (*st)->auditSync({std::move(e)}); !s) {
    std::cerr << "refusing to show the audit trail: the view could not be audited: " << s.error().message << "\n";
    return 1;
  }
  for (const auto& r : *rows) {
    if (raw) {
      std::cout << r.seq << " " << r.entry << "\n";
      continue;
    }
    std::cout << std::left << std::setw(6) << r.seq << " " << formatUtc(r.time_ms) << "  " << std::setw(22) << r.action
              << " " << std::setw(8) << r.outcome << " " << std::setw(28) << r.actor << " "
              << (r.message_id.empty() ? "-" : r.message_id);
    if (!r.destination_org.empty()) std::cout << " -> " << r.destination_org;
    std::cout << "\n";
  }
  std::cout << "audit trail: " << *size << " entries (showing " << rows->size() << ")\n";
  return 0;
}

}  // namespace

void addAuditCommands(CLI::App& app, CliContext& ctx) {
  auto* audit = app.add_subcommand("audit", "The audit trail");
  audit->require_subcommand(1);
  auto limit = std::make_shared<std::size_t>(20);
  auto raw = std::make_shared<bool>(false);
  auto* t = audit->add_subcommand("tail", "Show the latest entries");
  t->add_option("-n,--limit", *limit, "how many")->capture_default_str();
  t->add_flag("--raw", *raw, "print each entry's canonical bytes (the Merkle leaf)");
  t->callback([&ctx, limit, raw] { throw CLI::RuntimeError(tail(ctx, *limit, *raw)); });
  addAuditVerifyCommands(*audit, ctx);
  addAuditQueryCommands(*audit, ctx);
}

}  // namespace cb::cli
