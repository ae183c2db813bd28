// The `https` adapter: records over HTTPS with mutual TLS, both ways.
//
// Inbound: a partner system POSTs one record per request to `path` on
// `listen`. The record is stored durably before the answer goes back
// (202 Accepted, with carebridge's message id); a resend of the same
// X-Message-Id is answered 200 with the first copy's id and not stored twice.
// Outbound: each delivery is POSTed to `url` with the stable message id in
// X-Carebridge-Message-Id and Idempotency-Key (draft-ietf-httpapi-idempotency-key-header),
// so the partner can detect a redelivery.
//
// TLS (certificates, CA, CRL, pins) comes from the adapter's [adapter.tls]
// through the host: this plugin never touches OpenSSL or sockets itself.
#include <carebridge/plugin_sdk.hpp>

#include <ctime>
#include <string>

namespace {

using namespace std::chrono_literals;

const cb_config_key kKeys[] = {
    {"listen", CB_CONFIG_STRING, "", "inbound: \"host:port\" to accept records on; empty = no inbound"},
    {"path", CB_CONFIG_STRING, "/records", "inbound: the path partners POST records to"},
    {"max_body", CB_CONFIG_INT, "8388608", "inbound: largest record accepted, in bytes"},
    {"sender_id_header", CB_CONFIG_STRING, "X-Message-Id", "inbound: header carrying the sender's own message id"},
    {"subject_header", CB_CONFIG_STRING, "X-Subject",
     "inbound: header naming the person (for per-person ordering; never logged)"},
    {"record_type_header", CB_CONFIG_STRING, "X-Record-Type", "inbound: header carrying the record type"},
    {"url", CB_CONFIG_STRING, "", "outbound: https:// URL to POST each delivery to; empty = no outbound"},
    {"timeout", CB_CONFIG_DURATION_MS, "30s", "outbound: time allowed for one delivery request"},
};

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Retry-After is delta-seconds or an HTTP-date (RFC 9110 section 10.2.3).
std::chrono::milliseconds retryAfter(const cb::sdk::HttpResult& r, std::int64_t now_ms) {
  auto v = r.header("Retry-After");
  if (!v || v->empty()) return 0ms;
  if (v->find_first_not_of("0123456789") == std::string::npos && v->size() < 10) {
    return std::chrono::seconds(std::stoll(*v));
  }
  std::tm tm{};
  // IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 section 5.6.7).
  if (strptime(v->c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return 0ms;
  const std::int64_t at_ms = static_cast<std::int64_t>(timegm(&tm)) * 1000;
  return std::chrono::milliseconds(at_ms > now_ms ? at_ms - now_ms : 0);
}

class HttpsAdapter final : public cb::sdk::Adapter {
 public:
  HttpsAdapter(cb::sdk::Host host, const cb::sdk::Config& c)
      : host_(host),
        listen_(c.str("listen")),
        path_(c.str("path")),
        max_body_(static_cast<std::uint64_t>(c.integer("max_body"))),
        sender_header_(c.str("sender_id_header")),
        subject_header_(c.str("subject_header")),
        type_header_(c.str("record_type_header")),
        url_(c.str("url")),
        timeout_(c.duration("timeout")) {
    if (listen_.empty() && url_.empty()) throw cb::sdk::ConfigError("set listen (inbound), url (outbound) or both");
    if (!url_.empty() && !startsWith(url_, "https://")) {
      throw cb::sdk::ConfigError("url must start with https:// (deliveries use mutual TLS)");
    }
    if (!startsWith(path_, "/")) throw cb::sdk::ConfigError("path must start with '/'");
  }

  void start() override {
    if (listen_.empty()) return;
    host_.serveHttps(listen_, [this](cb::sdk::HttpExchange ex) { receive(std::move(ex)); }, max_body_);
    host_.info("accepting records on " + listen_ + path_);
  }

  void deliver(const cb::sdk::Delivery& d, cb::sdk::DeliveryDone&& done) override {
    if (url_.empty()) {
      done.fail("adapter has no url to deliver to");
      return;
    }
    cb::sdk::HttpRequestSpec req;
    req.url = url_;
    req.timeout = timeout_;
    req.body = std::string(d.payload);
    req.headers = {{"Content-Type", d.content_type.empty() ? "application/octet-stream" : std::string(d.content_type)},
                   {"X-Carebridge-Message-Id", std::string(d.message_id)},
                   {"Idempotency-Key", std::string(d.message_id)},
                   {"X-Carebridge-Attempt", std::to_string(d.attempt)}};
    if (!d.record_type.empty()) req.headers.emplace_back("X-Record-Type", std::string(d.record_type));
    auto shared = std::make_shared<cb::sdk::DeliveryDone>(std::move(done));
    const bool sent = host_.request(req, [this, shared](const cb::sdk::HttpResult& r) { settle(r, *shared); });
    if (!sent) shared->retry("could not start the request");
  }

 private:
  void settle(const cb::sdk::HttpResult& r, cb::sdk::DeliveryDone& done) {
    if (r.status == 0) {
      // No HTTP answer: connection refused, timeout, or the partner's
      // certificate failed verification (nothing was sent then).
      done.retry(r.tls_refused ? "partner certificate not verified: " + r.error : r.error);
      return;
    }
    if (r.status >= 200 && r.status < 300) {
      done.ok(r.header("Location").value_or(""));
    } else if (r.status == 408 || r.status == 425 || r.status == 429 || r.status >= 500) {
      done.retry("partner answered HTTP " + std::to_string(r.status), retryAfter(r, host_.nowUnixMs()));
    } else {
      // Other 4xx (and 3xx: redirects are not followed) will not get better by resending.
      done.fail("partner refused with HTTP " + std::to_string(r.status));
    }
  }

  void receive(cb::sdk::HttpExchange ex) {
    const std::string target(ex.target());
    if (target.substr(0, target.find('?')) != path_) {
      ex.respond(404, "application/json", R"({"error":"not found"})");
      return;
    }
    if (ex.method() != "POST") {
      ex.respond(405, "application/json", R"({"error":"use POST"})", {{"Allow", "POST"}});
      return;
    }
    if (ex.body().empty()) {
      ex.respond(400, "application/json", R"({"error":"empty body"})");
      return;
    }
    cb::sdk::InboundRecord rec;
    const auto ct = ex.header("Content-Type");
    const auto sender = ex.header(sender_header_);
    const auto subject = ex.header(subject_header_);
    const auto type = ex.header(type_header_);
    rec.content_type = ct.value_or("application/octet-stream");
    rec.sender_message_id = sender.value_or("");
    rec.subject = subject.value_or("");
    rec.record_type = type.value_or("");
    rec.payload = ex.body();
    // The exchange (and the request buffers `rec` points into) must outlive
    // the submit call; the host copies the record before returning.
    auto shared = std::make_shared<cb::sdk::HttpExchange>(std::move(ex));
    const bool accepted = host_.submit(rec, [shared](cb::sdk::SubmitResult result, std::string_view id,
                                                     std::string_view reason) {
      const std::string body_id = "{\"message_id\":\"" + std::string(id) + "\"}";
      switch (result) {
        case cb::sdk::SubmitResult::Stored:
          shared->respond(202, "application/json", body_id, {{"X-Carebridge-Message-Id", std::string(id)}});
          break;
        case cb::sdk::SubmitResult::Duplicate:
          shared->respond(200, "application/json", body_id, {{"X-Carebridge-Message-Id", std::string(id)}});
          break;
        case cb::sdk::SubmitResult::Refused:
          shared->respond(422, "application/json", "{\"error\":\"refused\",\"reason\":\"" + std::string(reason) + "\"}");
          break;
        case cb::sdk::SubmitResult::Unavailable:
          shared->respond(503, "application/json", R"({"error":"not stored, retry later"})", {{"Retry-After", "5"}});
          break;
      }
    });
    if (!accepted) shared->respond(503, "application/json", R"({"error":"not stored, retry later"})", {{"Retry-After", "5"}});
  }

  cb::sdk::Host host_;
  std::string listen_, path_;
  std::uint64_t max_body_;
  std::string sender_header_, subject_header_, type_header_, url_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

CB_PLUGIN(HttpsAdapter, "https", "1.0.0", "Records over HTTPS with mutual TLS (POST in, POST out)",
          CB_CAP_INBOUND | CB_CAP_OUTBOUND, kKeys)
