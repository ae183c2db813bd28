// The `mesh` adapter: an NHS MESH (Message Exchange for Social Care and
// Health) mailbox client following the public MESH API
// (https://digital.nhs.uk/developer/api-catalogue/message-exchange-for-social-care-and-health-api,
// github.com/NHSDigital/mesh-api-specification specification/mesh-api.yaml).
//
// Every request carries a fresh NHSMESH authorization token (mesh_auth.h):
// one nonce per session, its count raised on every request, so no token is
// ever used twice. A session begins with a handshake (POST /messageexchange/{mailbox})
// and is renewed every 24 hours, or at once when MESH answers 403 (token
// expired, nonce refused): the request is then sent once more on a new
// session. A handshake refused with 403 means the mailbox, password or shared
// key is wrong: deliveries fail for good until the settings are fixed.
//
// Outbound: tracking by Mex-LocalID (= our message id) first, so that a
// redelivery after a crash finds the earlier send instead of sending twice;
// the recipient's mailbox from `to_mailbox` or the endpoint lookup by ODS
// code and workflow; then POST .../outbox, in chunks (Mex-Chunk-Range) when
// the payload is larger than `chunk_size`.
// Inbound: the inbox is polled; each message is downloaded (all its chunks),
// handed to the host, and acknowledged only once the host has stored it.
//
// TLS (the client certificate MESH knows us by, the CA that vouches for
// MESH) comes from the adapter's [adapter.tls] through the host.
#include "mesh_auth.h"

#include <carebridge/plugin_sdk.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include <sys/stat.h>
#include <sys/utsname.h>

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

const cb_config_key kKeys[] = {
    {"url", CB_CONFIG_STRING, nullptr, "the MESH server, e.g. https://mesh-sync.spineservices.nhs.uk"},
    {"mailbox", CB_CONFIG_STRING, nullptr, "our MESH mailbox id (upper case), e.g. X26HC005"},
    {"password_file", CB_CONFIG_PATH, nullptr, "file holding the mailbox password"},
    {"shared_key_file", CB_CONFIG_PATH, nullptr, "file holding the MESH environment's shared secret"},
    {"timeout", CB_CONFIG_DURATION_MS, "60s", "time allowed for one request to MESH"},
    {"workflow_id", CB_CONFIG_STRING, "", "outbound: Mex-WorkflowID of the messages sent; empty = this adapter does not send"},
    {"to_mailbox", CB_CONFIG_STRING, "", "outbound: the recipient's mailbox; empty = looked up by to_ods and workflow_id"},
    {"to_ods", CB_CONFIG_STRING, "", "outbound: the recipient organisation's ODS code, for the endpoint lookup"},
    {"subject", CB_CONFIG_STRING, "", "outbound: Mex-Subject, fixed text that must never carry personal data; empty = none"},
    {"chunk_size", CB_CONFIG_INT, "10485760", "outbound: payloads larger than this many bytes are sent in chunks"},
    {"track_before_send", CB_CONFIG_BOOL, "true",
     "outbound: ask MESH's tracking for our message id before sending, so a redelivery is not a second message"},
    {"lookup_ttl", CB_CONFIG_DURATION_MS, "1h", "outbound: how long an endpoint lookup's answer is reused"},
    {"receive", CB_CONFIG_BOOL, "false", "inbound: poll the mailbox's inbox and hand its messages to carebridge"},
    {"poll_interval", CB_CONFIG_DURATION_MS, "5m", "inbound: time between inbox polls (MESH asks for no more often than 5 minutes)"},
    {"content_type", CB_CONFIG_STRING, "",
     "inbound: content type given to received messages; empty = the Content-Type MESH gives"},
};

constexpr std::size_t kInboxPage = 500;  // MESH lists at most 500 ids per poll
constexpr auto kSessionLifetime = 24h;    // "validate your mailbox once every 24 hours"

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Percent-encodes a path segment or query value (RFC 3986 section 2.1).
std::string encode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Reads a secret from its file: the first line, without its line ending.
std::string readSecret(const std::string& key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw cb::sdk::ConfigError(key + ": cannot read '" + path + "'");
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ')) line.pop_back();
  if (line.empty()) throw cb::sdk::ConfigError(key + ": '" + path + "' is empty");
  return line;
}

std::string stringField(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return {};
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_int64()) return std::to_string(v->as_int64());
  return {};
}

