#include "admin/admin_api.h"

#include "audit/audit_event.h"
#include "audit/audit_query.h"
#include "audit/checkpointer.h"
#include "audit/log_verifier.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/log.h"
#include "pipeline/subject_key.h"
#include "policy/agreement_text.h"
#include "policy/policy_set.h"
#include "store/store.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace cb::admin {
namespace {

namespace json = boost::json;

std::shared_ptr<spdlog::logger> logger() {
  static auto lg = log::get("admin");
  return lg;
}

constexpr std::size_t kMaxLimit = 500;
constexpr std::size_t kMaxIds = 1000;

/// What a handler answers.
struct Reply {
  unsigned status = 200;
  json::value body;
};

Reply error(unsigned status, std::string message) { return {status, json::object{{"error", std::move(message)}}}; }

std::string utc(std::int64_t ms) { return ms > 0 ? formatUtc(ms) : std::string(); }

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// ---- request body helpers: a missing field is "", a wrong type is an error ----

struct Body {
  const json::object* object = nullptr;

  Result<std::string> text(const char* name, std::size_t max = 2000) const {
    const json::value* v = object ? object->if_contains(name) : nullptr;
    if (v == nullptr || v->is_null()) return std::string();
    if (!v->is_string()) return fail(std::string(name) + " must be a string");
    if (v->as_string().size() > max) return fail(std::string(name) + " is longer than " + std::to_string(max));
    return std::string(v->as_string());
  }
  Result<std::optional<std::int64_t>> integer(const char* name) const {
    const json::value* v = object ? object->if_contains(name) : nullptr;
    if (v == nullptr || v->is_null()) return std::optional<std::int64_t>();
    if (v->is_int64()) return std::optional<std::int64_t>(v->as_int64());
    if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
      return std::optional<std::int64_t>(static_cast<std::int64_t>(v->as_uint64()));
    }
    return fail(std::string(name) + " must be an integer");
  }
  Result<std::vector<std::int64_t>> ids(const char* name) const {
    const json::value* v = object ? object->if_contains(name) : nullptr;
    if (v == nullptr || !v->is_array() || v->as_array().empty()) {
      return fail(std::string(name) + " must be a non-empty array of delivery numbers");
    }
    if (v->as_array().size() > kMaxIds) return fail(std::string(name) + ": at most " + std::to_string(kMaxIds));
    std::vector<std::int64_t> out;
    for (const auto& e : v->as_array()) {
      if (!e.is_int64() || e.as_int64() < 0) return fail(std::string(name) + " must hold delivery numbers");
      out.push_back(e.as_int64());
    }
    return out;
  }
};

/// One parameter of the query string (no personal data ever travels there).
std::string queryParam(const std::string& target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string::npos) return {};
  std::string_view rest(target);
  rest.remove_prefix(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

json::object deliveryJson(const store::DeliveryInfo& d) {
  return {{"delivery", d.seq},
          {"message_id", d.message_id},
          {"state", store::toString(d.state)},
          {"destination", d.destination},
          {"route", d.route},
          {"record_type", d.record_type},
          {"attempts", d.attempts},
          {"last_error", d.last_error},
          {"received_at", utc(d.received_at_ms)},
          {"updated_at", utc(d.updated_at_ms)}};
}

json::array sarList(const std::vector<audit::SarDecision>& list) {
  json::array out;
  for (const auto& d : list) {
    json::object o{{"decided", utc(d.time_ms)},
                   {"to_organisation", d.destination_org},
                   {"to_system", d.destination},
                   {"from_organisation", d.source_org},
                   {"record_type", d.record_type},
                   {"message_id", d.message_id},
                   {"decision", d.decision},
                   {"rule", d.rule},
                   {"agreement", d.agreement},
                   {"flow", d.flow},
                   {"purpose", d.purpose},
                   {"lawful_basis", d.lawful_basis},
                   {"withheld", d.withheld},
                   {"explanation", d.explanation},
                   {"settled", d.settled},
                   {"audit_entry", d.seq}};
    if (d.delivered_ms) o["delivered"] = utc(*d.delivered_ms);
    if (d.delivered_seq) o["delivery_entry"] = *d.delivered_seq;
    out.push_back(std::move(o));
  }
  return out;
}

/// A whole-log verification run in the background, and what it found.
struct VerificationJob {
  std::mutex mutex;
  std::string state = "idle";  // idle | running | done | failed (could not read)
  std::string started_by;
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> total{0};
  std::optional<audit::LogVerification> result;
  std::string error;
  std::thread thread;
};

}  // namespace

