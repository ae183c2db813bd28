#include "peers/fhir_server.h"

#include "net/https_server.h"
#include "peers/file_drop.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

namespace cb::sim {

namespace json = boost::json;

namespace {

constexpr const char* kFhirJson = "application/fhir+json; charset=utf-8";

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 section 2.1 percent-decoding ('+' stays '+': FHIR instants carry offsets).
std::string percentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::multimap<std::string, std::string> parseQuery(std::string_view q) {
  std::multimap<std::string, std::string> out;
  std::size_t at = 0;
  while (at < q.size()) {
    std::size_t amp = q.find('&', at);
    if (amp == std::string_view::npos) amp = q.size();
    const std::string_view pair = q.substr(at, amp - at);
    const std::size_t eq = pair.find('=');
    if (!pair.empty()) {
      out.emplace(percentDecode(pair.substr(0, eq)),
                  eq == std::string_view::npos ? std::string() : percentDecode(pair.substr(eq + 1)));
    }
    at = amp + 1;
  }
  return out;
}

std::string queryEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool validType(std::string_view t) {
  if (t.empty() || t.front() < 'A' || t.front() > 'Z') return false;
  return std::all_of(t.begin(), t.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); });
}

// FHIR id: [A-Za-z0-9\-\.]{1,64} (https://hl7.org/fhir/R4/datatypes.html#id).
bool validId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

net::HttpResponse outcome(unsigned status, const char* severity, const char* code, const std::string& diagnostics) {
  json::object issue;
  issue["severity"] = severity;
  issue["code"] = code;
  issue["diagnostics"] = diagnostics;
  json::object oo;
  oo["resourceType"] = "OperationOutcome";
  oo["issue"] = json::array{issue};
  return {status, {{"Content-Type", kFhirJson}}, json::serialize(oo)};
}

std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : std::string();
}

// "system|value" tokens of a resource's identifier(s): an array on most
// resources, a single Identifier on Bundle.
std::vector<std::string> identifierTokens(const json::object& r) {
  std::vector<std::string> out;
  auto it = r.find("identifier");
  if (it == r.end()) return out;
  auto add = [&](const json::value& v) {
    if (!v.is_object()) return;
    const std::string value = str(v.get_object(), "value");
    if (!value.empty()) out.push_back(str(v.get_object(), "system") + "|" + value);
  };
  if (it->value().is_array()) {
    for (const auto& v : it->value().get_array()) add(v);
  } else {
    add(it->value());
  }
  return out;
}

}  // namespace

struct FhirServer::State {
  struct Stored {
    std::string type, id;
    int version = 0;
    std::string last_updated;
    std::string text;
    std::vector<std::string> identifiers;
  };
  mutable std::mutex mutex;
  std::map<std::string, Stored> resources;  // "Type/id"
  std::uint64_t next_id = 1;
  std::int64_t last_stamp_ms = 0;
  std::unique_ptr<net::HttpsServer> server;

  // A strictly increasing instant (UTC, milliseconds), so that the order of
  // meta.lastUpdated is the order of storing and no two are equal.
  std::string stamp() {
    using namespace std::chrono;
    std::int64_t ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    if (ms <= last_stamp_ms) ms = last_stamp_ms + 1;
    last_stamp_ms = ms;
    const auto tp = sys_time<milliseconds>(milliseconds(ms));
    const auto day = floor<days>(tp);
    const year_month_day ymd{day};
    const hh_mm_ss<milliseconds> t{tp - day};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(t.hours().count()), static_cast<int>(t.minutes().count()),
                  static_cast<int>(t.seconds().count()), static_cast<int>(t.subseconds().count()));
    return buf;
  }

  std::vector<const Stored*> matching(const std::string& type, const std::string& token) const {
    // identifier=[system|]value (https://hl7.org/fhir/R4/search.html#token)
    std::vector<const Stored*> out;
    const bool any_system = token.find('|') == std::string::npos;
    for (const auto& [key, s] : resources) {
      if (s.type != type) continue;
      for (const auto& t : s.identifiers) {
        const bool hit = any_system ? t.substr(t.find('|') + 1) == token : t == token;
        if (hit) {
          out.push_back(&s);
          break;
        }
      }
    }
    return out;
  }
};

