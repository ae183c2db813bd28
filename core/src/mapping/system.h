#pragma once
// One system's mappings together with its wire formats: what the translate
// and render stages of the pipeline call.
//
// A system folder (mappings/<system>/) holds the mapping files and code
// tables a MappingSet loads, plus a manifest, system.toml, saying which wire
// formats the system sends (inbound, selected by content type) and which one
// it expects (outbound). The manifest is documented in mappings/README.md:
//
//   system = "rio"
//   description = "RiO (NELFT, Oxleas): ADT demographics and the safeguarding export"
//   max_bytes = 16777216                       # optional, input size limit
//   [[inbound]]
//   format = "hl7v2-er7"
//   content_types = ["application/hl7-v2", "x-application/hl7-v2+er7"]
//   [[inbound]]
//   format = "xml"
//   content_types = ["application/xml", "text/xml"]
//   [outbound]
//   format = "hl7v2-er7"
//   content_type = "application/hl7-v2"
//
// Formats: xml, fhir-json, fhir-xml, hl7v2-er7, csv. Every format is brought
// to XML by its codec (core/src/codec) with the codec's hostile-input limits
// (no DTDs, no entities, no network, size and depth bounds), the XML goes
// through the mapping engine, and the result is written back by the codec.
// Errors name the mapping file and line, the field and the reason, or the
// codec's position, and never a value from the record, so they may be logged
// and used as a quarantine reason.
//
// Immutable after load; toCanonical and fromCanonical are const and
// thread-safe. A reload loads a new SystemMappings beside the old one and
// swaps the shared_ptr.

#include "common/result.h"
#include "mapping/mapping.h"
#include "xml/safe_xml.h"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct _xmlDoc;

namespace cb::mapping {

/// A wire format a system speaks.
enum class WireFormat {
  Xml,       ///< the system's own XML (the engine reads it as is)
  FhirJson,  ///< FHIR R4 JSON (codec_fhir), application/fhir+json
  FhirXml,   ///< FHIR R4 XML (codec_fhir), application/fhir+xml
  Hl7v2Er7,  ///< HL7 v2 pipe-delimited messages (codec_hl7v2, v2.xml form)
  Csv,       ///< CSV with a header row, one record per file (codec_csv)
};
/// The manifest's name for a format: "xml", "fhir-json", "fhir-xml", "hl7v2-er7", "csv".
std::string_view toString(WireFormat f);
/// Reads a manifest format name; nullopt for anything else.
std::optional<WireFormat> wireFormatFromString(std::string_view name);

/// One inbound format of a system and the content types that select it.
struct InboundFormat {
  WireFormat format = WireFormat::Xml;
  std::vector<std::string> content_types;  ///< lower case media types, no parameters
  char csv_delimiter = ',';                ///< csv only
};

/// The outbound format of a system.
struct OutboundFormat {
  WireFormat format = WireFormat::Xml;
  std::string content_type;    ///< sent with every rendered record
  char csv_delimiter = ',';    ///< csv only
  bool pretty = false;         ///< xml and fhir-json: indent the output
};

/// A record received from a system, in canonical form.
struct Inbound {
  xml::DocPtr canonical;        ///< a valid canonical Record (canonical.xsd plus Modulus 11)
  std::string record_type;      ///< Record/@type
  std::string nhs_number;       ///< Person/NHSNumber, ten digits; "" if none
  std::vector<std::pair<std::string, std::string>> local_ids;  ///< Person/LocalId as (system, id)
  std::string mapping_file;     ///< path of the mapping file that translated it
  std::string mapping_digest;   ///< SHA-256 (hex) of that file, for the audit trail
};

/// A canonical record rendered in a system's outbound format.
struct Outbound {
  std::string bytes;            ///< the document or message to deliver
  std::string content_type;     ///< the manifest's outbound content_type
  std::string mapping_file;     ///< path of the outbound mapping file used
  std::string mapping_digest;   ///< SHA-256 (hex) of that file
};

/// One system's MappingSet plus its wire formats, loaded from one folder.
class SystemMappings {
 public:
  /// Loads `dir`/system.toml and the MappingSet of `dir`. Everything or
  /// nothing; errors name the file and line. The manifest's system must be
  /// the system every mapping file names; every declared direction must have
  /// at least one mapping file, and every mapping file's direction must be
  /// declared.
  static Result<std::shared_ptr<const SystemMappings>> load(const std::string& dir, const MappingSchemas& schemas);

  /// Brings `bytes` received from the system to canonical form. The format
  /// is the inbound format whose content_types list the media type of
  /// `content_type` (parameters ignored, case-insensitive); with an empty
  /// content type it is guessed from the first byte among the declared
  /// formats ('M' HL7 v2, '{' FHIR JSON, '<' XML or FHIR XML, else CSV).
  Result<Inbound> toCanonical(std::string_view bytes, std::string_view content_type) const;

  /// Renders a canonical record (already reduced to what the agreement
  /// allows) in the system's outbound format. `record_type` empty means the
  /// record's own Record/@type. FHIR output must be R4 exactly (anything the
  /// codec would convert by its generic rules is refused); HL7 v2 output
  /// must make a valid message; CSV output must make a valid table.
  Result<Outbound> fromCanonical(const _xmlDoc* canonical, std::string_view record_type = {}) const;

  /// Decodes `bytes` to the XML the inbound mapping files see, without
  /// mapping it: for integration engineers writing mappings (`carebridge
  /// map --system DIR --decode`) and for golden-case inputs.
  Result<xml::DocPtr> decode(std::string_view bytes, std::string_view content_type) const;

  const std::string& system() const { return system_; }
  const std::string& description() const { return description_; }
  const std::string& directory() const { return set_->directory(); }
  const std::string& manifestFile() const { return manifest_file_; }
  const MappingSet& mappings() const { return *set_; }
  const std::vector<InboundFormat>& inboundFormats() const { return inbound_; }
  /// The outbound format, or nullptr when the system only sends.
  const OutboundFormat* outboundFormat() const { return outbound_ ? &*outbound_ : nullptr; }
  std::size_t maxBytes() const { return max_bytes_; }
  /// SHA-256 over the manifest's and every mapping file's digest.
  const std::string& digest() const { return digest_; }

 private:
  SystemMappings() = default;
  friend struct SystemManifestLoader;
  const InboundFormat* pickInbound(std::string_view bytes, std::string_view content_type, std::string& why) const;

  std::string system_;
  std::string description_;
  std::string manifest_file_;
  std::string digest_;
  std::size_t max_bytes_ = 16u << 20;
  std::vector<InboundFormat> inbound_;
  std::optional<OutboundFormat> outbound_;
  std::shared_ptr<const MappingSet> set_;
};

}  // namespace cb::mapping
