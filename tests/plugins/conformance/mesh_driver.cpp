// Driver for the `mesh` plugin (only where the plugin is built: required()
// is false), against the MESH test server of tests/plugins/mesh over mutual
// TLS.
//
// Inbound: a record is a message a partner mailbox puts into the plugin's
// inbox on the test server; the plugin finds it by polling (every 50 ms).
// What the MESH sender learns: "accepted" is the message acknowledged;
// "refused" is the message downloaded, left unacknowledged and no longer
// fetched while the plugin keeps polling (MESH then returns it to the sender
// as undelivered when it expires); a message downloaded and not acknowledged
// but fetched again (the host could not store it yet) is still waiting in
// the inbox: nothing yet. Garbage is malformed inbox listings (not JSON, ids
// that are not messages).
//
// Outbound: the same kind of server holding the partner's mailbox. Fail for
// now is a 503 to the send, refuse is a 400 with MESH error 17, hang holds
// every request unanswered (a delivery begins with the handshake, so a
// hanging peer holds it there), down is the server stopped.
#include "conformance.h"

#include "plugins/mesh/mesh_test_server.h"

#include <thread>

namespace cb::conformance {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kOurs = "X26HC005";
const std::string kOurPassword = "our-mailbox-password";
const std::string kPartner = "X26HC006";
const std::string kPartnerPassword = "partner-password";
const std::string kSharedKey = "SharedKey-Conformance";
const std::string kWorkflow = "CAREBRIDGE_CONFORMANCE";

const std::string kMailboxPath = "/messageexchange/" + kOurs;
const std::string kInboxPath = kMailboxPath + "/inbox";

std::unique_ptr<test::MeshTestServer> newServer(Harness& h) {
  auto s = std::make_unique<test::MeshTestServer>(h.io(), h.certs(), kSharedKey);
  s->addMailbox(kOurs, kOurPassword);
  s->addMailbox(kPartner, kPartnerPassword);
  return s;
}

// The secrets, readable by the owner only (the plugin warns otherwise).
void writeSecrets(Harness& h) {
  for (const auto& [name, value] : {std::pair{"mesh-password", kOurPassword}, std::pair{"mesh-shared-key", kSharedKey}}) {
    test::writeFile(h.dir() / name, value + "\n");
    fs::permissions(h.dir() / name, fs::perms::owner_read | fs::perms::owner_write);
  }
}

std::map<std::string, std::string> baseSettings(Harness& h, const test::MeshTestServer& s) {
  writeSecrets(h);
  return {{"url", s.url()},
          {"mailbox", kOurs},
          {"password_file", (h.dir() / "mesh-password").string()},
          {"shared_key_file", (h.dir() / "mesh-shared-key").string()},
          {"timeout", "5000"}};
}

bool isInboxPoll(const test::MeshTestServer::Request& r) { return r.method == "GET" && r.target == kInboxPath; }

class MeshSent final : public SentRecord {
 public:
  MeshSent(const test::MeshTestServer& server, std::string mesh_id) : server_(server), id_(std::move(mesh_id)) {}
  Ack wait(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (const Ack a = look(); a != Ack::Nothing || std::chrono::steady_clock::now() >= deadline) return a;
      std::this_thread::sleep_for(10ms);
    }
  }

 private:
  Ack look() const {
    if (server_.acknowledged(id_)) return Ack::Accepted;
    // Inbox polls since the message was last downloaded. The plugin polls
    // one message at a time, so a message the host could not store is
    // downloaded again right after the next poll lists it; one it refused is
    // skipped by poll after poll.
    const std::string download = kInboxPath + "/" + id_;
    bool downloaded = false;
    int polls_since = 0;
    for (const auto& r : server_.requests()) {
      if (r.method == "GET" && r.target == download) {
        downloaded = true;
        polls_since = 0;
      } else if (downloaded && isInboxPoll(r)) {
        ++polls_since;
      }
    }
    return downloaded && polls_since >= 3 ? Ack::Refused : Ack::Nothing;
  }
  const test::MeshTestServer& server_;
  std::string id_;
};

// Garbage in the inbox listings: the answer is "accepted" only if anything
// was acknowledged while the plugin read them.
class MeshGarbage final : public SentRecord {
 public:
  MeshGarbage(const test::MeshTestServer& server, std::size_t from) : server_(server), from_(from) {}
  Ack wait(std::chrono::milliseconds) override {
    const auto all = server_.requests();
    for (std::size_t i = from_; i < all.size(); ++i) {
      if (all[i].method == "PUT") return Ack::Accepted;
    }
    return Ack::Nothing;
  }

 private:
  const test::MeshTestServer& server_;
  std::size_t from_;
};