FhirServer::FhirServer(Options options) : options_(std::move(options)), state_(std::make_unique<State>()) {}
FhirServer::~FhirServer() { stop(); }

Result<std::unique_ptr<FhirServer>> FhirServer::start(boost::asio::io_context& io, Options options) {
  std::unique_ptr<FhirServer> self(new FhirServer(std::move(options)));
  if (!self->options_.save_dir.empty()) std::filesystem::create_directories(self->options_.save_dir);
  net::ServerOptions so;
  so.listen = self->options_.listen;
  so.tls = self->options_.tls;
  so.log_name = "sim.fhir";
  so.limits.body_limit = 16u << 20;
  FhirServer* raw = self.get();
  auto server = net::HttpsServer::start(io, so, [raw](net::HttpRequest&& req, net::Responder respond) {
    respond(raw->handle(req));
  });
  if (!server) return server.error();
  self->state_->server = std::move(*server);
  return self;
}

std::uint16_t FhirServer::port() const { return state_->server ? state_->server->port() : 0; }

void FhirServer::stop() {
  if (state_ && state_->server) state_->server->stop();
}

std::size_t FhirServer::count(const std::string& type) const {
  std::lock_guard lock(state_->mutex);
  return static_cast<std::size_t>(std::count_if(state_->resources.begin(), state_->resources.end(),
                                                [&](const auto& kv) { return kv.second.type == type; }));
}

namespace {

struct Written {
  unsigned status = 0;
  std::string location, type, id, text;
  int version = 0;
  std::string error;  // set: refused with this diagnostics (status 400/412)
};

}  // namespace