struct AdminApi::Impl {
  /// The person calling, from their certificate and [[admin.user]].
  struct Caller {
    config::AdminUser user;
    audit::Actor actor() const { return audit::Actor::person(user.cn, user.organisation, joined(user.roles)); }
  };
  using Handler = Reply (Impl::*)(const Caller&, const Body&, const net::HttpRequest&, audit::AuditEvent&);
  struct Route {
    const char* method;
    const char* path;
    std::optional<Permission> permission;  ///< nullopt: any configured user
    bool reads_trail;                      ///< recorded as audit.viewed rather than admin.request
    Handler handler;
  };

  Impl(const config::AdminSettings& settings, ApiServices s)
      : services(std::move(s)), users(settings.users), csrf(settings.session_timeout), pool(2) {}

  ~Impl() {
    pool.join();
    if (job.thread.joinable()) job.thread.join();
  }

  // ---- the pipeline every call goes through ----

  void serve(const net::HttpRequest& req, const std::function<void(net::HttpResponse)>& respond) {
    const std::string path = req.target.substr(0, req.target.find('?'));
    const Route* route = nullptr;
    bool path_known = false;
    for (const auto& r : routes()) {
      if (path != r.path) continue;
      path_known = true;
      if (req.method == r.method) route = &r;
    }
    audit::AuditEvent e;
    e.action = audit::action::kAdminRequest;
    e.with("via", "admin-api").with("method", req.method).with("path", path);
    Reply reply;
    std::optional<Caller> caller;
    if (req.peer.common_name.empty()) {
      // Plain HTTP on loopback: nobody to hold to account, so no API.
      return respond(toHttp(error(403, "the admin API needs mutual TLS: configure [admin.tls] and [[admin.user]]")));
    }
    if (auto u = users.find(req.peer.common_name)) {
      caller = Caller{*u};
      e.actor = caller->actor();
    } else {
      // Someone the CA vouches for, but not a configured user: recorded.
      e.actor = audit::Actor::person(req.peer.common_name, "", "");
      e.with("reason", "certificate CN not in [[admin.user]]");
      reply = error(403, "your certificate (CN " + req.peer.common_name + ") is not a carebridge admin user");
      return finish(e, std::move(reply), respond);
    }
    if (route == nullptr) {
      reply = path_known ? error(405, "method not allowed") : error(404, "no such API call");
      return finish(e, std::move(reply), respond);
    }
    if (route->permission) e.with("permission", toString(*route->permission));
    if (req.method == "POST") {
      if (auto why = refuseForgery(req, caller->user.cn); !why.empty()) {
        e.with("reason", why);
        return finish(e, error(403, why), respond);
      }
    }
    if (route->permission && !allows(caller->user.roles, *route->permission)) {
      e.with("reason", "role does not allow " + std::string(toString(*route->permission)));
      return finish(e, error(403, "your role (" + joined(caller->user.roles) + ") does not allow this"), respond);
    }
    Body body;
    json::value parsed;
    if (req.method == "POST") {
      boost::system::error_code ec;
      parsed = json::parse(req.body, ec);
      if (ec || !parsed.is_object()) return finish(e, error(400, "the body must be a JSON object"), respond);
      body.object = &parsed.as_object();
    }
    if (route->reads_trail) e.action = audit::action::kViewed;
    try {
      reply = (this->*(route->handler))(*caller, body, req, e);
    } catch (const std::exception& ex) {
      logger()->error("admin API {} {}: {}", req.method, path, ex.what());
      reply = error(500, "internal error");
    }
    finish(e, std::move(reply), respond);
  }

