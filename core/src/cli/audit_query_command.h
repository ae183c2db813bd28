#pragma once
// `carebridge audit query|sar|export|purge`: what information governance
// asks of the audit trail (issue #5 items 5-7).
//
//   carebridge audit query [--nhs-number N]... [--local-id SYSTEM:ID]...
//       [--organisation ODS] [--agreement ID] [--purpose P] [--decision D]
//       [--action A] [--from T] [--to T] [--after SEQ] [--limit N]
//       [--format table|csv|json]
//       entries matching every filter given, oldest first; T is a date
//       (2026-01-05), a UTC time (2026-01-05T09:00:00Z) or Unix ms; --to is
//       exclusive. Page with --after (the last seq shown).
//   carebridge audit sar --nhs-number N [--local-id SYSTEM:ID]... [--format text|json]
//       subject access report: every disclosure of the person's records (to
//       whom, when, under which agreement, purpose and lawful basis, what was
//       withheld), then refusals, holds and shares not yet delivered.
//   carebridge audit export --format fhir|atna [--from SEQ] [--limit N]
//       entries as FHIR R4 AuditEvent JSON or IHE ATNA AuditMessage XML, one
//       per line.
//   carebridge audit purge
//       purges payloads of delivered messages older than [audit]
//       payload_retention (or the agreement's period); audit entries stay.
//
// NHS numbers and local ids are hashed with the site key ([store]
// identity_key) before anything is looked up; neither the store nor the
// audit trail ever receives them in the clear. Every command records itself
// in the audit trail (audit.viewed, or record.purged) before it shows
// anything; if that fails it shows nothing (fail closed).

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/cli_context.h"

namespace CLI {
class App;
}

namespace cb::cli {

/// Registers the subcommands above on the `audit` subcommand.
void addAuditQueryCommands(CLI::App& audit, CliContext& ctx);

/// `audit query` arguments.
struct AuditQueryArgs {
  std::vector<std::string> nhs_numbers;
  std::vector<std::string> local_ids;  ///< "SYSTEM:ID"
  std::string organisation;
  std::string agreement;
  std::string purpose;
  std::string decision;
  std::string action;
  std::string from;
  std::string to;
  std::int64_t after = -1;
  std::size_t limit = 100;
  std::string format = "table";
};

// The commands as functions (for tests): results on `out`, errors on `err`;
// each returns the exit status (0 ok, 1 error).
int auditQuery(const CliContext& ctx, const AuditQueryArgs& args, std::ostream& out, std::ostream& err);
int auditSar(const CliContext& ctx, const std::string& nhs_number, const std::vector<std::string>& local_ids,
             const std::string& format, std::ostream& out, std::ostream& err);
int auditExport(const CliContext& ctx, const std::string& format, std::int64_t from, std::size_t limit,
                std::ostream& out, std::ostream& err);
int auditPurge(const CliContext& ctx, std::ostream& out, std::ostream& err);

/// Parses a --from/--to value to Unix ms: "2026-01-05", "2026-01-05T09:00:00Z"
/// (optionally with .mmm), or an integer of ms.
std::optional<std::int64_t> parseQueryTime(const std::string& text);

}  // namespace cb::cli
