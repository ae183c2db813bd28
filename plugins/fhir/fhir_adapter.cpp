// The `fhir` adapter: FHIR R4 REST (https://hl7.org/fhir/R4/http.html) over
// HTTPS with mutual TLS, both ways.
//
// Inbound: a partner creates (POST [base]/[type]) or updates
// (PUT [base]/[type]/[id]) a resource, or posts a transaction, batch or
// message Bundle (POST [base], or POST [base]/$process-message), as JSON or
// XML. The record is stored durably before the answer goes back; a resend
// (same Bundle.identifier, same resource version) is answered again but not
// stored twice. Refusals carry an OperationOutcome.
// Outbound: each delivery is written to the partner's FHIR server so that a
// redelivery does not duplicate: a conditional create on the resource's
// business identifier (If-None-Exist, https://hl7.org/fhir/R4/http.html#ccreate),
// an update by id, or a transaction/message Bundle posted to the base, always
// with our stable message id in X-Request-ID.
//
// TLS comes from the adapter's [adapter.tls] through the host.
#include "fhir_resource.h"

#include <carebridge/plugin_sdk.hpp>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>

#include <fcntl.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using cb::fhir_plugin::Format;

const cb_config_key kKeys[] = {
    {"listen", CB_CONFIG_STRING, "", "inbound: \"host:port\" of the FHIR endpoint; empty = no inbound"},
    {"base_path", CB_CONFIG_STRING, "/fhir", "inbound: the FHIR base path, e.g. /fhir (then POST /fhir/Patient)"},
    {"max_body", CB_CONFIG_INT, "8388608", "inbound: largest resource or Bundle accepted, in bytes (larger: 413)"},
    {"base_url", CB_CONFIG_STRING, "", "outbound: the partner's FHIR base, https://host:port/fhir; empty = no outbound"},
    {"timeout", CB_CONFIG_DURATION_MS, "30s", "outbound: time allowed for one request to the partner"},
    {"conditional_create", CB_CONFIG_BOOL, "true",
     "outbound: create with If-None-Exist on the resource's identifier, so a redelivery is not a second copy"},
    {"identifier_system", CB_CONFIG_STRING, "",
     "outbound: the identifier system to make a create conditional on; empty = the first identifier with a value"},
    {"poll_types", CB_CONFIG_STRING, "",
     "polling: resource types to fetch from base_url when changed, e.g. \"Patient,Flag\"; empty = no polling"},
    {"poll_interval", CB_CONFIG_DURATION_MS, "60s", "polling: time between searches"},
    {"poll_state_file", CB_CONFIG_PATH, "", "polling: file keeping the point reached per type (required with poll_types)"},
    {"poll_since", CB_CONFIG_STRING, "", "polling: first point (FHIR instant) when there is no state yet; empty = start now"},
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

// Percent-encodes a search parameter value (RFC 3986 section 3.4), keeping
// the characters FHIR token searches are usually written with.
std::string queryEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string isoNow(std::int64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// What an inbound request asks for, from its method and path below the base.
struct Interaction {
  enum class Kind { kBundle, kCreate, kUpdate, kMetadata } kind;
  std::string type;  // resource type from the URL (create, update)
  std::string id;    // logical id from the URL (update)
};

class FhirAdapter final : public cb::sdk::Adapter {
 public:
  FhirAdapter(cb::sdk::Host host, const cb::sdk::Config& c)
      : host_(host),
        listen_(c.str("listen")),
        base_path_(c.str("base_path")),
        max_body_(c.integer("max_body")),
        base_url_(c.str("base_url")),
        timeout_(c.duration("timeout")),
        conditional_create_(c.boolean("conditional_create")),
        identifier_system_(c.str("identifier_system")),
        poll_interval_(c.duration("poll_interval")),
        poll_state_file_(c.str("poll_state_file")),
        poll_since_(c.str("poll_since")) {
    std::stringstream types(c.str("poll_types"));
    for (std::string t; std::getline(types, t, ',');) {
      t.erase(0, t.find_first_not_of(' '));
      t.erase(t.find_last_not_of(' ') + 1);
      if (!t.empty()) poll_types_.push_back(t);
    }
    if (!poll_types_.empty() && base_url_.empty()) throw cb::sdk::ConfigError("poll_types needs base_url (the server to poll)");
    if (!poll_types_.empty() && poll_state_file_.empty()) {
      throw cb::sdk::ConfigError("poll_types needs poll_state_file (where the point reached is kept across restarts)");
    }
    if (listen_.empty() && base_url_.empty()) {
      throw cb::sdk::ConfigError("set listen (inbound FHIR endpoint), base_url (outbound FHIR server) or both");
    }
    if (!base_url_.empty() && !startsWith(base_url_, "https://")) {
      throw cb::sdk::ConfigError("base_url must start with https:// (deliveries use mutual TLS)");
    }
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
    if (!startsWith(base_path_, "/")) throw cb::sdk::ConfigError("base_path must start with '/'");
    while (base_path_.size() > 1 && base_path_.back() == '/') base_path_.pop_back();
    if (base_path_ == "/") base_path_.clear();
    if (max_body_ <= 0) throw cb::sdk::ConfigError("max_body must be a positive number of bytes");
  }

  void start() override {
    if (!poll_types_.empty()) {
      loadPollState();
      host_.after(0ms, [this] { pollNext(0); });
      host_.info("polling " + std::to_string(poll_types_.size()) + " resource type(s) at " + base_url_);
    }
    if (listen_.empty()) return;
    host_.serveHttps(listen_, [this](cb::sdk::HttpExchange ex) { receive(std::move(ex)); },
                     static_cast<std::uint64_t>(max_body_));
    host_.info("FHIR R4 endpoint at base path " + (base_path_.empty() ? std::string("/") : base_path_));
  }

  void deliver(const cb::sdk::Delivery& d, cb::sdk::DeliveryDone&& done) override {
    if (base_url_.empty()) {
      done.fail("adapter has no base_url to deliver to");
      return;
    }
    auto format = cb::fhir_plugin::formatFromContentType(d.content_type);
    if (!format) format = cb::fhir_plugin::sniffFormat(d.payload);
    if (!format) {
      done.fail("message " + std::string(d.message_id) + " is not FHIR JSON or XML (content type '" +
                std::string(d.content_type) + "')");
      return;
    }
    const auto described = cb::fhir_plugin::describe(d.payload, *format);
    if (!described.facts) {
      done.fail("message " + std::string(d.message_id) + " is not a FHIR resource: " + described.error);
      return;
    }
    const auto& facts = *described.facts;
    cb::sdk::HttpRequestSpec req;
    req.timeout = timeout_;
    req.body = std::string(d.payload);
    req.headers = {{"Content-Type", cb::fhir_plugin::contentTypeOf(*format)},
                   {"Accept", cb::fhir_plugin::contentTypeOf(*format)},
                   // Our id for the record, the same on every attempt (https://hl7.org/fhir/R4/http.html#custom).
                   {"X-Request-ID", std::string(d.message_id)},
                   {"X-Carebridge-Message-Id", std::string(d.message_id)},
                   {"X-Carebridge-Attempt", std::to_string(d.attempt)}};
    describeWrite(facts, req);
    auto shared = std::make_shared<cb::sdk::DeliveryDone>(std::move(done));
    const bool sent = host_.request(req, [this, shared, format](const cb::sdk::HttpResult& r) {
      settle(r, *format, *shared);
    });
    if (!sent) shared->retry("could not start the request to " + base_url_);
  }

 private:
  // Chooses the FHIR interaction for an outbound resource.
  void describeWrite(const cb::fhir_plugin::ResourceFacts& f, cb::sdk::HttpRequestSpec& req) const {
    if (f.resource_type == "Bundle" && (f.bundle_type == "transaction" || f.bundle_type == "batch")) {
      req.method = "POST";
      req.url = base_url_;
      return;
    }
    if (f.resource_type == "Bundle" && f.bundle_type == "message") {
      req.method = "POST";
      req.url = base_url_ + "/$process-message";
      return;
    }
    const cb::fhir_plugin::Identifier* ident = nullptr;
    for (const auto& i : f.identifiers) {
      if (identifier_system_.empty() || i.system == identifier_system_) {
        ident = &i;
        break;
      }
    }
    if (conditional_create_ && ident != nullptr) {
      req.method = "POST";
      req.url = base_url_ + "/" + f.resource_type;
      const std::string token = ident->system.empty() ? ident->value : ident->system + "|" + ident->value;
      req.headers.emplace_back("If-None-Exist", "identifier=" + queryEncode(token));
    } else if (!f.id.empty()) {
      // Update as create with our id: idempotent (https://hl7.org/fhir/R4/http.html#upsert).
      req.method = "PUT";
      req.url = base_url_ + "/" + f.resource_type + "/" + f.id;
    } else {
      req.method = "POST";
      req.url = base_url_ + "/" + f.resource_type;
    }
  }

  void settle(const cb::sdk::HttpResult& r, Format format, cb::sdk::DeliveryDone& done) {
    if (r.status == 0) {
      // No HTTP answer: connection refused, timeout, or the partner's
      // certificate failed verification (nothing was sent then).
      host_.count("retry");
      if (r.timed_out) {
        done.retry("no answer from the FHIR server within " + std::to_string(timeout_.count()) + " ms");
      } else {
        done.retry(r.tls_refused ? "FHIR server certificate not verified: " + r.error : r.error);
      }
      return;
    }
    auto ct = r.header("Content-Type");
    std::optional<Format> answer = ct ? cb::fhir_plugin::formatFromContentType(*ct) : std::optional<Format>(format);
    const std::string diagnostics = cb::fhir_plugin::outcomeDiagnostics(r.body, answer);
    const std::string status = "FHIR server answered HTTP " + std::to_string(r.status) +
                               (diagnostics.empty() ? std::string() : ": " + diagnostics);
    if (r.status >= 200 && r.status < 300) {
      host_.count("delivered");
      auto location = r.header("Location");
      if (!location) location = r.header("Content-Location");
      done.ok(location.value_or(""));
    } else if (r.status == 408 || r.status == 425 || r.status == 429 || r.status >= 500) {
      host_.count("retry");
      done.retry(status, retryAfter(r, host_.nowUnixMs()));
    } else {
      // Other 4xx (and 3xx: redirects are not followed) will not get better by resending.
      host_.count("failed");
      done.fail(status);
    }
  }

  // ---- polling: GET [base]/[type]?_lastUpdated=gt<point> (https://hl7.org/fhir/R4/search.html#lastUpdated)
  // One type at a time, page by page; the point advances (and is written to
  // poll_state_file atomically) only once every resource of a page is stored.

  void loadPollState() {
    std::ifstream in(poll_state_file_);
    std::string type, point;
    while (in >> type >> point) points_[type] = point;
    const std::string first = poll_since_.empty() ? isoNow(host_.nowUnixMs()) : poll_since_;
    for (const auto& t : poll_types_) points_.emplace(t, first);
  }

  // Writes the points to a temporary file, syncs it, and renames it over the
  // old one, so a crash leaves either the old or the new state, never half.
  bool savePollState() {
    std::string text;
    {
      std::lock_guard lock(poll_mutex_);
      for (const auto& [t, p] : points_) text += t + " " + p + "\n";
    }
    const std::string tmp = poll_state_file_ + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    return written && std::rename(tmp.c_str(), poll_state_file_.c_str()) == 0;
  }

  void pollNext(std::size_t type_index, std::string url = {}) {
    if (type_index >= poll_types_.size()) {
      host_.after(poll_interval_, [this] { pollNext(0); });
      return;
    }
    const std::string& type = poll_types_[type_index];
    if (url.empty()) {
      std::lock_guard lock(poll_mutex_);
      url = base_url_ + "/" + type + "?_lastUpdated=gt" + queryEncode(points_[type]) + "&_sort=_lastUpdated&_count=100";
    }
    cb::sdk::HttpRequestSpec req;
    req.method = "GET";
    req.url = url;
    req.timeout = timeout_;
    req.headers = {{"Accept", cb::fhir_plugin::contentTypeOf(Format::kJson)}};
    const bool sent = host_.request(req, [this, type_index](const cb::sdk::HttpResult& r) { polled(type_index, r); });
    if (!sent) host_.after(poll_interval_, [this] { pollNext(0); });
  }

  // Tracks the submissions of one page; the last one to settle finishes it.
  struct PollPage {
    std::size_t type_index = 0;
    std::string next;
    std::string newest;  // the latest meta.lastUpdated on the page
    std::mutex mutex;
    std::size_t outstanding = 0;
    bool all_stored = true;
  };

  void polled(std::size_t type_index, const cb::sdk::HttpResult& r) {
    const std::string& type = poll_types_[type_index];
    if (r.status != 200) {
      host_.warn("polling " + type + ": " + (r.status == 0 ? r.error : "HTTP " + std::to_string(r.status)) +
                 "; trying again in " + std::to_string(poll_interval_.count()) + " ms");
      host_.after(poll_interval_, [this] { pollNext(0); });
      return;
    }
    std::string error;
    auto page = cb::fhir_plugin::readSearchPage(r.body, &error);
    if (!page) {
      host_.warn("polling " + type + ": " + error);
      host_.after(poll_interval_, [this] { pollNext(0); });
      return;
    }
    auto state = std::make_shared<PollPage>();
    state->type_index = type_index;
    state->next = page->next;
    state->outstanding = page->resources.size() + 1;  // +1 held until every submit is started
    for (const auto& resource : page->resources) {
      const auto d = cb::fhir_plugin::describe(resource, Format::kJson);
      if (!d.facts) {
        std::lock_guard lock(state->mutex);
        state->all_stored = false;
        --state->outstanding;
        continue;
      }
      {
        std::lock_guard lock(state->mutex);
        if (d.facts->last_updated > state->newest) state->newest = d.facts->last_updated;
      }
      cb::sdk::InboundRecord rec;
      const std::string sender = pollSenderId(*d.facts);
      const std::string ct = cb::fhir_plugin::contentTypeOf(Format::kJson);
      rec.sender_message_id = sender;
      rec.content_type = ct;
      rec.record_type = d.facts->resource_type;
      rec.payload = resource;
      const bool accepted = host_.submit(rec, [this, state](cb::sdk::SubmitResult result, std::string_view,
                                                            std::string_view) {
        const bool ok = result == cb::sdk::SubmitResult::Stored || result == cb::sdk::SubmitResult::Duplicate;
        if (ok) host_.count(result == cb::sdk::SubmitResult::Stored ? "received" : "duplicate");
        settlePoll(state, ok);
      });
      if (!accepted) settlePoll(state, false);
    }
    settlePoll(state, true);
  }

  static std::string pollSenderId(const cb::fhir_plugin::ResourceFacts& f) {
    const std::string ref = f.resource_type + "/" + f.id;
    if (!f.version_id.empty()) return ref + "/_history/" + f.version_id;
    if (!f.last_updated.empty()) return ref + "@" + f.last_updated;
    return {};
  }

  void settlePoll(const std::shared_ptr<PollPage>& page, bool stored) {
    {
      std::lock_guard lock(page->mutex);
      page->all_stored = page->all_stored && stored;
      if (--page->outstanding != 0) return;
    }
    const std::string& type = poll_types_[page->type_index];
    if (!page->all_stored) {
      // Not everything was stored: keep the point, search again later (resends are detected as duplicates).
      host_.warn("polling " + type + ": not every resource was stored; the point stays where it was");
      host_.after(poll_interval_, [this] { pollNext(0); });
      return;
    }
    if (!page->newest.empty()) {
      {
        std::lock_guard lock(poll_mutex_);
        if (page->newest > points_[type]) points_[type] = page->newest;
      }
      if (!savePollState()) {
        host_.error("polling: cannot write " + poll_state_file_ + "; the point is kept in memory only");
      }
    }
    if (!page->next.empty()) {
      pollNext(page->type_index, page->next);
    } else {
      pollNext(page->type_index + 1);
    }
  }

  // ---- inbound

  void refuse(cb::sdk::HttpExchange& ex, Format format, unsigned status, std::string_view code,
              std::string_view diagnostics, const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    host_.count("refused");
    ex.respond(status, cb::fhir_plugin::contentTypeOf(format),
               cb::fhir_plugin::operationOutcome(format, "error", code, diagnostics), headers);
  }

  std::optional<Interaction> route(std::string_view method, std::string_view rest) const {
    // rest is what follows the base path: "", "/", "/metadata", "/Type", "/Type/id", "/$process-message".
    if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    if (rest.empty() || rest == "$process-message") {
      if (method == "POST") return Interaction{Interaction::Kind::kBundle, {}, {}};
      return std::nullopt;
    }
    if (rest == "metadata") {
      if (method == "GET") return Interaction{Interaction::Kind::kMetadata, {}, {}};
      return std::nullopt;
    }
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) {
      if (method == "POST") return Interaction{Interaction::Kind::kCreate, std::string(rest), {}};
      return std::nullopt;
    }
    if (rest.find('/', slash + 1) != std::string_view::npos) return std::nullopt;
    if (method == "PUT") {
      return Interaction{Interaction::Kind::kUpdate, std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))};
    }
    return std::nullopt;
  }

  // The sender's id for this submission, so that a resend is recognised:
  // a Bundle's identifier (a message's or transaction's own id), else the
  // resource's version (id + meta.versionId or meta.lastUpdated), else the
  // client's X-Request-ID, else for a create the client's own resource id.
  // An update with none of these is stored every time (it may be a new version).
  static std::string senderId(const cb::fhir_plugin::ResourceFacts& f, const Interaction& in,
                              std::optional<std::string_view> request_id) {
    if (f.resource_type == "Bundle" && !f.identifiers.empty()) {
      const auto& i = f.identifiers.front();
      return "Bundle.identifier:" + i.system + "|" + i.value;
    }
    const std::string ref = f.resource_type + "/" + f.id;
    if (!f.id.empty() && !f.version_id.empty()) return ref + "/_history/" + f.version_id;
    if (!f.id.empty() && !f.last_updated.empty()) return ref + "@" + f.last_updated;
    if (request_id && !request_id->empty()) return "X-Request-ID:" + std::string(*request_id);
    if (!f.id.empty() && in.kind != Interaction::Kind::kUpdate) return ref;
    return {};
  }

  void receive(cb::sdk::HttpExchange ex) {
    const std::string target(ex.target());
    const std::string path = target.substr(0, target.find('?'));
    const auto request_format = cb::fhir_plugin::formatFromContentType(ex.header("Content-Type").value_or(""));
    const Format answer =
        cb::fhir_plugin::formatFromAccept(ex.header("Accept").value_or(""), request_format.value_or(Format::kJson));
    if (!startsWith(path, base_path_) || (path.size() > base_path_.size() && path[base_path_.size()] != '/')) {
      refuse(ex, answer, 404, "not-found", "no FHIR endpoint at this path; the base is " + base_path_ + "/");
      return;
    }
    const auto in = route(ex.method(), std::string_view(path).substr(base_path_.size()));
    if (!in) {
      refuse(ex, answer, 405, "not-supported",
             "supported: POST [base] (transaction, batch or message Bundle), POST [base]/[type], "
             "PUT [base]/[type]/[id], GET [base]/metadata",
             {{"Allow", "GET, POST, PUT"}});
      return;
    }
    if (in->kind == Interaction::Kind::kMetadata) {
      ex.respond(200, cb::fhir_plugin::contentTypeOf(answer),
                 cb::fhir_plugin::capabilityStatement(answer, isoNow(host_.nowUnixMs())));
      return;
    }
    if (!request_format) {
      refuse(ex, answer, 415, "not-supported",
             "Content-Type must be application/fhir+json or application/fhir+xml (UTF-8)");
      return;
    }
    if (ex.body().empty()) {
      refuse(ex, answer, 400, "structure", "the request has no body");
      return;
    }
    const auto described = cb::fhir_plugin::describe(ex.body(), *request_format);
    if (!described.facts) {
      refuse(ex, answer, 400, "structure", described.error);
      return;
    }
    const auto& facts = *described.facts;
    if (in->kind == Interaction::Kind::kBundle) {
      if (facts.resource_type != "Bundle" ||
          (facts.bundle_type != "transaction" && facts.bundle_type != "batch" && facts.bundle_type != "message")) {
        // A collection or document Bundle (UK Core sends records this way) is
        // a resource in its own right: the sender is told where it belongs.
        refuse(ex, answer, 422, "processing",
               "POST to the base takes a Bundle of type transaction, batch or message; "
               "send any other Bundle (collection, document) as a resource: POST [base]/Bundle");
        return;
      }
    } else if (facts.resource_type != in->type) {
      // https://hl7.org/fhir/R4/http.html#create: the type in the URL and the body must agree.
      refuse(ex, answer, 400, "invalid", "the resource type in the body is not the type in the URL (" + in->type + ")");
      return;
    } else if (in->kind == Interaction::Kind::kUpdate && facts.id != in->id) {
      // https://hl7.org/fhir/R4/http.html#update: 400 when the id is missing or differs.
      refuse(ex, answer, 400, "invalid", "the resource's id must match the id in the URL");
      return;
    }
    cb::sdk::InboundRecord rec;
    const std::string sender = senderId(facts, *in, ex.header("X-Request-ID"));
    const std::string content_type = cb::fhir_plugin::contentTypeOf(*request_format);
    rec.sender_message_id = sender;
    rec.content_type = content_type;
    rec.record_type = facts.resource_type;
    rec.payload = ex.body();
    // The exchange (and the request buffers `rec` points into) must outlive
    // the submit call; the host copies the record before returning.
    auto shared = std::make_shared<cb::sdk::HttpExchange>(std::move(ex));
    const bool accepted = host_.submit(
        rec, [this, shared, answer, in = *in, facts](cb::sdk::SubmitResult result, std::string_view id,
                                                    std::string_view reason) {
          answerStored(*shared, answer, in, facts, result, id, reason);
        });
    if (!accepted) {
      refuse(*shared, answer, 503, "transient", "carebridge is stopping; send again later", {{"Retry-After", "5"}});
    }
  }

  void answerStored(cb::sdk::HttpExchange& ex, Format answer, const Interaction& in,
                    const cb::fhir_plugin::ResourceFacts& facts, cb::sdk::SubmitResult result, std::string_view id,
                    std::string_view reason) {
    const std::string ct = cb::fhir_plugin::contentTypeOf(answer);
    switch (result) {
      case cb::sdk::SubmitResult::Refused:
        refuse(ex, answer, 422, "processing", "refused: " + std::string(reason));
        return;
      case cb::sdk::SubmitResult::Unavailable:
        refuse(ex, answer, 503, "transient", "not stored; send again later", {{"Retry-After", "5"}});
        return;
      case cb::sdk::SubmitResult::Stored:
      case cb::sdk::SubmitResult::Duplicate:
        break;
    }
    const bool duplicate = result == cb::sdk::SubmitResult::Duplicate;
    host_.count(duplicate ? "duplicate" : "received");
    host_.debug(std::string(duplicate ? "resent " : "stored ") + facts.resource_type + " as message " + std::string(id));
    // Where the record can be asked about: its type and carebridge's id, or
    // for an update the sender's own id (https://hl7.org/fhir/R4/http.html#create).
    const std::string location = base_path_ + "/" + facts.resource_type + "/" +
                                 (in.kind == Interaction::Kind::kUpdate ? in.id : std::string(id));
    const std::vector<std::pair<std::string, std::string>> headers{{"Location", location},
                                                                    {"X-Carebridge-Message-Id", std::string(id)}};
    if (in.kind == Interaction::Kind::kBundle && facts.bundle_type != "message") {
      // A transaction or batch is answered with its response Bundle (https://hl7.org/fhir/R4/http.html#transaction-response).
      ex.respond(200, ct,
                 cb::fhir_plugin::transactionResponse(answer, facts.bundle_type + "-response", facts.entry_methods, location),
                 headers);
      return;
    }
    const std::string outcome = cb::fhir_plugin::operationOutcome(
        answer, "information", "informational",
        (duplicate ? "already received as message " : "stored as message ") + std::string(id));
    const unsigned status = duplicate || in.kind == Interaction::Kind::kUpdate ? 200u
                            : in.kind == Interaction::Kind::kBundle          ? 202u
                                                                             : 201u;
    ex.respond(status, ct, outcome, headers);
  }

  cb::sdk::Host host_;
  std::string listen_, base_path_;
  std::int64_t max_body_;
  std::string base_url_;
  std::chrono::milliseconds timeout_;
  bool conditional_create_;
  std::string identifier_system_;
  std::chrono::milliseconds poll_interval_;
  std::string poll_state_file_, poll_since_;
  std::vector<std::string> poll_types_;
  std::mutex poll_mutex_;
  std::map<std::string, std::string> points_;  // resource type -> the latest meta.lastUpdated stored
};

}  // namespace

CB_PLUGIN(FhirAdapter, "fhir", "1.0.0", "FHIR R4 REST over HTTPS with mutual TLS (create/update/Bundles in and out)",
          CB_CAP_INBOUND | CB_CAP_OUTBOUND, kKeys)
