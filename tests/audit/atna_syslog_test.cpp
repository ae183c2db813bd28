// ATNA audit messages over RFC 5425 syslog/TLS, received by a real rsyslog
// (Debian rsyslog + rsyslog-gnutls: imtcp with the gtls driver, mutual TLS
// with the development certificates) started by the test on a free port.

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "audit/export_atna.h"
#include "audit_log_fixture.h"
#include "common/digest.h"
#include "xml/safe_xml.h"

extern char** environ;

namespace cb::audit::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRsyslogd = "/usr/sbin/rsyslogd";

std::uint16_t freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool accepting(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

/// rsyslogd in the foreground with a temp config: TLS listener on `port`,
/// every message's MSG written as one line to `received`.
class Rsyslog {
 public:
  Rsyslog(fs::path dir, std::uint16_t port) : dir_(std::move(dir)), port_(port) {
    fs::create_directories(dir_);
    const fs::path certs = cb::test::devCerts();
    cb::test::writeFile(
        dir_ / "rsyslog.conf",
        "global(workDirectory=\"" + dir_.string() + "\" maxMessageSize=\"64k\"\n"
        "  defaultNetstreamDriver=\"gtls\"\n"
        "  defaultNetstreamDriverCAFile=\"" + (certs / "ca.pem").string() + "\"\n"
        "  defaultNetstreamDriverCertFile=\"" + (certs / "server.pem").string() + "\"\n"
        "  defaultNetstreamDriverKeyFile=\"" + (certs / "server.key").string() + "\")\n"
        "module(load=\"imtcp\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" "
        "streamDriver.authMode=\"x509/certvalid\")\n"
        "template(name=\"atnaMsg\" type=\"string\" string=\"%msg%\\n\")\n"
        "ruleset(name=\"atna\") {\n"
        "  action(type=\"omfile\" file=\"" + received().string() + "\" template=\"atnaMsg\")\n"
        "}\n"
        "input(type=\"imtcp\" port=\"" + std::to_string(port_) + "\" ruleset=\"atna\")\n");
  }
  ~Rsyslog() { stop(); }

  fs::path received() const { return dir_ / "received.log"; }

  ::testing::AssertionResult start() {
    const std::string conf = (dir_ / "rsyslog.conf").string();
    const std::string pidFile = (dir_ / "rsyslogd.pid").string();
    const std::string log = (dir_ / "rsyslogd.log").string();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<std::string> args{kRsyslogd, "-n", "-f", conf, "-i", pidFile};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, kRsyslogd, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return ::testing::AssertionFailure() << "posix_spawn rsyslogd: " << std::strerror(rc);
    for (int i = 0; i < 300; ++i) {
      if (accepting(port_)) return ::testing::AssertionSuccess();
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return ::testing::AssertionFailure() << "rsyslogd exited: " << cb::test::readFile(log);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return ::testing::AssertionFailure() << "rsyslogd is not listening on " << port_ << ": "
                                         << cb::test::readFile(log);
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  /// The leaf indexes of the messages received so far, in arrival order
  /// (each message's ParticipantObjectDetail "carebridge.seq"), after
  /// checking each line is an AuditMessage document.
  std::vector<std::int64_t> seqs() const {
    std::vector<std::int64_t> out;
    std::error_code ec;
    if (!fs::exists(received(), ec)) return out;
    std::istringstream in(cb::test::readFile(received()));
    std::string line;
    while (std::getline(in, line)) {
      std::string_view xml = line;
      if (xml.starts_with("\xEF\xBB\xBF")) xml.remove_prefix(3);
      auto doc = xml::parse(xml, "received");
      EXPECT_TRUE(doc) << (doc ? "" : doc.error().message) << "\n" << line;
      EXPECT_TRUE(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><AuditMessage>")) << line;
      const std::string marker = "type=\"carebridge.seq\" value=\"";
      const auto at = line.find(marker);
      if (at == std::string::npos) {
        ADD_FAILURE() << "no carebridge.seq in " << line;
        continue;
      }
      const auto end = line.find('"', at + marker.size());
      std::string decoded;
      EXPECT_TRUE(base64Decode(line.substr(at + marker.size(), end - at - marker.size()), decoded));
      out.push_back(std::stoll(decoded));
    }
    return out;
  }

  /// Waits until `n` messages have arrived (rsyslog writes asynchronously).
  std::vector<std::int64_t> waitFor(std::size_t n) const {
    for (int i = 0; i < 400; ++i) {
      auto s = seqs();
      if (s.size() >= n) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return seqs();
  }

 private:
  fs::path dir_;
  std::uint16_t port_;
  pid_t pid_ = -1;
};

std::vector<std::int64_t> range(std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> v;
  for (auto i = from; i < to; ++i) v.push_back(i);
  return v;
}

class AtnaSyslogTest : public AuditLogTest {
 protected:
  std::uint16_t port = 0;

  void SetUp() override {
    std::error_code ec;
    if (!fs::exists(kRsyslogd, ec)) GTEST_SKIP() << kRsyslogd << " is not installed (Debian: rsyslog rsyslog-gnutls)";
    AuditLogTest::SetUp();
    port = freePort();
  }

  AtnaSyslogOptions options() const {
    const fs::path certs = cb::test::devCerts();
    AtnaSyslogOptions o;
    o.collector = net::Endpoint{"localhost", port};
    o.tls.ca = certs / "ca.pem";
    o.tls.certificate = certs / "carebridge.pem";
    o.tls.private_key = certs / "carebridge.key";
    o.source.site = "RAT";
    o.timeout = std::chrono::seconds(3);
    o.batch = 7;  // several batches and cursor updates per tick
    return o;
  }

  std::unique_ptr<AtnaSyslogExporter> exporter() {
    auto e = AtnaSyslogExporter::create(options(), *store);
    EXPECT_TRUE(e) << e.error().message;
    return e ? std::move(*e) : nullptr;
  }
};

TEST_F(AtnaSyslogTest, EveryEntryReachesRsyslogOverTlsInOrder) {
  Rsyslog collector(dir / "rsyslog", port);
  ASSERT_TRUE(collector.start());
  append(30);
  auto ex = exporter();
  ASSERT_TRUE(ex);
  auto sent = ex->tick();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(*sent, 30u);
  EXPECT_EQ(collector.waitFor(30), range(0, 30));
  EXPECT_EQ(*ex->cursor(), 30);
  // Nothing new: nothing sent.
  auto again = ex->tick();
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u);
}

TEST_F(AtnaSyslogTest, WhileTheCollectorIsDownEntriesAreKeptAndArriveLaterInOrder) {
  append(12);
  auto ex = exporter();
  ASSERT_TRUE(ex);
  // No collector yet: nothing sent, the cursor stays.
  auto down = ex->tick();
  ASSERT_FALSE(down);
  EXPECT_NE(down.error().message.find("cannot connect"), std::string::npos) << down.error().message;
  EXPECT_EQ(*ex->cursor(), 0);

  Rsyslog collector(dir / "rsyslog", port);
  ASSERT_TRUE(collector.start());
  append(5);
  auto up = ex->tick();
  ASSERT_TRUE(up) << up.error().message;
  EXPECT_EQ(*up, 17u);
  EXPECT_EQ(collector.waitFor(17), range(0, 17));

  // The collector goes away while connected; entries keep being written.
  collector.stop();
  append(9);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto during = ex->tick();
  EXPECT_FALSE(during) << "sent " << (during ? *during : 0) << " entries to a stopped collector";
  EXPECT_EQ(*ex->cursor(), 17);

  // Back again (same address): the kept entries follow, in order, once.
  ASSERT_TRUE(collector.start());
  auto later = ex->tick();
  ASSERT_TRUE(later) << later.error().message;
  EXPECT_EQ(*later, 9u);
  EXPECT_EQ(collector.waitFor(26), range(0, 26));

  // The cursor is durable: a new sender (a restarted daemon) resumes there.
  ex.reset();
  auto resumed = exporter();
  ASSERT_TRUE(resumed);
  EXPECT_EQ(*resumed->cursor(), 26);
  append(2);
  auto more = resumed->tick();
  ASSERT_TRUE(more) << more.error().message;
  EXPECT_EQ(*more, 2u);
  EXPECT_EQ(collector.waitFor(28), range(0, 28));
}

TEST_F(AtnaSyslogTest, TheBackgroundSenderDeliversWithoutTicks) {
  Rsyslog collector(dir / "rsyslog", port);
  ASSERT_TRUE(collector.start());
  auto ex = exporter();
  ASSERT_TRUE(ex);
  ex->start(std::chrono::milliseconds(100));
  append(10);
  EXPECT_EQ(collector.waitFor(10), range(0, 10));
  ex->stop();
}

TEST_F(AtnaSyslogTest, ACollectorWithACertificateFromAnotherCaIsRefused) {
  Rsyslog collector(dir / "rsyslog", port);
  ASSERT_TRUE(collector.start());
  append(3);
  auto o = options();
  o.tls.ca = cb::test::devCerts() / "rogue-ca.pem";
  auto ex = AtnaSyslogExporter::create(o, *store);
  ASSERT_TRUE(ex) << ex.error().message;
  auto r = (*ex)->tick();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("TLS handshake failed"), std::string::npos) << r.error().message;
  EXPECT_EQ(*(*ex)->cursor(), 0);
}

}  // namespace
}  // namespace cb::audit::testing