// MESH's error answers: {"errorEvent", "errorCode", "errorDescription"} (v1)
// or {"detail": [{"event", "code", "msg"}]} (v2). Returns "error <code>: <description>".
std::string meshError(std::string_view body) {
  boost::system::error_code ec;
  const auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto& o = v.as_object();
  std::string code = stringField(o, "errorCode");
  std::string text = stringField(o, "errorDescription");
  if (const auto* detail = o.if_contains("detail"); detail != nullptr && detail->is_array() && !detail->as_array().empty() &&
                                                     detail->as_array().front().is_object()) {
    const auto& d = detail->as_array().front().as_object();
    if (code.empty()) code = stringField(d, "code");
    if (text.empty()) text = stringField(d, "msg");
  }
  if (code.empty() && text.empty()) return {};
  return "error " + (code.empty() ? std::string("?") : code) + ": " + text;
}

std::string extensionFor(std::string_view content_type) {
  const std::string ct = lower(std::string(content_type));
  if (ct.find("json") != std::string::npos) return ".json";
  if (ct.find("xml") != std::string::npos) return ".xml";
  if (ct.find("hl7-v2") != std::string::npos) return ".hl7";
  if (startsWith(ct, "text/")) return ".txt";
  return ".dat";
}

std::string clientOs() {
  utsname u{};
  if (uname(&u) != 0) return "Linux";
  return u.sysname;
}

std::string clientOsVersion() {
  utsname u{};
  if (uname(&u) != 0) return "unknown";
  return u.release;
}

// Why an exchange with MESH did not succeed, and whether trying again may help.
struct Failure {
  bool permanent = false;
  std::string reason;
  std::chrono::milliseconds after{0};
};

// An answer from MESH, or a failure before any request was sent (no session).
struct Answer {
  std::optional<Failure> failure;
  cb::sdk::HttpResult http;
};

// One request to MESH, described without its Authorization header (each
// attempt gets a new token).
struct Call {
  std::string method;
  std::string path;  // below the server's URL, e.g. /messageexchange/X26HC005/inbox
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string what;      // for messages: "send", "inbox poll", ...
  bool anyway = false;  // sent even while stopping (an acknowledgement of a stored message)
};

// One delivery's progress through lookup, tracking and upload.
struct Send {
  std::string message_id;
  std::string content_type;
  std::string_view payload;  // host-owned until `done` reports
  cb::sdk::DeliveryDone done;
  std::string to;
  std::string mesh_id;
  std::size_t chunks = 1;
  explicit Send(cb::sdk::DeliveryDone&& d) : done(std::move(d)) {}
};

