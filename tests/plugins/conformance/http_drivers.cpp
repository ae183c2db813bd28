// Drivers for the plugins that speak HTTPS with mutual TLS through the host's
// HTTPS services: `https`, `fhir` and the `example` template. Records go in
// as POSTs from a partner client holding the development partner-a
// certificate; deliveries go to the FHIR test server of tests/plugins/fhir
// (a generic HTTPS peer too: it answers POSTs 201, and can be scripted to
// answer 503 or 400, hang, or stop listening).
#include "conformance.h"

#include "net/https_client.h"
#include "plugins/fhir/fhir_test_server.h"

#include <future>

namespace cb::conformance {
namespace {

using namespace std::chrono_literals;

Ack classify(const net::ClientResult& r) {
  if (!r.response) return Ack::Nothing;
  const unsigned s = r.response->status;
  if (s >= 200 && s < 300) return Ack::Accepted;
  if (s == 503 || s == 429 || s == 408 || s >= 500) return Ack::RetryLater;
  return Ack::Refused;
}

class HttpSent final : public SentRecord {
 public:
  HttpSent(std::shared_ptr<net::HttpsClient> client, std::future<net::ClientResult> f)
      : client_(std::move(client)), future_(std::move(f)) {}
  Ack wait(std::chrono::milliseconds timeout) override {
    if (future_.wait_for(timeout) != std::future_status::ready) return Ack::Nothing;
    if (!result_) result_ = future_.get();
    return classify(*result_);
  }
  ~HttpSent() override {
    // The request's callback must not outlive the promise it fills.
    if (!result_ && future_.valid()) future_.wait_for(15s);
  }

 private:
  std::shared_ptr<net::HttpsClient> client_;
  std::future<net::ClientResult> future_;
  std::optional<net::ClientResult> result_;
};

class HttpPeer final : public Peer {
 public:
  HttpPeer(boost::asio::io_context& io, const std::filesystem::path& certs)
      : server_(std::make_unique<test::FhirTestServer>(io, certs)) {}
  void set(Behaviour b) override {
    switch (b) {
      case Behaviour::Accept: server_->hang(false); break;
      case Behaviour::Transient:
        server_->script({503, {{"Content-Type", "text/plain"}, {"Retry-After", "1"}}, "busy\n"});
        break;
      case Behaviour::Refuse: server_->script({400, {{"Content-Type", "text/plain"}}, "not for us\n"}); break;
      case Behaviour::Hang: server_->hang(true); break;
    }
  }
  void goDown() override { server_->stop(); }
  std::size_t seen() const override { return server_->requests().size(); }
  bool waitSeen(std::size_t n, std::chrono::milliseconds timeout) const override {
    return server_->waitForRequests(n, timeout);
  }
  std::string baseUrl() const { return server_->baseUrl(); }

 private:
  std::unique_ptr<test::FhirTestServer> server_;
};

// What differs between the HTTPS-speaking plugins.
struct HttpFlavour {
  std::string plugin;
  std::string path;           // inbound path records are POSTed to
  std::string id_header;      // the sender's id header
  std::string content_type;
  std::string url_key;        // outbound setting naming the partner
  std::string url_path;       // appended to the peer's base URL
  std::function<std::string(const std::string& id)> payload;
  std::vector<std::pair<std::map<std::string, std::string>, std::string>> bad;  // settings, key named
};

class HttpDriver : public PluginDriver {
 public:
  explicit HttpDriver(HttpFlavour f) : f_(std::move(f)) {}
  std::string plugin() const override { return f_.plugin; }
  bool receives() const override { return true; }
  bool delivers() const override { return true; }

  std::vector<BadSettings> badSettings(Harness& h) override {
    std::vector<BadSettings> out;
    for (const auto& [settings, key] : f_.bad) out.push_back({{settings, h.tls("server")}, key});
    return out;
  }

  AdapterSpec inboundSpec(Harness& h) override { return {{{"listen", "127.0.0.1:0"}}, h.tls("server")}; }