  /// Records the call, then answers; if it cannot be recorded, nothing is shown.
  void finish(audit::AuditEvent& e, Reply reply, const std::function<void(net::HttpResponse)>& respond) {
    e.outcome = reply.status < 300 ? audit::outcome::kSuccess
                : reply.status == 403 ? audit::outcome::kRefused
                                      : audit::outcome::kFailure;
    e.with("status", std::to_string(reply.status));
    if (auto s = services.store->auditSync({std::move(e)}); !s) {
      logger()->error("admin API: the call could not be audited, refusing to answer: {}", s.error().message);
      reply = error(503, "the call could not be recorded in the audit trail, so it was not answered");
    }
    respond(toHttp(std::move(reply)));
  }

  static net::HttpResponse toHttp(Reply r) {
    net::HttpResponse out;
    out.status = r.status;
    out.body = json::serialize(r.body);
    out.body += "\n";
    out.headers = {{"Content-Type", "application/json; charset=utf-8"},
                   {"Cache-Control", "no-store"},
                   {"X-Content-Type-Options", "nosniff"},
                   {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"}};
    return out;
  }

  /// Why a POST looks forged, or "". A browser presents the client
  /// certificate to whichever page asks, so a state change must prove it
  /// came from our own page: a same-origin fetch (Sec-Fetch-Site, Origin),
  /// with a JSON body (a cross-site form cannot send one without a CORS
  /// preflight, which this server never grants) and the token of /api/me.
  std::string refuseForgery(const net::HttpRequest& req, const std::string& cn) const {
    if (const auto* site = req.header("Sec-Fetch-Site"); site && *site != "same-origin" && *site != "none") {
      return "cross-site request refused";
    }
    if (const auto* origin = req.header("Origin"); origin && *origin != "null") {
      const auto* host = req.header("Host");
      if (host == nullptr || *origin != "https://" + *host) return "cross-origin request refused";
    }
    const auto* type = req.header("Content-Type");
    if (type == nullptr || type->rfind("application/json", 0) != 0) return "the body must be application/json";
    const auto* token = req.header("X-CSRF-Token");
    switch (csrf.check(token ? *token : std::string(), cn, SystemClock::instance().nowUnixMs())) {
      case CsrfTokens::Check::Valid: return {};
      case CsrfTokens::Check::Missing: return "missing X-CSRF-Token: reload the page";
      case CsrfTokens::Check::Invalid: return "invalid X-CSRF-Token: reload the page";
      case CsrfTokens::Check::Expired: return "session expired: reload the page";
    }
    return "invalid X-CSRF-Token";
  }

  static const std::vector<Route>& routes() {
    using P = Permission;
    static const std::vector<Route> kRoutes = {
        {"GET", "/api/me", std::nullopt, false, &Impl::me},
        {"GET", "/api/health", P::Health, false, &Impl::health},
        {"GET", "/api/deliveries", P::Queues, false, &Impl::deliveries},
        {"POST", "/api/deliveries/replay", P::Replay, false, &Impl::replay},
        {"GET", "/api/holds", P::Holds, false, &Impl::holds},
        {"POST", "/api/holds/decide", P::DecideHolds, false, &Impl::decideHolds},
        {"POST", "/api/audit/search", P::AuditSearch, true, &Impl::search},
        {"POST", "/api/audit/sar", P::SubjectAccess, true, &Impl::sar},
        {"GET", "/api/agreements", P::Agreements, false, &Impl::agreements},
        {"GET", "/api/verification", P::Verification, true, &Impl::verification},
        {"POST", "/api/verification/run", P::RunVerification, true, &Impl::runVerification},
    };
    return kRoutes;
  }

  // ---- handlers ----

  Reply me(const Caller& c, const Body&, const net::HttpRequest&, audit::AuditEvent&) {
    json::array roles, perms;
    for (const auto& r : c.user.roles) roles.emplace_back(r);
    for (auto p : permissionsOf(c.user.roles)) perms.emplace_back(toString(p));
    return {200, json::object{{"cn", c.user.cn},
                              {"organisation", c.user.organisation},
                              {"roles", std::move(roles)},
                              {"permissions", std::move(perms)},
                              {"csrf_token", csrf.issue(c.user.cn, SystemClock::instance().nowUnixMs())},
                              {"session_ms", csrf.lifetime().count()}}};
  }

  Reply health(const Caller&, const Body&, const net::HttpRequest&, audit::AuditEvent&) {
    const std::string h = services.health ? services.health() : std::string();
    const std::string r = services.ready ? services.ready() : std::string();
    json::object o{{"healthy", h.empty()}, {"health", h}, {"ready", r.empty()}, {"readiness", r}};
    if (auto c = services.store->counts()) {
      o["counts"] = json::object{{"queued", c->queued},
                                 {"dead", c->dead},
                                 {"held", c->held},
                                 {"quarantined", c->quarantined},
                                 {"received_unrouted", c->received_unrouted}};
    }
    if (auto n = services.store->auditSize()) o["audit_entries"] = *n;
    return {200, std::move(o)};
  }

  Reply deliveries(const Caller&, const Body&, const net::HttpRequest& req, audit::AuditEvent& e) {
    store::DeliveryFilter f;
    const std::string state = queryParam(req.target, "state");
    if (!state.empty() && state != "all") {
      auto s = store::deliveryStateFrom(state);
      if (!s) return error(400, "state must be queued, delivered, dead, held, refused or all");
      f.state = *s;
    }
    f.limit = 200;
    const std::string limit = queryParam(req.target, "limit");
    if (!limit.empty()) {
      std::size_t n = 0;
      auto [p, ec] = std::from_chars(limit.data(), limit.data() + limit.size(), n);
      if (ec != std::errc() || p != limit.data() + limit.size() || n == 0) return error(400, "limit must be a number");
      f.limit = std::min(n, kMaxLimit);
    }
    e.with("state", state.empty() ? "all" : state);
    auto rows = services.store->deliveries(f);
    if (!rows) return error(500, rows.error().message);
    json::array out;
    for (const auto& d : *rows) out.push_back(deliveryJson(d));
    return {200, json::object{{"deliveries", std::move(out)}}};
  }

  Reply replay(const Caller& c, const Body& b, const net::HttpRequest&, audit::AuditEvent& e) {
    auto ids = b.ids("deliveries");
    if (!ids) return error(400, ids.error().message);
    auto reason = b.text("reason");
    if (!reason) return error(400, reason.error().message);
    if (blank(*reason)) return error(400, "a reason is required (it is recorded in the audit trail)");
    e.with("deliveries", idsText(*ids));
    auto done = services.store->replaySync(*ids, c.actor(), *reason);
    if (!done) return error(409, "nothing replayed: " + done.error().message);
    if (services.queued) services.queued(*done);
    json::array out;
    for (const auto& d : *done) out.push_back(deliveryJson(d));
    return {200, json::object{{"replayed", std::move(out)}}};
  }

  Reply holds(const Caller&, const Body&, const net::HttpRequest&, audit::AuditEvent&) {
    store::DeliveryFilter f;
    f.state = store::DeliveryState::Held;
    f.limit = 1000;
    auto rows = services.store->deliveries(f);
    if (!rows) return error(500, rows.error().message);
    json::array out;
    for (const auto& d : *rows) {
      json::object o = deliveryJson(d);
      auto held = audit::holdDecision(*services.store, d.message_id, d.destination);
      if (held && *held) {
        for (const char* k : {"agreement", "flow", "purpose", "lawful_basis", "rule", "approver", "withheld",
                              "explanation"}) {
          o[k] = (*held)->detail(k);
        }
        o["held_at"] = utc((*held)->time_ms);
        o["to_organisation"] = (*held)->destination_org;
        o["from_organisation"] = (*held)->source_org;
      }
      out.push_back(std::move(o));
    }
    return {200, json::object{{"holds", std::move(out)}}};
  }

  Reply decideHolds(const Caller& c, const Body& b, const net::HttpRequest&, audit::AuditEvent& e) {
    auto ids = b.ids("deliveries");
    if (!ids) return error(400, ids.error().message);
    auto decision = b.text("decision");
    if (!decision || (*decision != "approve" && *decision != "refuse")) {
      return error(400, "decision must be \"approve\" or \"refuse\"");
    }
    auto reason = b.text("reason");
    if (!reason) return error(400, reason.error().message);
    if (blank(*reason)) return error(400, "a reason is required (it is recorded in the audit trail with your name)");
    const bool approve = *decision == "approve";
    e.with("deliveries", idsText(*ids)).with("decision", *decision);
    auto done = services.store->decideHoldsSync(*ids, approve, c.actor(), *reason);
    if (!done) return error(409, "nothing changed: " + done.error().message);
    if (approve && services.queued) services.queued(*done);
    json::array out;
    for (const auto& d : *done) out.push_back(deliveryJson(d));
    return {200, json::object{{approve ? "approved" : "refused", std::move(out)}}};
  }

  Reply search(const Caller&, const Body& b, const net::HttpRequest&, audit::AuditEvent& e) {
    audit::AuditQuery q;
    auto nhs = b.text("nhs_number", 20);
    if (!nhs) return error(400, nhs.error().message);
    if (!blank(*nhs)) {
      auto key = services.keyer->nhsNumberKey(*nhs);
      if (!key) return error(400, "nhs_number: " + key.error().message);
      q.subject_keys.push_back(std::move(*key));
    }
    for (auto [name, slot] : {std::pair{"organisation", &q.organisation}, std::pair{"agreement", &q.agreement},
                              std::pair{"purpose", &q.purpose}, std::pair{"decision", &q.decision},
                              std::pair{"action", &q.action}, std::pair{"message_id", &q.message_id}}) {
      auto v = b.text(name, 200);
      if (!v) return error(400, v.error().message);
      *slot = *v;
    }
    for (auto [name, slot] : {std::pair{"from_ms", &q.from_ms}, std::pair{"to_ms", &q.to_ms}}) {
      auto v = b.integer(name);
      if (!v) return error(400, v.error().message);
      *slot = *v;
    }
    auto after = b.integer("after");
    auto limit = b.integer("limit");
    if (!after || !limit) return error(400, "after and limit must be integers");
    if (*after) q.after_seq = **after;
    q.limit = *limit ? static_cast<std::size_t>(std::clamp<std::int64_t>(**limit, 1, static_cast<std::int64_t>(kMaxLimit))) : 50;
    for (auto& [k, v] : audit::describe(q)) e.with(std::move(k), std::move(v));
    auto rows = audit::queryAudit(*services.store, q);
    if (!rows) return error(500, rows.error().message);
    json::array out;
    for (const auto& r : *rows) {
      json::object details;
      for (const auto& [k, v] : r.details()) details[k] = v;
      out.push_back(json::object{{"seq", r.seq},
                                 {"time", utc(r.time_ms)},
                                 {"action", r.action},
                                 {"outcome", r.outcome},
                                 {"actor", r.actor},
                                 {"message_id", r.message_id},
                                 {"record_type", r.record_type},
                                 {"source_org", r.source_org},
                                 {"destination_org", r.destination_org},
                                 {"agreement", r.agreement},
                                 {"purpose", r.purpose},
                                 {"decision", r.decision},
                                 {"details", std::move(details)}});
    }
    const bool more = rows->size() == q.limit;
    json::value next = nullptr;
    if (more) next = rows->back().seq;
    return {200, json::object{{"entries", std::move(out)}, {"next_after", next}}};
  }

  Reply sar(const Caller&, const Body& b, const net::HttpRequest&, audit::AuditEvent& e) {
    auto nhs = b.text("nhs_number", 20);
    if (!nhs) return error(400, nhs.error().message);
    if (blank(*nhs)) return error(400, "nhs_number is required");
    auto key = services.keyer->nhsNumberKey(*nhs);
    if (!key) return error(400, "nhs_number: " + key.error().message);
    e.with("subject_key", *key).with("report", "subject access");
    auto report = audit::subjectAccessReport(*services.store, {*key});
    if (!report) return error(500, report.error().message);
    return {200, json::object{{"generated", utc(SystemClock::instance().nowUnixMs())},
                              {"audit_entries", report->entries},
                              {"disclosures", sarList(report->disclosures)},
                              {"refusals", sarList(report->refusals)},
                              {"holds", sarList(report->holds)},
                              {"undelivered", sarList(report->undelivered)}}};
  }

  Reply agreements(const Caller&, const Body&, const net::HttpRequest&, audit::AuditEvent&) {
    auto set = services.agreements ? services.agreements() : nullptr;
    json::array out;
    if (set) {
      std::map<std::string, int> ending;
      for (const auto& e : set->endingWithin(60)) ending[e.id] = e.days_left;
      const auto now = std::chrono::system_clock::now();
      for (const auto& a : set->agreements()) {
        const char* status = a->inForceAt(now) ? "in force" : (now < a->validFrom() ? "not yet in force" : "ended");
        json::object o{{"id", a->id},
                       {"title", a->title},
                       {"version", a->version},
                       {"from", a->from.text},
                       {"end", a->end.text},
                       {"originally_to", a->to.text},
                       {"review", a->review.text},
                       {"status", status},
                       {"text", policy::agreementText(*a)}};
        if (auto it = ending.find(a->id); it != ending.end()) o["days_left"] = it->second;
        out.push_back(std::move(o));
      }
    }
    return {200, json::object{{"agreements", std::move(out)}, {"warn_days", 60}}};
  }

  Reply verification(const Caller&, const Body&, const net::HttpRequest&, audit::AuditEvent& e) {
    e.with("report", "verification status");
    json::object o;
    auto key = audit::configuredVerifierKey(services.audit);
    o["key"] = key && *key ? json::value((*key)->text()) : json::value(nullptr);
    if (!key) o["key_error"] = key.error().message;
    if (auto n = services.store->auditSize()) o["audit_entries"] = *n;
    auto latest = services.store->latestAuditCheckpoint();
    if (latest && *latest) {
      const auto& c = **latest;
      o["checkpoint"] = json::object{
          {"tree_size", c.tree_size}, {"root", toHex(c.root)}, {"signed", utc(c.time_s * 1000)}, {"note", c.note}};
    }
    std::lock_guard lock(job.mutex);
    json::object j{{"state", job.state},
                   {"started_by", job.started_by},
                   {"started", utc(job.started_ms)},
                   {"finished", utc(job.finished_ms)},
                   {"done", job.done.load()},
                   {"total", job.total.load()}};
    if (!job.error.empty()) j["error"] = job.error;
    if (job.result) {
      const auto& r = *job.result;
      json::object res{{"intact", r.intact},        {"entries", r.entries},     {"tree_size", r.tree_size},
                       {"checkpoints", r.checkpoints}, {"covered", r.covered}, {"problem", r.problem}};
      if (r.first_bad_entry) res["first_bad_entry"] = *r.first_bad_entry;
      if (r.bad_checkpoint) res["bad_checkpoint"] = *r.bad_checkpoint;
      if (r.latest_checkpoint_time) res["latest_checkpoint"] = utc(*r.latest_checkpoint_time * 1000);
      j["result"] = std::move(res);
    }
    o["run"] = std::move(j);
    return {200, std::move(o)};
  }

  Reply runVerification(const Caller& c, const Body&, const net::HttpRequest&, audit::AuditEvent& e) {
    e.with("report", "verification run");
    auto key = audit::configuredVerifierKey(services.audit);
    if (!key) return error(409, "the verifier key cannot be read: " + key.error().message);
    if (!*key) return error(409, "no verifier key: set [audit] verifier_key (or signing_key) in the configuration");
    std::lock_guard lock(job.mutex);
    if (job.state == "running") return error(409, "a verification is already running");
    if (job.thread.joinable()) job.thread.join();
    job.state = "running";
    job.started_by = c.user.cn;
    job.started_ms = SystemClock::instance().nowUnixMs();
    job.finished_ms = 0;
    job.done = 0;
    job.total = 0;
    job.result.reset();
    job.error.clear();
    job.thread = std::thread([this, verifier = **key, actor = c.actor()] { verify(verifier, actor); });
    return {202, json::object{{"state", "running"}}};
  }

  /// On the job's thread: verifies from a store connection of its own, as an
  /// outside auditor would, so the daemon's reads are not held up meanwhile.
  void verify(const audit::VerifierKey& key, const audit::Actor& actor) {
    std::optional<audit::LogVerification> result;
    std::string problem;
    store::StoreOptions so;
    so.path = services.store->path();
    auto st = store::Store::open(so);
    if (!st) {
      problem = st.error().message;
    } else {
      audit::LogVerifyOptions options;
      options.progress = [this](std::uint64_t done, std::uint64_t total) {
        job.done = done;
        job.total = total;
      };
      auto r = audit::verifyAuditLog(**st, key, options);
      if (r) {
        result = std::move(*r);
      } else {
        problem = r.error().message;
      }
    }
    // What was found is itself recorded, like `carebridge audit verify`.
    audit::AuditEvent e;
    e.actor = actor;
    e.action = audit::action::kViewed;
    e.outcome = result ? audit::outcome::kSuccess : audit::outcome::kFailure;
    e.with("via", "admin-api").with("report", "verification result").with("key", key.text());
    if (result) {
      e.with("entries", std::to_string(result->entries))
          .with("result", result->intact ? "verified" : "does not verify")
          .with("first_bad_entry", result->first_bad_entry ? std::to_string(*result->first_bad_entry) : "");
    }
    if (auto s = services.store->auditSync({std::move(e)}); !s) {
      logger()->error("admin API: the verification result could not be audited: {}", s.error().message);
      result.reset();
      problem = "the result could not be recorded in the audit trail, so it is not shown";
    }
    std::lock_guard lock(job.mutex);
    job.finished_ms = SystemClock::instance().nowUnixMs();
    job.result = std::move(result);
    job.error = problem;
    job.state = job.result ? "done" : "failed";
    if (job.result) job.done = job.total = job.result->entries;
    logger()->info("admin API: audit log verification finished: {}",
                   job.result ? (job.result->intact ? "intact" : "does not verify") : "could not run");
  }

  static std::string idsText(const std::vector<std::int64_t>& ids) {
    std::string s;
    for (auto id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
    return s;
  }

  ApiServices services;
  UserDirectory users;
  CsrfTokens csrf;
  boost::asio::thread_pool pool;
  VerificationJob job;
};

AdminApi::AdminApi(const config::AdminSettings& settings, ApiServices services)
    : impl_(std::make_unique<Impl>(settings, std::move(services))) {}

AdminApi::~AdminApi() = default;

void AdminApi::handle(net::HttpRequest&& request, std::function<void(net::HttpResponse)> respond) {
  boost::asio::post(impl_->pool, [impl = impl_.get(), req = std::move(request), respond = std::move(respond)] {
    try {
      impl->serve(req, respond);
    } catch (const std::exception& e) {
      logger()->error("admin API: {}", e.what());
      respond(net::HttpResponse{500, {{"Content-Type", "text/plain; charset=utf-8"}}, "internal error\n"});
    }
  });
}

void AdminApi::setUsers(std::vector<config::AdminUser> users) { impl_->users.replace(std::move(users)); }

}  // namespace cb::admin
