// carebridge example adapter: the template a trust's engineer copies to
// connect a new system. It speaks to "ExampleCare", an imaginary vendor
// REST API:
//   - ExampleCare POSTs records to us at /examplecare/v1/records, with its own
//     record id in "ExampleCare-Record-Id";
//   - we POST records to ExampleCare at <base_url>/v1/inbox, authenticating
//     with an API key read from a file (secrets are referenced by path, never
//     written into the config).
//
// What every adapter must get right, marked STEP below:
//   1. declare its settings (the host validates them; unknown keys are errors);
//   2. acknowledge a sender only after carebridge has stored the record;
//   3. report each delivery exactly once: ok / retry / fail;
//   4. never log record content or people's identifiers: log message ids.
//
// Build: see CMakeLists.txt here; only plugin_abi.h and plugin_sdk.hpp are
// needed. Test: tests/plugins/conformance runs every plugin through the same
// checks; add yours to its list.
#include <carebridge/plugin_sdk.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace {

// STEP 1: the settings this adapter understands, with defaults (nullptr =
// required) and a line of help each. They appear in error messages.
const cb_config_key kKeys[] = {
    {"listen", CB_CONFIG_STRING, "", "\"host:port\" ExampleCare posts records to; empty = receive nothing"},
    {"base_url", CB_CONFIG_STRING, "", "ExampleCare's API, e.g. https://examplecare.trust.nhs.uk; empty = send nothing"},
    {"api_key_file", CB_CONFIG_PATH, "", "file holding the ExampleCare API key (sent as ExampleCare-Api-Key)"},
    {"timeout", CB_CONFIG_DURATION_MS, "20s", "time allowed for one delivery"},
};

std::string readSecret(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream in(path);
  if (!in) throw cb::sdk::ConfigError("api_key_file: cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string key = ss.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.empty()) throw cb::sdk::ConfigError("api_key_file: " + path + " is empty");
  return key;
}

class ExampleAdapter final : public cb::sdk::Adapter {
 public:
  // The host has already checked types; throw ConfigError for anything else
  // that is wrong, naming the setting.
  ExampleAdapter(cb::sdk::Host host, const cb::sdk::Config& config)
      : host_(host),
        listen_(config.str("listen")),
        base_url_(config.str("base_url")),
        api_key_(readSecret(config.str("api_key_file"))),
        timeout_(config.duration("timeout")) {
    if (!base_url_.empty() && base_url_.rfind("https://", 0) != 0) {
      throw cb::sdk::ConfigError("base_url must start with https://");
    }
  }

  void start() override {
    if (listen_.empty()) return;
    // The listener uses the adapter's [adapter.tls]: mutual TLS, verified by the host.
    host_.serveHttps(listen_, [this](cb::sdk::HttpExchange ex) { onRequest(std::move(ex)); });
  }

  // STEP 3: exactly one of ok(), retry() or fail() per delivery. Send the
  // message id every time: it is the same on every attempt, so ExampleCare
  // can ignore a record it already has.
  void deliver(const cb::sdk::Delivery& d, cb::sdk::DeliveryDone&& done) override {
    if (base_url_.empty()) {
      done.fail("no base_url configured");
      return;
    }
    cb::sdk::HttpRequestSpec req;
    req.url = base_url_ + "/v1/inbox";
    req.body = std::string(d.payload);
    req.timeout = timeout_;
    req.headers = {{"Content-Type", std::string(d.content_type)}, {"ExampleCare-Message-Id", std::string(d.message_id)}};
    if (!api_key_.empty()) req.headers.emplace_back("ExampleCare-Api-Key", api_key_);
    auto pending = std::make_shared<cb::sdk::DeliveryDone>(std::move(done));
    host_.request(req, [pending](const cb::sdk::HttpResult& r) {
      if (r.status >= 200 && r.status < 300) {
        pending->ok();
      } else if (r.status == 0 || r.status == 429 || r.status >= 500) {
        pending->retry(r.status == 0 ? r.error : "ExampleCare answered " + std::to_string(r.status));
      } else {
        pending->fail("ExampleCare refused the record: HTTP " + std::to_string(r.status));
      }
    });
  }

 private:
  // STEP 2: answer ExampleCare only once the host says the record is stored.
  void onRequest(cb::sdk::HttpExchange ex) {
    if (ex.method() != "POST" || ex.target() != "/examplecare/v1/records") {
      ex.respond(404, "text/plain", "not found\n");
      return;
    }
    cb::sdk::InboundRecord rec;
    const auto id = ex.header("ExampleCare-Record-Id");
    const auto type = ex.header("Content-Type");
    rec.sender_message_id = id.value_or("");
    rec.content_type = type.value_or("application/xml");
    rec.payload = ex.body();
    auto pending = std::make_shared<cb::sdk::HttpExchange>(std::move(ex));
    const bool accepted = host_.submit(rec, [this, pending](cb::sdk::SubmitResult r, std::string_view message_id,
                                                           std::string_view) {
      if (r == cb::sdk::SubmitResult::Stored || r == cb::sdk::SubmitResult::Duplicate) {
        // STEP 4: the message id is safe to log; the record is not.
        host_.debug("stored ExampleCare record as message " + std::string(message_id));
        pending->respond(201, "text/plain", std::string(message_id) + "\n");
      } else if (r == cb::sdk::SubmitResult::Refused) {
        pending->respond(422, "text/plain", "refused\n");
      } else {
        pending->respond(503, "text/plain", "try again later\n", {{"Retry-After", "10"}});
      }
    });
    if (!accepted) pending->respond(503, "text/plain", "try again later\n", {{"Retry-After", "10"}});
  }

  cb::sdk::Host host_;
  std::string listen_;
  std::string base_url_;
  std::string api_key_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

// The one exported entry point: name (as used in `plugin = "example"`),
// version, description, what it can do, and its settings.
CB_PLUGIN(ExampleAdapter, "example", "1.0.0", "Template adapter for an imaginary vendor API (ExampleCare)",
          CB_CAP_INBOUND | CB_CAP_OUTBOUND, kKeys)
