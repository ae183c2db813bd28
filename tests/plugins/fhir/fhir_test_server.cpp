#include "plugins/fhir/fhir_test_server.h"

#include <boost/asio/io_context.hpp>

#include <stdexcept>

namespace cb::test {

namespace {

const char* kJson = "application/fhir+json; charset=utf-8";

std::string outcome(const std::string& severity, const std::string& diagnostics) {
  return R"({"resourceType":"OperationOutcome","issue":[{"severity":")" + severity +
         R"(","code":"informational","diagnostics":")" + diagnostics + "\"}]}";
}

}  // namespace

FhirTestServer::FhirTestServer(boost::asio::io_context& io, const std::filesystem::path& certs,
                               const std::string& cert_name) {
  net::TlsSettings s;
  s.certificate = certs / (cert_name + ".pem");
  s.private_key = certs / (cert_name + ".key");
  s.ca = certs / "ca.pem";
  auto tls = net::makeServerTlsContext(s);
  if (!tls) throw std::runtime_error(tls.error().message);
  net::ServerOptions o;
  o.listen = {"127.0.0.1", 0};
  o.tls = *tls;
  o.log_name = "test-fhir-server";
  auto server = net::HttpsServer::start(io, o, [this](net::HttpRequest&& req, net::Responder respond) {
    Request r{req.method, req.target, req.headers, req.body, req.peer.common_name};
    net::HttpResponse response;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(r);
      cv_.notify_all();
      if (hang_) {
        held_.push_back(std::move(respond));
        return;
      }
      if (!scripted_.empty()) {
        response = std::move(scripted_.front());
        scripted_.pop_front();
      } else {
        response = answer(r);
      }
    }
    respond(std::move(response));
  });
  if (!server) throw std::runtime_error(server.error().message);
  server_ = std::move(*server);
}

FhirTestServer::~FhirTestServer() { stop(); }

void FhirTestServer::stop() {
  if (server_) server_->stop();
  std::vector<net::Responder> held;
  {
    std::lock_guard lock(mutex_);
    held.swap(held_);
  }
  for (auto& r : held) r(net::HttpResponse{503, {}, "stopping\n"});
}

std::uint16_t FhirTestServer::port() const { return server_->port(); }
std::string FhirTestServer::baseUrl() const { return "https://localhost:" + std::to_string(port()) + "/fhir"; }

void FhirTestServer::script(net::HttpResponse response) {
  std::lock_guard lock(mutex_);
  scripted_.push_back(std::move(response));
}

void FhirTestServer::hang(bool on) {
  std::vector<net::Responder> held;
  {
    std::lock_guard lock(mutex_);
    hang_ = on;
    if (!on) held.swap(held_);
  }
  for (auto& r : held) r(net::HttpResponse{503, {}, "was hanging\n"});
}

std::vector<FhirTestServer::Request> FhirTestServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t FhirTestServer::created() const {
  std::lock_guard lock(mutex_);
  return created_;
}

bool FhirTestServer::waitForRequests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

// Called with mutex_ held.
net::HttpResponse FhirTestServer::answer(const Request& r) {
  const std::string path = r.target.substr(0, r.target.find('?'));
  if (path.rfind("/fhir", 0) != 0) return {404, {{"Content-Type", kJson}}, outcome("error", "unknown base")};
  const std::string rest = path.substr(5);
  if (r.method == "POST" && (rest.empty() || rest == "/")) {
    ++created_;
    return {200, {{"Content-Type", kJson}}, R"({"resourceType":"Bundle","type":"transaction-response"})"};
  }
  if (r.method == "POST" && rest == "/$process-message") {
    ++created_;
    return {200, {{"Content-Type", kJson}}, R"({"resourceType":"Bundle","type":"message"})"};
  }
  if (r.method == "POST") {
    // https://hl7.org/fhir/R4/http.html#ccreate: a match means "already there".
    if (const std::string* cond = r.header("If-None-Exist")) {
      if (!identifiers_.insert(*cond).second) {
        return {200, {{"Content-Type", kJson}}, outcome("information", "already exists")};
      }
    }
    ++created_;
    return {201,
            {{"Content-Type", kJson}, {"Location", "https://localhost/fhir" + rest + "/" + std::to_string(created_) + "/_history/1"}},
            outcome("information", "created")};
  }
  if (r.method == "GET") {
    return {200, {{"Content-Type", kJson}}, R"({"resourceType":"Bundle","type":"searchset","total":0})"};
  }
  if (r.method == "PUT") {
    ++created_;
    return {200, {{"Content-Type", kJson}, {"Location", "https://localhost/fhir" + rest + "/_history/1"}},
            outcome("information", "updated")};
  }
  return {405, {{"Content-Type", kJson}}, outcome("error", "not supported")};
}

}  // namespace cb::test
