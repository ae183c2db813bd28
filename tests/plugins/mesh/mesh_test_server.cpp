#include "plugins/mesh/mesh_test_server.h"

#include <boost/asio/io_context.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctime>
#include <sstream>
#include <stdexcept>

namespace cb::test {

namespace {

const char* kJson = "application/json";

// MESH's error body (v1 form).
net::HttpResponse meshError(unsigned status, const std::string& event, const std::string& code,
                            const std::string& description) {
  return {status,
          {{"Content-Type", kJson}},
          R"({"errorEvent":")" + event + R"(","errorCode":")" + code + R"(","errorDescription":")" + description + "\"}"};
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) out.push_back(part);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

std::string hmacHex(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &len);
  std::string out;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", mac[i]);
    out += buf;
  }
  return out;
}

// yyyyMMddHHmm (UTC) -> Unix ms, or nullopt.
std::optional<std::int64_t> parseTimestamp(const std::string& ts) {
  if (ts.size() != 12 || ts.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(ts.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(ts.substr(4, 2)) - 1;
  tm.tm_mday = std::stoi(ts.substr(6, 2));
  tm.tm_hour = std::stoi(ts.substr(8, 2));
  tm.tm_min = std::stoi(ts.substr(10, 2));
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

std::string decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string query(const std::string& target, const std::string& key) {
  const auto q = target.find('?');
  if (q == std::string::npos) return {};
  for (const auto& kv : split(target.substr(q + 1), '&')) {
    const auto eq = kv.find('=');
    if (eq != std::string::npos && kv.substr(0, eq) == key) return decode(kv.substr(eq + 1));
  }
  return {};
}

std::string trackingJson(const MeshTestServer::Message& m) {
  const std::string status = !m.complete() ? "Uploading" : m.acknowledged ? "Acknowledged" : "Accepted";
  return R"({"messageId":")" + m.id + R"(","localId":")" + m.local_id + R"(","sender":")" + m.from +
         R"(","recipient":")" + m.to + R"(","workflowId":")" + m.workflow + R"(","status":")" + status +
         R"(","messageType":")" + m.message_type + "\"}";
}

}  // namespace

std::string MeshTestServer::Message::payload() const {
  std::string out;
  for (const auto& c : chunks) out += c;
  return out;
}

MeshTestServer::MeshTestServer(boost::asio::io_context& io, const std::filesystem::path& certs, std::string shared_key,
                               const std::string& cert_name)
    : shared_key_(std::move(shared_key)) {
  net::TlsSettings s;
  s.certificate = certs / (cert_name + ".pem");
  s.private_key = certs / (cert_name + ".key");
  s.ca = certs / "ca.pem";
  auto tls = net::makeServerTlsContext(s);
  if (!tls) throw std::runtime_error(tls.error().message);
  net::ServerOptions o;
  o.listen = {"127.0.0.1", 0};
  o.tls = *tls;
  o.log_name = "test-mesh-server";
  o.limits.body_limit = 64 << 20;
  auto server = net::HttpsServer::start(io, o, [this](net::HttpRequest&& req, net::Responder respond) {
    Request r{req.method, req.target, req.headers, req.body, req.peer.common_name, 0};
    net::HttpResponse response;
    {
      std::lock_guard lock(mutex_);
      if (hang_) {
        requests_.push_back(r);
        held_.push_back(std::move(respond));
        cv_.notify_all();
        return;
      }
      response = handle(r);
      r.status = response.status;
      requests_.push_back(std::move(r));
      cv_.notify_all();
    }
    respond(std::move(response));
  });
  if (!server) throw std::runtime_error(server.error().message);
  server_ = std::move(*server);
}

MeshTestServer::~MeshTestServer() { stop(); }

void MeshTestServer::stop() {
  if (server_) server_->stop();
  std::vector<net::Responder> held;
  {
    std::lock_guard lock(mutex_);
    held.swap(held_);
  }
  for (auto& r : held) r(net::HttpResponse{503, {}, "stopping\n"});
}

std::uint16_t MeshTestServer::port() const { return server_->port(); }
std::string MeshTestServer::url() const { return "https://localhost:" + std::to_string(port()); }

void MeshTestServer::addMailbox(const std::string& mailbox, const std::string& password) {
  std::lock_guard lock(mutex_);
  passwords_[mailbox] = password;
}

void MeshTestServer::addEndpoint(const std::string& ods, const std::string& workflow, const std::string& mailbox) {
  std::lock_guard lock(mutex_);
  endpoints_[{ods, workflow}].push_back(mailbox);
}

std::string MeshTestServer::post(const std::string& from, const std::string& to, const std::string& workflow,
                                 std::vector<std::string> chunks, const std::string& content_type,
                                 const std::string& local_id) {
  std::lock_guard lock(mutex_);
  Message m;
  m.id = newId();
  m.from = from;
  m.to = to;
  m.workflow = workflow;
  m.local_id = local_id;
  m.content_type = content_type;
  m.chunk_count = chunks.size();
  m.chunks = std::move(chunks);
  messages_.push_back(m);
  cv_.notify_all();
  return m.id;
}

std::string MeshTestServer::postReport(const std::string& to, const std::string& linked, const std::string& local_id) {
  std::lock_guard lock(mutex_);
  Message m;
  m.id = newId();
  m.from = "SPINE";
  m.to = to;
  m.workflow = "API-TEST";
  m.local_id = local_id;
  m.message_type = "REPORT";
  m.chunks = {""};
  m.report_headers = {{"Mex-LinkedMsgID", linked},
                      {"Mex-StatusEvent", "TRANSFER"},
                      {"Mex-StatusCode", "14"},
                      {"Mex-StatusSuccess", "ERROR"},
                      {"Mex-StatusDescription", "Undelivered message"}};
  messages_.push_back(m);
  return m.id;
}

void MeshTestServer::expireTokens() {
  std::lock_guard lock(mutex_);
  for (const auto& [nonce, counts] : used_) expired_.insert(nonce);
}

void MeshTestServer::setClockOffset(std::chrono::minutes offset) {
  std::lock_guard lock(mutex_);
  offset_ = offset;
}

void MeshTestServer::script(const std::string& method, const std::string& target_part, net::HttpResponse response) {
  std::lock_guard lock(mutex_);
  scripted_.push_back({method, target_part, std::move(response)});
}

void MeshTestServer::hang(bool on) {
  std::vector<net::Responder> held;
  {
    std::lock_guard lock(mutex_);
    hang_ = on;
    if (!on) held.swap(held_);
  }
  for (auto& r : held) r(net::HttpResponse{503, {}, "was hanging\n"});
}

std::vector<MeshTestServer::Request> MeshTestServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::vector<std::string> MeshTestServer::authRefusals() const {
  std::lock_guard lock(mutex_);
  return auth_refusals_;
}

std::size_t MeshTestServer::handshakes() const {
  std::lock_guard lock(mutex_);
  return handshakes_;
}

std::vector<MeshTestServer::Message> MeshTestServer::sentFrom(const std::string& mailbox) const {
  std::lock_guard lock(mutex_);
  std::vector<Message> out;
  for (const auto& m : messages_) {
    if (m.from == mailbox) out.push_back(m);
  }
  return out;
}

std::optional<MeshTestServer::Message> MeshTestServer::message(const std::string& id) const {
  std::lock_guard lock(mutex_);
  for (const auto& m : messages_) {
    if (m.id == id) return m;
  }
  return std::nullopt;
}

bool MeshTestServer::acknowledged(const std::string& id) const {
  auto m = message(id);
  return m && m->acknowledged;
}

bool MeshTestServer::waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    std::unique_lock lock(mutex_);
    if (cv_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(50))) ==
            std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline) {
      lock.unlock();
      return pred();
    }
  }
}

