#pragma once
// `carebridge map`: try mapping files by hand and run a system's golden cases.
//
//   carebridge map --mapping mappings/example/enquiry-in.xml --in record.xml
//       prints the translated record (canonical for an inbound mapping, the
//       partner's document for an outbound one) or the precise refusal
//       (file:line, field, reason) on stderr, exit status 1.
//   carebridge map test mappings/example
//       loads the system's mapping set and runs every case under
//       mappings/example/golden/, one PASS/FAIL line each; exit status 1 if
//       any case fails, 2 if the set or the cases cannot be loaded.
//
// Both find the schemas (schema/mapping.xsd, schema/code-table.xsd,
// canonical/canonical.xsd) in --schemas DIR, or else in the parent of the
// system directory (the repository's and the installed layout).
// Exit statuses are raised as CLI::RuntimeError, which CLI::App::exit turns
// into the process exit code.

namespace CLI {
class App;
}

namespace cb::cli {

/// Registers the `map` subcommand (and its `test` subcommand) on `app`.
/// The options live as long as `app`.
void addMapCommands(CLI::App& app);

}  // namespace cb::cli
