#pragma once
// What the fhir adapter needs to know about a FHIR R4 resource, read from JSON
// (Boost.JSON) or XML (libxml2) without building a model of it: its type,
// logical id and version, its business identifier, and for a Bundle its type
// and entry requests. Plus the few resources the adapter writes itself
// (OperationOutcome, transaction-response Bundle, CapabilityStatement).
//
// Error messages name the place and the rule broken, never record content,
// so they are safe to log and to return to the sender.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cb::fhir_plugin {

/// The two FHIR wire formats (https://hl7.org/fhir/R4/http.html#mime-type).
enum class Format { kJson, kXml };

/// Reads a Content-Type: application/fhir+json, application/json, text/json
/// are JSON; application/fhir+xml, application/xml, text/xml are XML; case
/// does not matter; a charset other than UTF-8 (or any other type) = nullopt.
std::optional<Format> formatFromContentType(std::string_view content_type);
/// Picks the answer format from an Accept header; `fallback` when it names neither.
Format formatFromAccept(std::string_view accept, Format fallback);
/// "application/fhir+json; charset=utf-8" or the XML equivalent.
std::string contentTypeOf(Format format);
/// JSON when the body starts with '{', XML when it starts with '<', else nullopt.
std::optional<Format> sniffFormat(std::string_view body);

struct Identifier {
  std::string system;  ///< may be empty
  std::string value;
};

/// The parts of a resource the adapter routes and deduplicates by.
struct ResourceFacts {
  std::string resource_type;
  std::string id;                          ///< logical id; empty if absent
  std::string version_id;                  ///< meta.versionId
  std::string last_updated;                ///< meta.lastUpdated
  std::vector<Identifier> identifiers;     ///< Bundle.identifier, or a resource's identifiers that have a value
  std::string bundle_type;                 ///< Bundle.type
  std::vector<std::string> entry_methods;  ///< Bundle.entry[].request.method ("" where absent)
};

/// Either the facts, or why the body is not a FHIR resource (`error`).
struct Described {
  std::optional<ResourceFacts> facts;
  std::string error;
};

/// Parses `body` as a FHIR resource in `format`. Refuses what is not
/// well-formed, has no resourceType (JSON) or is outside the FHIR namespace
/// (XML), carries a DTD, or has an id or resourceType that breaks R4's rules.
Described describe(std::string_view body, Format format);

/// A page of search results (a searchset Bundle in JSON): each matching
/// entry's resource exactly as the server wrote it (a byte slice of the page,
/// so nothing is re-serialised), and the `next` link if there is one.
struct SearchPage {
  std::vector<std::string> resources;
  std::string next;
};
/// Reads a searchset Bundle; nullopt (with `error`) if the page is not one.
std::optional<SearchPage> readSearchPage(std::string_view body, std::string* error);

/// An OperationOutcome with one issue (https://hl7.org/fhir/R4/operationoutcome.html).
/// `severity`: fatal | error | warning | information; `code`: an IssueType code.
std::string operationOutcome(Format format, std::string_view severity, std::string_view code,
                             std::string_view diagnostics);

/// The diagnostics (or details.text) of every issue in an OperationOutcome
/// body, joined with "; " and cut to `max` bytes; "" if the body is not one.
std::string outcomeDiagnostics(std::string_view body, std::optional<Format> format, std::size_t max = 400);

/// A transaction-response or batch-response Bundle answering `methods`
/// (one entry per request entry) with "201 Created" for POST and "200 OK"
/// otherwise, each pointing at `location`.
std::string transactionResponse(Format format, std::string_view response_type, const std::vector<std::string>& methods,
                                std::string_view location);

/// A minimal CapabilityStatement for GET [base]/metadata.
std::string capabilityStatement(Format format, std::string_view now_iso);

}  // namespace cb::fhir_plugin