net::HttpResponse FhirServer::handle(const net::HttpRequest& req) {
  const std::string base = options_.base_path;
  std::string path = req.target, query;
  if (auto q = path.find('?'); q != std::string::npos) {
    query = path.substr(q + 1);
    path.resize(q);
  }
  const std::string* host = req.header("Host");
  const std::string origin = "https://" + (host != nullptr ? *host : std::string("localhost"));
  const std::string who = req.peer.common_name.empty() ? std::string("?") : req.peer.common_name;

  std::string note;  // what the log line adds: type/id and version
  net::HttpResponse res = [&]() -> net::HttpResponse {
    if (path != base && path.rfind(base + "/", 0) != 0) return outcome(404, "error", "not-found", "outside " + base);
    std::vector<std::string> parts;
    for (std::size_t at = base.size() + 1; at <= path.size() && path.size() > base.size();) {
      std::size_t slash = path.find('/', at);
      if (slash == std::string::npos) slash = path.size();
      parts.push_back(path.substr(at, slash - at));
      at = slash + 1;
    }

    // Stores one resource (create, conditional create, update) under the lock.
    auto write = [&](const std::string& method, const std::string& type, const std::string& url_id, json::value body,
                     const std::string& if_none_exist) -> Written {
      Written w;
      if (!body.is_object()) return {400, {}, {}, {}, {}, 0, "the body is not a JSON object"};
      json::object& r = body.get_object();
      if (str(r, "resourceType") != type) {
        return {400, {}, {}, {}, {}, 0, "resourceType is not " + type};
      }
      if (!if_none_exist.empty()) {
        const auto q = parseQuery(if_none_exist);
        auto it = q.find("identifier");
        if (it == q.end() || it->second.empty()) return {400, {}, {}, {}, {}, 0, "If-None-Exist must be identifier=..."};
        const auto hits = state_->matching(type, it->second);
        if (hits.size() > 1) return {412, {}, {}, {}, {}, 0, "more than one resource matches If-None-Exist"};
        if (hits.size() == 1) {
          // http.html#ccreate: one match, so the server does not create and answers 200.
          const auto* s = hits.front();
          return {200, base + "/" + s->type + "/" + s->id + "/_history/" + std::to_string(s->version), s->type, s->id,
                  s->text, s->version, {}};
        }
      }
      std::string id = url_id;
      if (method == "PUT") {
        if (!validId(id)) return {400, {}, {}, {}, {}, 0, "invalid id in the URL"};
        if (str(r, "id") != id) return {400, {}, {}, {}, {}, 0, "the resource's id differs from the URL's"};
      } else {
        id = "sim" + std::to_string(state_->next_id++);
      }
      auto& slot = state_->resources[type + "/" + id];
      const bool created = slot.version == 0;
      slot.type = type;
      slot.id = id;
      ++slot.version;
      slot.last_updated = state_->stamp();
      r["id"] = id;
      json::object meta;
      if (auto m = r.find("meta"); m != r.end() && m->value().is_object()) meta = m->value().get_object();
      meta["versionId"] = std::to_string(slot.version);
      meta["lastUpdated"] = slot.last_updated;
      r["meta"] = std::move(meta);
      slot.text = json::serialize(r);
      slot.identifiers = identifierTokens(r);
      if (!options_.save_dir.empty()) {
        writeFileAtomically(options_.save_dir, type + "-" + id + "-v" + std::to_string(slot.version) + ".json",
                            slot.text);
      }
      return {created ? 201u : 200u, base + "/" + type + "/" + id + "/_history/" + std::to_string(slot.version),
              type, id, slot.text, slot.version, {}};
    };
    auto answer = [&](const Written& w) -> net::HttpResponse {
      if (!w.error.empty()) return outcome(w.status, "error", w.status == 412 ? "multiple-matches" : "invalid", w.error);
      note = w.type + "/" + w.id + " v" + std::to_string(w.version);
      return {w.status,
              {{"Content-Type", kFhirJson},
               {"Location", origin + w.location},
               {"ETag", "W/\"" + std::to_string(w.version) + "\""}},
              w.text};
    };
    auto parseBody = [&](json::value& out) -> std::optional<net::HttpResponse> {
      boost::system::error_code ec;
      out = json::parse(req.body, ec);
      if (ec) return outcome(400, "error", "structure", "the body is not well-formed JSON");
      return std::nullopt;
    };

    std::lock_guard lock(state_->mutex);
    if (req.method == "GET" && parts.size() == 1 && parts[0] == "metadata") {
      json::array resources;
      for (const char* t : {"Patient", "Bundle", "QuestionnaireResponse", "ServiceRequest", "Flag", "Task"}) {
        json::object rsrc;
        rsrc["type"] = t;
        json::array ia;
        for (const char* code : {"create", "update", "read", "search-type"}) {
          json::object i;
          i["code"] = code;
          ia.emplace_back(std::move(i));
        }
        rsrc["interaction"] = std::move(ia);
        rsrc["conditionalCreate"] = true;
        json::object sp;
        sp["name"] = "_lastUpdated";
        sp["type"] = "date";
        json::object ip;
        ip["name"] = "identifier";
        ip["type"] = "token";
        rsrc["searchParam"] = json::array{sp, ip};
        resources.emplace_back(std::move(rsrc));
      }
      json::object rest;
      rest["mode"] = "server";
      rest["resource"] = std::move(resources);
      json::array ti;
      for (const char* code : {"transaction", "batch"}) {
        json::object i;
        i["code"] = code;
        ti.emplace_back(std::move(i));
      }
      rest["interaction"] = std::move(ti);
      json::object cs;
      cs["resourceType"] = "CapabilityStatement";
      cs["status"] = "active";
      cs["date"] = "2024-01-01";
      cs["kind"] = "instance";
      cs["software"] = json::object{{"name", "carebridge-sim"}};
      cs["fhirVersion"] = "4.0.1";
      cs["format"] = json::array{"application/fhir+json"};
      cs["rest"] = json::array{rest};
      return {200, {{"Content-Type", kFhirJson}}, json::serialize(cs)};
    }
    if (req.method == "POST" && parts.size() == 1 && validType(parts[0])) {
      json::value body;
      if (auto bad = parseBody(body)) return *bad;
      const std::string* ine = req.header("If-None-Exist");
      return answer(write("POST", parts[0], {}, std::move(body), ine != nullptr ? *ine : std::string()));
    }
    if (req.method == "PUT" && parts.size() == 2 && validType(parts[0])) {
      json::value body;
      if (auto bad = parseBody(body)) return *bad;
      return answer(write("PUT", parts[0], parts[1], std::move(body), {}));
    }
    if (req.method == "GET" && parts.size() == 2 && validType(parts[0])) {
      auto it = state_->resources.find(parts[0] + "/" + parts[1]);
      if (it == state_->resources.end()) return outcome(404, "error", "not-found", parts[0] + "/" + parts[1]);
      note = it->first;
      return {200, {{"Content-Type", kFhirJson}}, it->second.text};
    }
    if (req.method == "GET" && parts.size() == 1 && validType(parts[0])) {
      // Search (https://hl7.org/fhir/R4/search.html): _lastUpdated with the
      // gt/ge/lt/le prefixes, identifier, _count; _sort=_lastUpdated is the
      // order we always use.
      const auto q = parseQuery(query);
      std::vector<std::pair<std::string, std::string>> bounds;  // prefix, instant
      std::string token;
      std::size_t count = 100;
      for (const auto& [k, v] : q) {
        if (k == "_lastUpdated") {
          const std::string prefix = v.size() > 2 && std::isalpha(static_cast<unsigned char>(v[0])) ? v.substr(0, 2) : "eq";
          const std::string instant = prefix == "eq" && !std::isalpha(static_cast<unsigned char>(v[0])) ? v : v.substr(2);
          if (prefix != "gt" && prefix != "ge" && prefix != "lt" && prefix != "le" && prefix != "eq") {
            return outcome(400, "error", "not-supported", "_lastUpdated prefix " + prefix);
          }
          bounds.emplace_back(prefix, instant);
        } else if (k == "identifier") {
          token = v;
        } else if (k == "_count") {
          count = static_cast<std::size_t>(std::clamp(std::atoi(v.c_str()), 1, 1000));
        } else if (k != "_sort" && k != "_format") {
          return outcome(400, "error", "not-supported", "search parameter " + k);
        }
      }
      std::vector<const State::Stored*> hits;
      std::vector<const State::Stored*> candidates;
      if (!token.empty()) {
        candidates = state_->matching(parts[0], token);
      } else {
        for (const auto& [key, s] : state_->resources) {
          if (s.type == parts[0]) candidates.push_back(&s);
        }
      }
      // Instants are compared as text: ours are all UTC with milliseconds,
      // and a caller's bound is the lastUpdated of one we sent.
      for (const auto* s : candidates) {
        bool ok = true;
        for (const auto& [p, t] : bounds) {
          const int c = s->last_updated.compare(t);
          ok = ok && (p == "gt" ? c > 0 : p == "ge" ? c >= 0 : p == "lt" ? c < 0 : p == "le" ? c <= 0 : c == 0);
        }
        if (ok) hits.push_back(s);
      }
      std::sort(hits.begin(), hits.end(), [](auto* a, auto* b) { return a->last_updated < b->last_updated; });
      json::object bundle;
      bundle["resourceType"] = "Bundle";
      bundle["type"] = "searchset";
      bundle["total"] = hits.size();
      json::array links;
      json::object self;
      self["relation"] = "self";
      self["url"] = origin + req.target;
      links.emplace_back(std::move(self));
      if (hits.size() > count) {
        std::string next = origin + base + "/" + parts[0] + "?_lastUpdated=gt" +
                           queryEncode(hits[count - 1]->last_updated);
        for (const auto& [p, t] : bounds) {
          if (p == "lt" || p == "le") next += "&_lastUpdated=" + p + queryEncode(t);
        }
        if (!token.empty()) next += "&identifier=" + queryEncode(token);
        next += "&_sort=_lastUpdated&_count=" + std::to_string(count);
        json::object n;
        n["relation"] = "next";
        n["url"] = next;
        links.emplace_back(std::move(n));
        hits.resize(count);
      }
      bundle["link"] = std::move(links);
      json::array entries;
      for (const auto* s : hits) {
        json::object e;
        e["fullUrl"] = origin + base + "/" + s->type + "/" + s->id;
        e["resource"] = json::parse(s->text);
        e["search"] = json::object{{"mode", "match"}};
        entries.emplace_back(std::move(e));
      }
      bundle["entry"] = std::move(entries);
      note = std::to_string(hits.size()) + " " + parts[0];
      return {200, {{"Content-Type", kFhirJson}}, json::serialize(bundle)};
    }
    if (req.method == "POST" && parts.empty()) {
      // Batch and transaction (http.html#transaction): every entry carries
      // request.method and request.url; a transaction is all or nothing, so
      // every entry is checked before any is written.
      json::value body;
      if (auto bad = parseBody(body)) return *bad;
      if (!body.is_object() || str(body.get_object(), "resourceType") != "Bundle") {
        return outcome(400, "error", "invalid", "POST to the base takes a Bundle");
      }
      const std::string type = str(body.get_object(), "type");
      if (type != "transaction" && type != "batch") {
        return outcome(422, "error", "processing", "a Bundle posted to the base must be a transaction or batch");
      }
      struct Step {
        std::string method, rtype, id, if_none_exist;
        json::value resource;
        std::string error;
      };
      std::vector<Step> steps;
      if (auto e = body.get_object().find("entry"); e != body.get_object().end() && e->value().is_array()) {
        for (const auto& entry : e->value().get_array()) {
          Step s;
          const json::object* eo = entry.if_object();
          const json::object* rq = eo != nullptr && eo->contains("request") ? eo->at("request").if_object() : nullptr;
          if (rq == nullptr || eo->find("resource") == eo->end()) {
            s.error = "an entry without request or resource";
          } else {
            s.method = str(*rq, "method");
            const std::string url = str(*rq, "url");
            s.if_none_exist = str(*rq, "ifNoneExist");
            const auto slash = url.find('/');
            s.rtype = url.substr(0, slash);
            if (slash != std::string::npos) s.id = url.substr(slash + 1);
            s.resource = eo->at("resource");
            if ((s.method != "POST" && s.method != "PUT") || !validType(s.rtype) ||
                (s.method == "PUT" && s.id.empty())) {
              s.error = "entry request " + s.method + " " + url + " is not supported";
            } else if (!s.resource.is_object() || str(s.resource.get_object(), "resourceType") != s.rtype) {
              s.error = "entry resource is not a " + s.rtype;
            }
          }
          steps.push_back(std::move(s));
        }
      }
      if (type == "transaction") {
        for (const auto& s : steps) {
          if (!s.error.empty()) return outcome(400, "error", "invalid", "transaction refused: " + s.error);
        }
      }
      json::array responses;
      std::size_t stored = 0;
      for (auto& s : steps) {
        json::object response;
        if (!s.error.empty()) {
          response["status"] = "400 Bad Request";
        } else {
          const Written w = write(s.method, s.rtype, s.id, std::move(s.resource), s.if_none_exist);
          if (!w.error.empty()) {
            response["status"] = std::to_string(w.status) + (w.status == 412 ? " Precondition Failed" : " Bad Request");
          } else {
            response["status"] = std::to_string(w.status) + (w.status == 201 ? " Created" : " OK");
            response["location"] = w.location;
            response["etag"] = "W/\"" + std::to_string(w.version) + "\"";
            if (w.status == 201 || s.method == "PUT") ++stored;
          }
        }
        json::object e;
        e["response"] = std::move(response);
        responses.emplace_back(std::move(e));
      }
      json::object out;
      out["resourceType"] = "Bundle";
      out["type"] = type + "-response";
      out["entry"] = std::move(responses);
      note = type + " of " + std::to_string(steps.size()) + ", " + std::to_string(stored) + " stored";
      return {200, {{"Content-Type", kFhirJson}}, json::serialize(out)};
    }
    return outcome(405, "error", "not-supported", req.method + " " + path + " is not an interaction this server offers");
  }();

  if (options_.log) {
    options_.log("fhir " + req.method + " " + path + " " + std::to_string(res.status) +
                 (note.empty() ? std::string() : " " + note) + " from " + who);
  }
  return res;
}

}  // namespace cb::sim