  std::unique_ptr<SentRecord> send(Harness& h, plugin_host::Adapter& a, const std::string& id,
                                   std::string& payload) override {
    payload = f_.payload(id);
    return post(h, a, f_.path, payload, {{"Content-Type", f_.content_type}, {f_.id_header, id}});
  }

  std::unique_ptr<SentRecord> sendGarbage(Harness& h, plugin_host::Adapter& a) override {
    return post(h, a, "/no/such/path/%00/..", "\x01\x02 not a record", {{"Content-Type", "application/x-garbage"}});
  }

  std::unique_ptr<Peer> startPeer(Harness& h) override { return std::make_unique<HttpPeer>(h.io(), h.certs()); }

  AdapterSpec outboundSpec(Harness& h, Peer& p) override {
    return {{{f_.url_key, static_cast<HttpPeer&>(p).baseUrl() + f_.url_path}, {"timeout", "5000"}}, h.tls("carebridge")};
  }

  OutboundRecord record(const std::string& message_id) override {
    return {f_.payload(message_id), f_.content_type, {}};
  }

 private:
  std::unique_ptr<SentRecord> post(Harness& h, plugin_host::Adapter& a, const std::string& path,
                                   const std::string& body, std::vector<net::HttpHeader> headers) {
    if (!client_) {
      auto tls = net::makeClientTlsContext(h.tls("partner-a"));
      if (!tls) throw std::runtime_error(tls.error().message);
      net::ClientOptions o;
      o.tls = *tls;
      client_ = net::HttpsClient::create(h.io(), o);
    }
    const auto ports = a.listeningPorts();
    if (ports.empty()) throw std::runtime_error("the adapter has no HTTPS listener");
    net::ClientRequest req;
    req.url = "https://localhost:" + std::to_string(ports.front()) + path;
    req.body = body;
    req.headers = std::move(headers);
    req.timeout = 15s;
    auto p = std::make_shared<std::promise<net::ClientResult>>();
    auto f = p->get_future();
    client_->request(std::move(req), [p](net::ClientResult r) { p->set_value(std::move(r)); });
    return std::make_unique<HttpSent>(client_, std::move(f));
  }

  HttpFlavour f_;
  std::shared_ptr<net::HttpsClient> client_;
};

std::string patient(const std::string& id) {
  return R"({"resourceType":"Patient","id":")" + id +
         R"(","meta":{"versionId":"1"},"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}]})";
}

class HttpsDriver final : public HttpDriver {
 public:
  HttpsDriver()
      : HttpDriver({"https", "/records", "X-Message-Id", "application/json", "url", "/records",
                    [](const std::string& id) { return R"({"record":")" + id + R"("})"; },
                    {{{{"url", "http://partner.example/records"}}, "url"},
                     {{{"listen", "127.0.0.1:0"}, {"path", "records"}}, "path"}}}) {}
};

class FhirDriver final : public HttpDriver {
 public:
  FhirDriver()
      : HttpDriver({"fhir", "/fhir/Patient", "X-Request-ID", "application/fhir+json", "base_url", "", patient,
                    {{{{"base_url", "http://partner.example/fhir"}}, "base_url"},
                     {{{"listen", "127.0.0.1:0"}, {"base_path", "fhir"}}, "base_path"},
                     {{{"base_url", "https://partner.example/fhir"}, {"poll_types", "Patient"}}, "poll_state_file"}}}) {}
};

class ExampleDriver final : public HttpDriver {
 public:
  ExampleDriver()
      : HttpDriver({"example", "/examplecare/v1/records", "ExampleCare-Record-Id", "application/xml", "base_url", "",
                    [](const std::string& id) { return "<record id=\"" + id + "\"/>"; },
                    {{{{"base_url", "http://examplecare.example"}}, "base_url"},
                     {{{"base_url", "https://examplecare.example"}, {"api_key_file", "/nonexistent/api.key"}},
                      "api_key_file"}}}) {}
};

}  // namespace

CB_CONFORMANCE_DRIVER(https, HttpsDriver);
CB_CONFORMANCE_DRIVER(fhir, FhirDriver);
CB_CONFORMANCE_DRIVER(example, ExampleDriver);

}  // namespace cb::conformance
