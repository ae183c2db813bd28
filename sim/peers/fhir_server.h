#pragma once
// A FHIR R4 server playing Carenotes or a UK Core partner's endpoint
// (https://hl7.org/fhir/R4/http.html), over mutual TLS: what carebridge's
// fhir adapter delivers to and polls. It keeps resources in memory, writes
// each accepted one to a folder, and reports one line per request.
//
// Interactions: create (POST [base]/[type]), conditional create
// (If-None-Exist: identifier=[system|]value; an existing match is answered
// 200 with it and nothing is stored), update (PUT [base]/[type]/[id]),
// read (GET [base]/[type]/[id]), transaction and batch Bundles (POST [base]),
// capabilities (GET [base]/metadata) and search (GET [base]/[type]?
// _lastUpdated=gt|ge|lt|le<instant>, identifier=, _count=; a searchset
// Bundle sorted by meta.lastUpdated with a `next` link). The server stamps
// meta.lastUpdated itself, strictly increasing, so paging on
// `_lastUpdated=gt<last on page>` neither skips nor repeats a resource.

#include "common/result.h"
#include "net/http.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace cb::sim {

class FhirServer {
 public:
  struct Options {
    net::Endpoint listen;
    std::shared_ptr<net::TlsContext> tls;   ///< server side, peers must present a certificate
    std::string base_path = "/fhir";
    std::filesystem::path save_dir;         ///< empty: keep in memory only
    /// Called once per request with a line such as
    /// "fhir POST /fhir/Patient 201 Patient/7 v1 from partner-a" (ids only, no content).
    std::function<void(const std::string&)> log;
  };

  /// Binds and serves on `io` (which the caller runs). The error names the endpoint.
  static Result<std::unique_ptr<FhirServer>> start(boost::asio::io_context& io, Options options);
  ~FhirServer();
  FhirServer(const FhirServer&) = delete;
  FhirServer& operator=(const FhirServer&) = delete;

  std::uint16_t port() const;
  /// Resources held of `type` (every version counts once).
  std::size_t count(const std::string& type) const;
  void stop();

  /// The request handling without the network (exposed for tests and reuse).
  net::HttpResponse handle(const net::HttpRequest& request);

 private:
  struct State;
  explicit FhirServer(Options options);
  Options options_;
  std::unique_ptr<State> state_;
};

}  // namespace cb::sim