class MeshPeer final : public Peer {
 public:
  explicit MeshPeer(Harness& h) : server_(newServer(h)) {}
  void set(Behaviour b) override {
    switch (b) {
      case Behaviour::Accept:
        hanging_from_.reset();
        server_->hang(false);
        break;
      case Behaviour::Transient:
        server_->script("POST", "/outbox",
                        {503, {{"Content-Type", "application/json"}, {"Retry-After", "1"}},
                         R"({"errorEvent":"SEND","errorCode":"503","errorDescription":"Service unavailable"})"});
        break;
      case Behaviour::Refuse:
        server_->script("POST", "/outbox",
                        {400, {{"Content-Type", "application/json"}},
                         R"({"errorEvent":"SEND","errorCode":"17","errorDescription":"Workflow ID not registered for mailbox"})"});
        break;
      case Behaviour::Hang:
        hanging_from_ = server_->requests().size();
        server_->hang(true);
        break;
    }
  }
  void goDown() override { server_->stop(); }
  // Sends to the outbox (answered or not), and requests held while hanging:
  // a delivery held at its handshake or tracking request has reached the peer.
  std::size_t seen() const override {
    const auto all = server_->requests();
    std::size_t n = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
      const auto& r = all[i];
      if (r.method == "POST" && r.target == kMailboxPath + "/outbox") {
        ++n;
      } else if (hanging_from_ && i >= *hanging_from_) {
        ++n;
      }
    }
    return n;
  }
  bool waitSeen(std::size_t n, std::chrono::milliseconds timeout) const override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (seen() < n && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    return seen() >= n;
  }
  const test::MeshTestServer& server() const { return *server_; }

 private:
  std::unique_ptr<test::MeshTestServer> server_;
  std::optional<std::size_t> hanging_from_;
};

class MeshDriver final : public PluginDriver {
 public:
  std::string plugin() const override { return "mesh"; }
  bool required() const override { return false; }
  bool receives() const override { return true; }
  bool delivers() const override { return true; }

  std::vector<BadSettings> badSettings(Harness& h) override {
    test::writeFile(h.dir() / "mesh-password", "password\n");
    test::writeFile(h.dir() / "mesh-shared-key", "TestKey\n");
    auto spec = [&](std::map<std::string, std::string> extra) {
      std::map<std::string, std::string> s = {{"url", "https://localhost:1"},
                                              {"mailbox", "X26HC005"},
                                              {"password_file", (h.dir() / "mesh-password").string()},
                                              {"shared_key_file", (h.dir() / "mesh-shared-key").string()},
                                              {"receive", "true"}};
      for (auto& [k, v] : extra) s[k] = v;
      return AdapterSpec{s, h.tls("carebridge")};
    };
    return {{spec({{"url", "http://localhost:1"}}), "url"},
            {spec({{"mailbox", "x26hc005"}}), "mailbox"},
            {spec({{"password_file", (h.dir() / "missing").string()}}), "password_file"},
            {spec({{"to_mailbox", "X26HC006"}}), "workflow_id"}};
  }

  // ---- inbound: the plugin polls its inbox on a test server of the driver's own.

  AdapterSpec inboundSpec(Harness& h) override {
    if (!inbox_) inbox_ = newServer(h);
    auto s = baseSettings(h, *inbox_);
    s["receive"] = "true";
    s["poll_interval"] = "50";
    return {s, h.tls("carebridge")};
  }

  std::unique_ptr<SentRecord> send(Harness&, plugin_host::Adapter&, const std::string& id,
                                   std::string& payload) override {
    if (!inbox_) throw std::runtime_error("send() before inboundSpec(): no MESH server");
    payload = "MSH|^~\\&|RIO|RAT|CAREBRIDGE|RAT|20240601120000||ADT^A08|" + id + "|P|2.4\r";
    const std::string mesh_id = inbox_->post(kPartner, kOurs, kWorkflow, {payload}, "x-application/hl7-v2+er7", id);
    return std::make_unique<MeshSent>(*inbox_, mesh_id);
  }

  std::unique_ptr<SentRecord> sendGarbage(Harness&, plugin_host::Adapter&) override {
    if (!inbox_) throw std::runtime_error("sendGarbage() before inboundSpec(): no MESH server");
    auto polls = [&] {
      const auto all = inbox_->requests();
      return std::count_if(all.begin(), all.end(), isInboxPoll);
    };
    const std::size_t from = inbox_->requests().size();
    const auto before = polls();
    // The inbox is empty, so the next two requests with "/inbox" in them are polls.
    inbox_->script("GET", "/inbox", {200, {{"Content-Type", "application/json"}}, "\x01\x02 not json {"});
    inbox_->script("GET", "/inbox",
                   {200, {{"Content-Type", "application/json"}},
                    R"({"messages":[7,null,"","../outbox","no%00such\u0000id",{"id":"x"},"no-such-message"]})"});
    // A third poll after them means the plugin is done with both.
    if (!inbox_->waitUntil([&] { return polls() >= before + 3; }, 10s)) {
      throw std::runtime_error("the mesh adapter did not poll past the garbage");
    }
    return std::make_unique<MeshGarbage>(*inbox_, from);
  }

  // ---- outbound

  std::unique_ptr<Peer> startPeer(Harness& h) override { return std::make_unique<MeshPeer>(h); }

  AdapterSpec outboundSpec(Harness& h, Peer& p) override {
    auto s = baseSettings(h, static_cast<MeshPeer&>(p).server());
    s["workflow_id"] = kWorkflow;
    s["to_mailbox"] = kPartner;
    return {s, h.tls("carebridge")};
  }

  OutboundRecord record(const std::string& message_id) override {
    return {R"({"resourceType":"Bundle","id":")" + message_id + R"("})", "application/fhir+json", "Bundle"};
  }

 private:
  std::unique_ptr<test::MeshTestServer> inbox_;
};

}  // namespace

CB_CONFORMANCE_DRIVER(mesh, MeshDriver);

}  // namespace cb::conformance
