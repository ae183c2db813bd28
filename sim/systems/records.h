#pragma once
// Synthetic records in each seed system's own wire format (see
// mappings/<system>/README.md and samples/): what RiO, Carenotes, Mosaic,
// Liquidlogic LAS, AIS and a FHIR UK Core server send. Each record is made
// from a synthetic person (person.h) and draws of its own, both fixed by the
// seed, so the same seed, system, kind and sequence number always give the
// same bytes. Free text includes characters that need escaping in each
// format (& < > " ' , ; |) so that what carebridge reads exercises its codecs.

#include "systems/person.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cb::sim {

/// The seed systems carebridge has mappings for.
enum class SeedSystem { Rio, Carenotes, Mosaic, Las, Ais, UkCore };

/// "rio", "carenotes", "mosaic", "las", "ais", "ukcore" (the mapping folder names).
std::string_view systemName(SeedSystem s);
std::optional<SeedSystem> systemFromName(std::string_view name);
/// Every seed system, in the order above.
const std::vector<SeedSystem>& allSeedSystems();

/// A kind of record a system sends, e.g. RiO's "adt-a28" or Mosaic's "referral".
struct RecordKind {
  std::string name;         ///< what the simulator's --types option calls it
  std::string record_type;  ///< the canonical record type it translates to
};

/// Every kind of record `system` sends, in a fixed order.
const std::vector<RecordKind>& recordKinds(SeedSystem system);

/// One generated record.
struct SyntheticRecord {
  SeedSystem system = SeedSystem::Rio;
  std::string kind;          ///< RecordKind::name
  std::string record_type;   ///< RecordKind::record_type
  std::string source_id;     ///< the record id inside it (MSH-10, RecordID, Bundle identifier, ...)
  std::string nhs_number;    ///< the person's (ten digits)
  std::uint64_t person = 0;  ///< the person's index
  std::string bytes;         ///< the record as the system writes it
  std::string content_type;  ///< e.g. application/hl7-v2, application/xml, text/csv, application/fhir+json
  std::string file_name;     ///< a file name in the system's export style (file-based systems)
  std::string fhir_type;     ///< FHIR systems: the resourceType to POST to ([base]/[type])
  std::string message_type;  ///< HL7 v2: MSH-9, e.g. "ADT^A28"
};

/// Makes records for one system from one seed.
class RecordGenerator {
 public:
  /// `persons` people (at least 1) take turns; `kinds` empty means every kind
  /// of the system. Throws std::invalid_argument naming an unknown kind.
  RecordGenerator(SeedSystem system, std::uint64_t seed, std::uint64_t persons, std::vector<std::string> kinds = {});

  /// Record number `seq` (0-based): kind `kinds[seq % kinds.size()]`, person
  /// drawn from the seed. Pure: the same `seq` always gives the same record.
  SyntheticRecord make(std::uint64_t seq) const;
  /// Record `seq` of a given kind (which must be one of the system's).
  SyntheticRecord make(std::uint64_t seq, const std::string& kind) const;

  SeedSystem system() const { return system_; }
  const std::vector<std::string>& kinds() const { return kinds_; }

 private:
  SeedSystem system_;
  std::uint64_t seed_;
  std::uint64_t persons_;
  std::vector<std::string> kinds_;
};

/// Splits "a,b, c" into {"a","b","c"} (for --types).
std::vector<std::string> splitList(std::string_view text);

}  // namespace cb::sim
