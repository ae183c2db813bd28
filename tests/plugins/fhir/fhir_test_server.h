#pragma once
// A partner's FHIR R4 server for the fhir adapter's tests: HTTPS with mutual
// TLS (the development "server" certificate, clients verified against the
// development CA), built on carebridge's own net layer.
//
// By default it behaves like a small FHIR server: a create answers
// 201 Created with a Location, a conditional create (If-None-Exist:
// identifier=...) whose identifier it has already seen answers 200 OK without
// storing again, an update answers 200, a transaction or batch Bundle answers
// 200 with a response Bundle, a search (GET) finds nothing. Tests can queue scripted answers instead
// (a status, headers, body), or make it hang (never answer) to provoke timeouts.

#include "net/https_server.h"

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace cb::test {

class FhirTestServer {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::vector<net::HttpHeader> headers;
    std::string body;
    std::string peer_cn;
    const std::string* header(std::string_view name) const { return net::findHeader(headers, name); }
  };

  /// Listens on 127.0.0.1:0 with `<certs>/<cert_name>.pem`.
  FhirTestServer(boost::asio::io_context& io, const std::filesystem::path& certs, const std::string& cert_name = "server");
  ~FhirTestServer();

  std::uint16_t port() const;
  /// "https://localhost:<port>/fhir"
  std::string baseUrl() const;

  /// The next request gets this answer instead of the default behaviour.
  void script(net::HttpResponse response);
  /// While hanging, requests are held unanswered (until hang(false) or destruction).
  void hang(bool on);

  std::vector<Request> requests() const;
  /// Resources created (not counting conditional creates that matched).
  std::size_t created() const;
  bool waitForRequests(std::size_t n, std::chrono::milliseconds timeout) const;
  void stop();

 private:
  net::HttpResponse answer(const Request& r);

  std::unique_ptr<net::HttpsServer> server_;
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::deque<net::HttpResponse> scripted_;
  std::vector<Request> requests_;
  std::set<std::string> identifiers_;
  std::vector<net::Responder> held_;
  bool hang_ = false;
  std::size_t created_ = 0;
};

}  // namespace cb::test