std::int64_t MeshTestServer::nowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             (std::chrono::system_clock::now() + offset_).time_since_epoch())
      .count();
}

// MESH-style ids: yyyyMMddHHmmss + sequence + "_" + 6 hex digits.
std::string MeshTestServer::newId() {
  const std::time_t t = static_cast<std::time_t>(nowMs() / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
  const std::size_t n = ++next_id_;
  char tail[32];
  std::snprintf(tail, sizeof tail, "%06zu_%06zX", n, (n * 2654435761u) % 0xFFFFFF);
  return std::string(stamp) + tail;
}

// Called with mutex_ held. Returns why the token is refused, or nullopt.
std::optional<std::string> MeshTestServer::checkAuth(const Request& r, const std::string& path_mailbox) {
  const std::string* auth = r.header("Authorization");
  if (auth == nullptr) return "no Authorization header";
  const std::string scheme = "NHSMESH ";
  if (auth->rfind(scheme, 0) != 0) return "not the NHSMESH scheme";
  const auto parts = split(auth->substr(scheme.size()), ':');
  if (parts.size() != 5) return "the token does not have five elements";
  const std::string &mailbox = parts[0], &nonce = parts[1], &count = parts[2], &timestamp = parts[3], &hash = parts[4];
  auto pw = passwords_.find(mailbox);
  if (pw == passwords_.end()) return "unknown mailbox " + mailbox;
  if (!path_mailbox.empty() && path_mailbox != mailbox) return "the token is for another mailbox";
  if (count.empty() || count.find_first_not_of("0123456789") != std::string::npos) return "bad nonce count";
  const auto at = parseTimestamp(timestamp);
  if (!at) return "bad timestamp";
  if (std::llabs(*at - nowMs()) > 2 * 3600 * 1000) return "timestamp " + timestamp + " is not within 2 hours of the server time";
  if (hash != hmacHex(shared_key_, mailbox + ":" + nonce + ":" + count + ":" + pw->second + ":" + timestamp)) {
    return "hash does not match (wrong password or shared key)";
  }
  if (expired_.count(nonce) != 0) return "token expired";
  if (!used_[nonce].insert(count).second) return "token already used (nonce " + nonce + " count " + count + ")";
  return std::nullopt;
}

// Called with mutex_ held.
net::HttpResponse MeshTestServer::handle(Request& r) {
  const std::string path = r.target.substr(0, r.target.find('?'));
  const auto seg = split(path, '/');  // "", "messageexchange", ...
  if (seg.size() < 3 || seg[1] != "messageexchange") return meshError(404, "SEND", "404", "Not found");
  const bool lookup = seg[2] == "endpointlookup";
  if (auto refused = checkAuth(r, lookup ? std::string() : seg[2])) {
    auth_refusals_.push_back(*refused);
    return meshError(403, "AUTH", "403", "Authentication failed: " + *refused);
  }
  for (auto it = scripted_.begin(); it != scripted_.end(); ++it) {
    if (it->method == r.method && r.target.find(it->target_part) != std::string::npos) {
      auto response = std::move(it->response);
      scripted_.erase(it);
      return response;
    }
  }
  if (lookup) {
    if (seg.size() != 5 || r.method != "GET") return meshError(404, "LOOKUP", "404", "Not found");
    std::string results;
    for (const auto& mb : endpoints_[{decode(seg[3]), decode(seg[4])}]) {
      results += std::string(results.empty() ? "" : ",") + R"({"endpoint_type":"MESH","description":"test","address":")" +
                 mb + "\"}";
    }
    return {200, {{"Content-Type", kJson}}, R"({"query_id":"test-query","results":[)" + results + "]}"};
  }
  const std::string mailbox = seg[2];
  if (seg.size() == 3) {
    // Handshake: GET in the current specification, POST in older clients.
    if (r.method != "GET" && r.method != "POST") return meshError(405, "HANDSHAKE", "405", "Method not allowed");
    ++handshakes_;
    return {200, {{"Content-Type", kJson}}, R"({"mailboxId":")" + mailbox + "\"}"};
  }
  if (seg[3] == "inbox" && seg.size() == 4 && r.method == "GET") {
    std::string ids;
    std::size_t n = 0;
    for (const auto& m : messages_) {
      if (m.to == mailbox && m.complete() && !m.acknowledged && n < 500) {
        ids += std::string(ids.empty() ? "" : ",") + "\"" + m.id + "\"";
        ++n;
      }
    }
    return {200, {{"Content-Type", kJson}}, R"({"messages":[)" + ids + "]}"};
  }
  if (seg[3] == "inbox" && seg.size() >= 5) {
    Message* m = nullptr;
    for (auto& x : messages_) {
      if (x.id == decode(seg[4]) && x.to == mailbox && x.complete()) m = &x;
    }
    if (m == nullptr) return meshError(404, "DOWNLOAD", "20", "Message does not exist");
    if (seg.size() == 7 && seg[5] == "status" && seg[6] == "acknowledged" && r.method == "PUT") {
      m->acknowledged = true;
      return {200, {{"Content-Type", kJson}}, R"({"messageId":")" + m->id + "\"}"};
    }
    if (r.method != "GET" || seg.size() > 6) return meshError(405, "DOWNLOAD", "405", "Method not allowed");
    if (m->acknowledged) return meshError(410, "DOWNLOAD", "410", "Gone: already downloaded and acknowledged");
    std::size_t n = 1;
    if (seg.size() == 6) {
      if (seg[5].empty() || seg[5].find_first_not_of("0123456789") != std::string::npos) {
        return meshError(404, "DOWNLOAD", "404", "Not found");
      }
      n = std::stoul(seg[5]);
      if (n < 1 || n > m->chunk_count) return meshError(404, "DOWNLOAD", "404", "Chunk does not exist");
    }
    net::HttpResponse resp{n < m->chunk_count ? 206u : 200u,
                           {{"Content-Type", m->content_type},
                            {"Mex-MessageID", m->id},
                            {"Mex-From", m->from},
                            {"Mex-To", m->to},
                            {"Mex-WorkflowID", m->workflow},
                            {"Mex-MessageType", m->message_type},
                            {"Mex-LocalID", m->local_id},
                            {"Mex-StatusSuccess", "SUCCESS"},
                            {"Mex-StatusCode", "00"}},
                           m->chunks[n - 1]};
    if (m->chunk_count > 1) resp.headers.push_back({"Mex-Chunk-Range", std::to_string(n) + ":" + std::to_string(m->chunk_count)});
    for (const auto& h : m->report_headers) resp.headers.push_back(h);
    return resp;
  }
  if (seg[3] == "outbox" && seg.size() == 5 && seg[4] == "tracking" && r.method == "GET") {
    const std::string local = query(r.target, "localID");
    const std::string id = query(r.target, "messageID");
    std::vector<const Message*> found;
    for (const auto& m : messages_) {
      if (m.from == mailbox && ((!local.empty() && m.local_id == local) || (!id.empty() && m.id == id))) found.push_back(&m);
    }
    if (found.empty()) return meshError(404, "TRACK", "20", "Message does not exist");
    if (found.size() == 1) return {200, {{"Content-Type", kJson}}, trackingJson(*found[0])};
    std::string all;
    for (const auto* m : found) all += std::string(all.empty() ? "" : ",") + trackingJson(*m);
    return {300, {{"Content-Type", kJson}}, "[" + all + "]"};
  }
  if (seg[3] == "outbox" && seg.size() == 4 && r.method == "POST") {
    const std::string* from = r.header("Mex-From");
    const std::string* to = r.header("Mex-To");
    const std::string* workflow = r.header("Mex-WorkflowID");
    if (from == nullptr || *from != mailbox) {
      return meshError(400, "SEND", "07", "Invalid From Address, the mailbox does not match the authorization header");
    }
    if (to == nullptr || to->empty()) return meshError(400, "SEND", "08", "Missing Mex-To header");
    if (workflow == nullptr || workflow->empty()) return meshError(400, "SEND", "06", "Malformed headers");
    if (passwords_.count(*to) == 0) return meshError(417, "SEND", "12", "Unregistered to address");
    Message m;
    m.id = newId();
    m.from = *from;
    m.to = *to;
    m.workflow = *workflow;
    if (const auto* v = r.header("Mex-LocalID")) m.local_id = *v;
    if (const auto* v = r.header("Mex-Subject")) m.subject = *v;
    if (const auto* v = r.header("Mex-FileName")) m.file_name = *v;
    if (const auto* v = r.header("Content-Type")) m.content_type = *v;
    if (const auto* range = r.header("Mex-Chunk-Range")) {
      const auto parts = split(*range, ':');
      if (parts.size() != 2 || parts[0] != "1" || parts[1].empty() ||
          parts[1].find_first_not_of("0123456789") != std::string::npos || std::stoul(parts[1]) < 1) {
        return meshError(400, "SEND", "06", "Malformed Mex-Chunk-Range");
      }
      m.chunk_count = std::stoul(parts[1]);
    }
    m.chunks.push_back(r.body);
    messages_.push_back(m);
    return {202, {{"Content-Type", kJson}}, R"({"messageID":")" + m.id + "\"}"};
  }
  if (seg[3] == "outbox" && seg.size() == 6 && r.method == "POST") {
    Message* m = nullptr;
    for (auto& x : messages_) {
      if (x.id == decode(seg[4]) && x.from == mailbox) m = &x;
    }
    if (m == nullptr) return meshError(404, "SEND", "20", "Message does not exist");
    const std::string expected = std::to_string(m->chunks.size() + 1);
    const std::string* range = r.header("Mex-Chunk-Range");
    if (seg[5] != expected || range == nullptr || *range != expected + ":" + std::to_string(m->chunk_count)) {
      return meshError(400, "SEND", "06", "Chunk out of order or Mex-Chunk-Range malformed");
    }
    m->chunks.push_back(r.body);
    return {202, {{"Content-Type", kJson}}, R"({"messageID":")" + m->id + R"(","blockId":)" + expected + "}"};
  }
  return meshError(404, "SEND", "404", "Not found");
}

}  // namespace cb::test