class MeshAdapter final : public cb::sdk::Adapter {
 public:
  MeshAdapter(cb::sdk::Host host, const cb::sdk::Config& c)
      : host_(host),
        url_(c.str("url")),
        mailbox_(c.str("mailbox")),
        timeout_(c.duration("timeout")),
        workflow_(c.str("workflow_id")),
        to_mailbox_(c.str("to_mailbox")),
        to_ods_(c.str("to_ods")),
        subject_(c.str("subject")),
        chunk_size_(c.integer("chunk_size")),
        track_before_send_(c.boolean("track_before_send")),
        lookup_ttl_(c.duration("lookup_ttl")),
        receive_(c.boolean("receive")),
        poll_interval_(c.duration("poll_interval")),
        content_type_(c.str("content_type")) {
    if (!startsWith(url_, "https://")) throw cb::sdk::ConfigError("url must start with https:// (MESH needs mutual TLS)");
    while (!url_.empty() && url_.back() == '/') url_.pop_back();
    if (url_.find("/messageexchange") != std::string::npos) {
      throw cb::sdk::ConfigError("url is the server only, without /messageexchange (e.g. https://mesh-sync.spineservices.nhs.uk)");
    }
    if (mailbox_.empty() || mailbox_.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != std::string::npos) {
      throw cb::sdk::ConfigError("mailbox must be the MESH mailbox id in upper case letters and digits, e.g. X26HC005");
    }
    password_ = readSecret("password_file", c.str("password_file"));
    shared_key_ = readSecret("shared_key_file", c.str("shared_key_file"));
    for (const char* key : {"password_file", "shared_key_file"}) {
      struct stat st {};
      if (::stat(c.str(key).c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
        host_.warn(std::string(key) + " can be read by other users; chmod 600 it");
      }
    }
    if (!workflow_.empty() && to_mailbox_.empty() && to_ods_.empty()) {
      throw cb::sdk::ConfigError("workflow_id needs to_mailbox, or to_ods for the endpoint lookup of the recipient's mailbox");
    }
    if (workflow_.empty() && (!to_mailbox_.empty() || !to_ods_.empty() || !subject_.empty())) {
      throw cb::sdk::ConfigError("to_mailbox, to_ods and subject are for sending: set workflow_id too");
    }
    if (workflow_.empty() && !receive_) {
      throw cb::sdk::ConfigError("set workflow_id (to send), receive = true (to poll the inbox) or both");
    }
    if (chunk_size_ <= 0) throw cb::sdk::ConfigError("chunk_size must be a positive number of bytes");
    if (poll_interval_ <= 0ms) throw cb::sdk::ConfigError("poll_interval must be positive");
    if (timeout_ <= 0ms) throw cb::sdk::ConfigError("timeout must be positive");
  }

  void start() override {
    if (receive_) {
      host_.after(0ms, [this] { poll(); });
      host_.info("polling MESH mailbox " + mailbox_ + "'s inbox every " + std::to_string(poll_interval_.count()) + " ms");
    }
    if (!workflow_.empty()) {
      host_.info("sending workflow " + workflow_ + " from mailbox " + mailbox_ + " to " +
                 (to_mailbox_.empty() ? "the mailbox registered for ODS code " + to_ods_ : "mailbox " + to_mailbox_));
    }
  }

  void stop() override { stopping_ = true; }

  void deliver(const cb::sdk::Delivery& d, cb::sdk::DeliveryDone&& done) override {
    if (workflow_.empty()) {
      done.fail("adapter has no workflow_id: it only receives");
      return;
    }
    auto job = std::make_shared<Send>(std::move(done));
    job->message_id = std::string(d.message_id);
    job->content_type = std::string(d.content_type);
    job->payload = d.payload;
    const auto size = static_cast<std::size_t>(chunk_size_);
    job->chunks = job->payload.empty() ? 1 : (job->payload.size() + size - 1) / size;
    resolveRecipient(job);
  }

 private:
  // ---- session and authorization

  // Runs `fn` once there is a session (after a handshake if needed), or with
  // the handshake's failure.
  void withSession(std::function<void(const std::optional<Failure>&)> fn) {
    {
      std::unique_lock lock(session_mutex_);
      const bool fresh = !nonce_.empty() && host_.nowUnixMs() - session_since_ms_ <
                                                std::chrono::duration_cast<std::chrono::milliseconds>(kSessionLifetime).count();
      if (!fresh) {
        waiting_.push_back(std::move(fn));
        if (handshaking_) return;
        handshaking_ = true;
      } else {
        lock.unlock();
        fn(std::nullopt);
        return;
      }
    }
    handshake();
  }

  // Validates the mailbox (POST /messageexchange/{mailbox}) with a new nonce.
  void handshake() {
    const std::string nonce = cb::mesh_plugin::newNonce();
    cb::sdk::HttpRequestSpec spec;
    spec.method = "POST";
    spec.url = url_ + "/messageexchange/" + encode(mailbox_);
    spec.timeout = timeout_;
    spec.headers = {{"Authorization", token(nonce, 0)},
                    {"Mex-ClientVersion", "carebridge==1.0.0"},
                    {"Mex-OSName", clientOs()},
                    {"Mex-OSVersion", clientOsVersion()},
                    {"Accept", "application/json"}};
    host_.count("handshake");
    const bool sent = host_.request(spec, [this, nonce](const cb::sdk::HttpResult& r) {
      std::optional<Failure> failure;
      if (r.status >= 200 && r.status < 300) {
        host_.debug("MESH handshake for mailbox " + mailbox_ + " accepted");
      } else if (r.status == 0) {
        failure = Failure{false, "MESH handshake: " + transportError(r), 0ms};
      } else if (r.status == 403 || r.status == 401) {
        host_.count("auth_refused");
        failure = Failure{true,
                          "MESH refused mailbox " + mailbox_ + "'s credentials at the handshake (HTTP " +
                              std::to_string(r.status) + describe(r) +
                              "): check mailbox, password_file, shared_key_file and the clock",
                          0ms};
        host_.error(failure->reason);
      } else {
        failure = classify(r, "handshake");
      }
      std::vector<std::function<void(const std::optional<Failure>&)>> waiting;
      {
        std::lock_guard lock(session_mutex_);
        if (!failure) {
          nonce_ = nonce;
          nonce_count_ = 1;
          session_since_ms_ = host_.nowUnixMs();
        }
        handshaking_ = false;
        waiting.swap(waiting_);
      }
      for (auto& fn : waiting) fn(failure);
    });
    if (!sent) {
      std::vector<std::function<void(const std::optional<Failure>&)>> waiting;
      {
        std::lock_guard lock(session_mutex_);
        handshaking_ = false;
        waiting.swap(waiting_);
      }
      for (auto& fn : waiting) fn(Failure{false, "could not start the MESH handshake (adapter stopping)", 0ms});
    }
  }

  std::string token(const std::string& nonce, std::uint64_t count) const {
    return cb::mesh_plugin::authorization(mailbox_, nonce, count, password_,
                                          cb::mesh_plugin::meshTimestamp(host_.nowUnixMs()), shared_key_);
  }

  // Ends the session that used `nonce` (not a newer one another request began).
  void endSession(const std::string& nonce) {
    std::lock_guard lock(session_mutex_);
    if (nonce_ == nonce) nonce_.clear();
  }

  // Sends `call` with a new token; on 403 begins a new session and sends it
  // once more. `done` gets the final answer.
  void exchange(Call call, std::function<void(const Answer&)> done, bool again = false) {
    if (stopping_ && !call.anyway) {
      done(Answer{Failure{false, "adapter is stopping", 0ms}, {}});
      return;
    }
    withSession([this, call = std::move(call), done = std::move(done), again](const std::optional<Failure>& f) mutable {
      if (f) {
        done(Answer{f, {}});
        return;
      }
      std::string nonce;
      std::uint64_t count = 0;
      {
        std::lock_guard lock(session_mutex_);
        nonce = nonce_;
        count = nonce_count_++;
      }
      cb::sdk::HttpRequestSpec spec;
      spec.method = call.method;
      spec.url = url_ + call.path;
      spec.timeout = timeout_;
      spec.headers = call.headers;
      spec.headers.emplace_back("Authorization", token(nonce, count));
      spec.body = call.body;
      auto shared = std::make_shared<std::pair<Call, std::function<void(const Answer&)>>>(std::move(call), std::move(done));
      const bool sent = host_.request(spec, [this, shared, nonce, again](const cb::sdk::HttpResult& r) {
        if ((r.status == 403 || r.status == 401) && !again) {
          // Expired or refused token: a new handshake, then this request once more.
          host_.count("auth_refused");
          host_.warn("MESH refused the token for " + shared->first.what + " (HTTP " + std::to_string(r.status) +
                     describe(r) + "); handshaking again");
          endSession(nonce);
          exchange(std::move(shared->first), std::move(shared->second), true);
          return;
        }
        shared->second(Answer{std::nullopt, r});
      });
      if (!sent) shared->second(Answer{Failure{false, "could not start the request to MESH (adapter stopping)", 0ms}, {}});
    });
  }

  static std::string transportError(const cb::sdk::HttpResult& r) {
    if (r.timed_out) return "no answer from MESH in time";
    return r.tls_refused ? "MESH server certificate not verified: " + r.error : r.error;
  }

  static std::string describe(const cb::sdk::HttpResult& r) {
    const std::string e = meshError(r.body);
    return e.empty() ? std::string() : ", " + e;
  }

  // Turns an unsuccessful answer into a failure: no answer, 403 after a new
  // handshake, 408, 429 and 5xx are worth retrying; other 4xx are not.
  std::optional<Failure> classify(const cb::sdk::HttpResult& r, const std::string& what) const {
    if (r.status >= 200 && r.status < 300) return std::nullopt;
    if (r.status == 0) return Failure{false, "MESH " + what + ": " + transportError(r), 0ms};
    const std::string status = "MESH " + what + ": HTTP " + std::to_string(r.status) + describe(r);
    if (r.status == 403 || r.status == 401) return Failure{false, status + " (refused again after a new handshake)", 0ms};
    if (r.status == 408 || r.status == 429 || r.status >= 500) {
      std::chrono::milliseconds after = 0ms;
      if (auto ra = r.header("Retry-After"); ra && !ra->empty() && ra->size() < 8 &&
                                             ra->find_first_not_of("0123456789") == std::string::npos) {
        after = std::chrono::seconds(std::stoll(*ra));
      }
      return Failure{false, status, after};
    }
    return Failure{true, status, 0ms};
  }

  void settle(const std::shared_ptr<Send>& job, const Failure& f) {
    if (f.permanent) {
      host_.count("failed");
      job->done.fail("message " + job->message_id + ": " + f.reason);
    } else {
      host_.count("retry");
      job->done.retry("message " + job->message_id + ": " + f.reason, f.after);
    }
  }

  std::string mailboxPath() const { return "/messageexchange/" + encode(mailbox_); }

  // ---- outbound

  void resolveRecipient(const std::shared_ptr<Send>& job) {
    if (!to_mailbox_.empty()) {
      job->to = to_mailbox_;
      track(job);
      return;
    }
    {
      std::lock_guard lock(lookup_mutex_);
      if (!looked_up_.empty() && host_.nowUnixMs() < looked_up_until_ms_) {
        job->to = looked_up_;
        track(job);
        return;
      }
    }
    // GET /messageexchange/endpointlookup/{ods_code}/{workflow_id}
    Call call{"GET", "/messageexchange/endpointlookup/" + encode(to_ods_) + "/" + encode(workflow_),
              {{"Accept", "application/json"}}, "", "endpoint lookup", false};
    exchange(std::move(call), [this, job](const Answer& a) {
      if (a.failure) return settle(job, *a.failure);
      if (auto f = classify(a.http, "endpoint lookup for ODS code " + to_ods_)) return settle(job, *f);
      const std::string mailbox = firstAddress(a.http.body);
      if (mailbox.empty()) {
        return settle(job, Failure{true,
                                   "MESH endpoint lookup found no mailbox for ODS code " + to_ods_ + " and workflow " +
                                       workflow_ + " (set to_mailbox, or ask the recipient to register the workflow)",
                                   0ms});
      }
      {
        std::lock_guard lock(lookup_mutex_);
        looked_up_ = mailbox;
        looked_up_until_ms_ = host_.nowUnixMs() + lookup_ttl_.count();
      }
      host_.info("MESH endpoint lookup: ODS code " + to_ods_ + ", workflow " + workflow_ + " -> mailbox " + mailbox);
      job->to = mailbox;
      track(job);
    });
  }

  // {"query_id": ..., "results": [{"endpoint_type": "MESH", "address": "X26HC022", ...}]}
  static std::string firstAddress(std::string_view body) {
    boost::system::error_code ec;
    const auto v = json::parse(body, ec);
    if (ec || !v.is_object()) return {};
    const auto* results = v.as_object().if_contains("results");
    if (results == nullptr || !results->is_array()) return {};
    for (const auto& r : results->as_array()) {
      if (r.is_string()) return std::string(r.as_string());
      if (!r.is_object()) continue;
      const auto& o = r.as_object();
      const std::string type = stringField(o, "endpoint_type");
      if (!type.empty() && type != "MESH") continue;
      const std::string address = stringField(o, "address");
      if (!address.empty()) return address;
    }
    return {};
  }

  // GET .../outbox/tracking?localID=<our message id>: a message MESH already
  // has from us under this id (upload complete) means an earlier attempt got
  // through, whatever became of its answer.
  void track(const std::shared_ptr<Send>& job) {
    if (!track_before_send_) {
      upload(job);
      return;
    }
    Call call{"GET", mailboxPath() + "/outbox/tracking?localID=" + encode(job->message_id),
              {{"Accept", "application/json"}}, "", "tracking", false};
    exchange(std::move(call), [this, job](const Answer& a) {
      if (a.failure) return settle(job, *a.failure);
      const unsigned s = a.http.status;
      if (s == 200 || s == 300) {
        const std::string earlier = sentBefore(a.http.body);
        if (!earlier.empty()) {
          host_.count("already_sent");
          host_.info("message " + job->message_id + " was sent before as MESH message " + earlier + "; not sending again");
          job->done.ok(earlier);
          return;
        }
        upload(job);
        return;
      }
      if (s == 404 || s == 410 || s == 400 || s == 405) {
        upload(job);  // not known (or tracking by local id not offered): send
        return;
      }
      if (auto f = classify(a.http, "tracking")) return settle(job, *f);
      upload(job);
    });
  }

  // The MESH id of a complete message in a tracking answer (one object, or
  // several for a local id used more than once); empty if there is none.
  static std::string sentBefore(std::string_view body) {
    boost::system::error_code ec;
    const auto v = json::parse(body, ec);
    if (ec) return {};
    std::vector<const json::object*> entries;
    if (v.is_object()) entries.push_back(&v.as_object());
    if (v.is_array()) {
      for (const auto& e : v.as_array()) {
        if (e.is_object()) entries.push_back(&e.as_object());
      }
    }
    for (const auto* e : entries) {
      std::string id = stringField(*e, "messageId");
      if (id.empty()) id = stringField(*e, "message_id");
      const std::string status = lower(stringField(*e, "status"));
      // An upload that never finished (a crash between chunks) was never
      // delivered: send the message again.
      if (!id.empty() && status != "uploading" && status != "incomplete") return id;
    }
    return {};
  }

  // POST .../outbox with the first (or only) chunk.
  void upload(const std::shared_ptr<Send>& job) {
    Call call;
    call.method = "POST";
    call.path = mailboxPath() + "/outbox";
    call.what = "send";
    call.headers = {{"Content-Type", job->content_type.empty() ? "application/octet-stream" : job->content_type},
                    {"Accept", "application/json"},
                    {"Mex-From", mailbox_},
                    {"Mex-To", job->to},
                    {"Mex-WorkflowID", workflow_},
                    // Our id, never personal data: tracking finds the message by it.
                    {"Mex-LocalID", job->message_id},
                    {"Mex-FileName", job->message_id + extensionFor(job->content_type)},
                    {"Mex-Content-Compressed", "N"}};
    if (!subject_.empty()) call.headers.emplace_back("Mex-Subject", subject_);
    if (job->chunks > 1) call.headers.emplace_back("Mex-Chunk-Range", "1:" + std::to_string(job->chunks));
    call.body = std::string(chunk(*job, 1));
    exchange(std::move(call), [this, job](const Answer& a) {
      if (a.failure) return settle(job, *a.failure);
      if (auto f = classify(a.http, "send")) return settle(job, *f);
      job->mesh_id = messageIdOf(a.http.body);
      if (job->mesh_id.empty()) {
        return settle(job, Failure{false, "MESH accepted the message without a messageID", 0ms});
      }
      if (job->chunks == 1) return sent(job);
      uploadChunk(job, 2);
    });
  }

  std::string_view chunk(const Send& job, std::size_t n) const {
    const auto size = static_cast<std::size_t>(chunk_size_);
    const std::size_t from = (n - 1) * size;
    if (from >= job.payload.size()) return {};
    return job.payload.substr(from, size);
  }

  // POST .../outbox/{message_id}/{n} with Mex-Chunk-Range n:N, in order.
  void uploadChunk(const std::shared_ptr<Send>& job, std::size_t n) {
    Call call;
    call.method = "POST";
    call.path = mailboxPath() + "/outbox/" + encode(job->mesh_id) + "/" + std::to_string(n);
    call.what = "chunk " + std::to_string(n) + " of " + std::to_string(job->chunks);
    call.headers = {{"Content-Type", "application/octet-stream"},
                    {"Accept", "application/json"},
                    {"Mex-Chunk-Range", std::to_string(n) + ":" + std::to_string(job->chunks)}};
    call.body = std::string(chunk(*job, n));
    exchange(std::move(call), [this, job, n](const Answer& a) {
      if (a.failure) return settle(job, *a.failure);
      if (auto f = classify(a.http, "chunk " + std::to_string(n) + " of " + std::to_string(job->chunks) + " of " + job->mesh_id)) {
        return settle(job, *f);
      }
      if (n == job->chunks) return sent(job);
      uploadChunk(job, n + 1);
    });
  }

  void sent(const std::shared_ptr<Send>& job) {
    host_.count("delivered");
    host_.debug("message " + job->message_id + " sent to mailbox " + job->to + " as MESH message " + job->mesh_id +
                (job->chunks > 1 ? " in " + std::to_string(job->chunks) + " chunks" : std::string()));
    job->done.ok(job->mesh_id);
  }

  static std::string messageIdOf(std::string_view body) {
    boost::system::error_code ec;
    const auto v = json::parse(body, ec);
    if (ec || !v.is_object()) return {};
    for (const char* key : {"messageID", "messageId", "message_id"}) {
      std::string id = stringField(v.as_object(), key);
      if (!id.empty()) return id;
    }
    return {};
  }

  // ---- inbound

  // One poll: the inbox's ids, then each message in turn.
  struct Poll {
    std::vector<std::string> ids;
    std::size_t next = 0;
  };

  void poll() {
    if (stopping_) return;
    Call call{"GET", mailboxPath() + "/inbox", {{"Accept", "application/json"}}, "", "inbox poll", false};
    exchange(std::move(call), [this](const Answer& a) {
      if (stopping_) return;
      auto failure = a.failure ? a.failure : classify(a.http, "inbox poll");
      if (failure) {
        host_.warn(failure->reason + "; polling again in " + std::to_string(poll_interval_.count()) + " ms");
        pollLater();
        return;
      }
      auto p = std::make_shared<Poll>();
      boost::system::error_code ec;
      const auto v = json::parse(a.http.body, ec);
      if (!ec && v.is_object()) {
        if (const auto* m = v.as_object().if_contains("messages"); m != nullptr && m->is_array()) {
          for (const auto& id : m->as_array()) {
            if (id.is_string()) p->ids.emplace_back(id.as_string());
          }
        }
      }
      if (ec) host_.warn("MESH inbox poll: the answer is not JSON");
      if (!p->ids.empty()) host_.debug("MESH inbox has " + std::to_string(p->ids.size()) + " message(s)");
      nextMessage(p);
    });
  }

  void pollLater(bool at_once = false) {
    if (stopping_) return;
    host_.after(at_once ? 0ms : poll_interval_, [this] { poll(); });
  }

  void nextMessage(const std::shared_ptr<Poll>& p) {
    if (stopping_) return;
    while (p->next < p->ids.size()) {
      bool skip = false;
      {
        std::lock_guard lock(refused_mutex_);
        skip = refused_.count(p->ids[p->next]) != 0;
      }
      if (!skip) break;
      ++p->next;
    }
    if (p->next >= p->ids.size()) {
      // A full page means more may be waiting: poll again at once.
      pollLater(p->ids.size() >= kInboxPage);
      return;
    }
    download(p, p->ids[p->next++]);
  }

  // A message being downloaded: its first answer's headers and the chunks so far.
  struct Download {
    std::string id;
    cb::sdk::HttpResult first;
    std::string payload;
    std::size_t chunks = 1;
  };

  // "n:N" -> N (0 if malformed).
  static std::size_t chunkCount(const std::optional<std::string>& range) {
    if (!range) return 1;
    const auto colon = range->find(':');
    if (colon == std::string::npos) return 0;
    try {
      const long long total = std::stoll(range->substr(colon + 1));
      return total > 0 && total < 100000 ? static_cast<std::size_t>(total) : 0;
    } catch (const std::exception&) {
      return 0;
    }
  }

  // GET .../inbox/{id}: 200 for a whole message, 206 with Mex-Chunk-Range 1:N
  // for the first of N chunks.
  void download(const std::shared_ptr<Poll>& p, const std::string& id) {
    Call call{"GET", mailboxPath() + "/inbox/" + encode(id), {}, "", "download", false};
    exchange(std::move(call), [this, p, id](const Answer& a) {
      if (stopping_) return;
      auto failure = a.failure ? a.failure : classify(a.http, "download of " + id);
      if (failure) {
        host_.warn(failure->reason);
        nextMessage(p);
        return;
      }
      auto d = std::make_shared<Download>();
      d->id = id;
      d->first = a.http;
      d->payload = a.http.body;
      d->chunks = a.http.status == 206 ? chunkCount(a.http.header("Mex-Chunk-Range")) : 1;
      if (d->chunks == 0) {
        host_.warn("MESH message " + id + ": malformed Mex-Chunk-Range; left in the inbox");
        nextMessage(p);
        return;
      }
      if (d->chunks == 1) return received(p, d);
      downloadChunk(p, d, 2);
    });
  }

  // GET .../inbox/{id}/{n} for n = 2..N.
  void downloadChunk(const std::shared_ptr<Poll>& p, const std::shared_ptr<Download>& d, std::size_t n) {
    Call call{"GET", mailboxPath() + "/inbox/" + encode(d->id) + "/" + std::to_string(n), {}, "", "chunk download", false};
    exchange(std::move(call), [this, p, d, n](const Answer& a) {
      if (stopping_) return;
      auto failure = a.failure ? a.failure
                               : classify(a.http, "chunk " + std::to_string(n) + " of " + std::to_string(d->chunks) +
                                                      " of " + d->id);
      if (failure) {
        host_.warn(failure->reason + "; the message stays in the inbox");
        nextMessage(p);
        return;
      }
      d->payload += a.http.body;
      if (n == d->chunks) return received(p, d);
      downloadChunk(p, d, n + 1);
    });
  }

  // A whole message: a report is logged; data goes to the host and is
  // acknowledged once stored.
  void received(const std::shared_ptr<Poll>& p, const std::shared_ptr<Download>& d) {
    const auto& h = d->first;
    if (h.header("Mex-MessageType").value_or("DATA") == "REPORT") {
      // An error report about a message we sent: its local id is our message id (no personal data).
      host_.count("report");
      host_.warn("MESH report " + d->id + " about sent message " + h.header("Mex-LinkedMsgID").value_or("?") +
                 " (local id " + h.header("Mex-LocalID").value_or("") + "): " + h.header("Mex-StatusEvent").value_or("") +
                 " " + h.header("Mex-StatusCode").value_or("") + " " + h.header("Mex-StatusDescription").value_or(""));
      acknowledge(p, d->id, "report");
      return;
    }
    const std::string workflow = h.header("Mex-WorkflowID").value_or("");
    std::string content_type = content_type_;
    if (content_type.empty()) content_type = h.header("Content-Type").value_or("application/octet-stream");
    cb::sdk::InboundRecord rec;
    rec.sender_message_id = d->id;  // MESH's own id: a message downloaded twice is stored once
    rec.content_type = content_type;
    rec.record_type = workflow;
    rec.payload = d->payload;
    const bool accepted = host_.submit(rec, [this, p, d](cb::sdk::SubmitResult result, std::string_view message_id,
                                                         std::string_view reason) {
      switch (result) {
        case cb::sdk::SubmitResult::Stored:
        case cb::sdk::SubmitResult::Duplicate:
          host_.count(result == cb::sdk::SubmitResult::Stored ? "received" : "duplicate");
          host_.debug("MESH message " + d->id + " stored as message " + std::string(message_id));
          acknowledge(p, d->id, "message");
          return;
        case cb::sdk::SubmitResult::Refused:
          // Left unacknowledged: MESH reports the non-delivery to the sender after five days.
          remember(d->id);
          host_.count("refused");
          host_.warn("MESH message " + d->id + " refused by carebridge (" + std::string(reason) +
                     "); not acknowledged, not downloaded again until restart");
          nextMessage(p);
          return;
        case cb::sdk::SubmitResult::Unavailable:
          host_.warn("MESH message " + d->id + " not stored (" + std::string(reason) +
                     "); not acknowledged, downloaded again at the next poll");
          pollLater();
          return;
      }
    });
    if (!accepted) host_.debug("MESH message " + d->id + " not handed over: adapter stopping");
  }

  void remember(const std::string& refused_id) {
    std::lock_guard lock(refused_mutex_);
    refused_.insert(refused_id);
  }

  // PUT .../inbox/{id}/status/acknowledged, only after the host stored it.
  void acknowledge(const std::shared_ptr<Poll>& p, const std::string& id, const std::string& what) {
    Call call{"PUT", mailboxPath() + "/inbox/" + encode(id) + "/status/acknowledged",
              {{"Accept", "application/json"}}, "", "acknowledgement", true};
    exchange(std::move(call), [this, p, id, what](const Answer& a) {
      auto failure = a.failure ? a.failure : classify(a.http, "acknowledgement of " + what + " " + id);
      if (failure) {
        host_.warn(failure->reason + "; it will be downloaded and acknowledged again");
      } else {
        host_.count("acknowledged");
      }
      nextMessage(p);
    });
  }

  cb::sdk::Host host_;
  std::string url_, mailbox_, password_, shared_key_;
  std::chrono::milliseconds timeout_;
  std::string workflow_, to_mailbox_, to_ods_, subject_;
  std::int64_t chunk_size_;
  bool track_before_send_;
  std::chrono::milliseconds lookup_ttl_;
  bool receive_;
  std::chrono::milliseconds poll_interval_;
  std::string content_type_;
  std::atomic<bool> stopping_{false};

  std::mutex session_mutex_;
  std::string nonce_;  // empty: no session
  std::uint64_t nonce_count_ = 0;
  std::int64_t session_since_ms_ = 0;
  bool handshaking_ = false;
  std::vector<std::function<void(const std::optional<Failure>&)>> waiting_;

  std::mutex lookup_mutex_;
  std::string looked_up_;
  std::int64_t looked_up_until_ms_ = 0;

  std::mutex refused_mutex_;
  std::set<std::string> refused_;
};

}  // namespace

CB_PLUGIN(MeshAdapter, "mesh", "1.0.0",
          "NHS MESH mailbox client: send (chunked, tracked), poll, download, acknowledge after storing",
          CB_CAP_INBOUND | CB_CAP_OUTBOUND, kKeys)
