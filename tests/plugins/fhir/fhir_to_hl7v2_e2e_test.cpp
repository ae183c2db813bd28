// End to end across protocols (issue #7): a council's FHIR UK Core system
// posts a referral Bundle to the real carebridged's fhir adapter over mutual
// TLS; a mapped route translates it through mappings/ukcore into the
// canonical model, decides under a council -> trust agreement, renders it
// through mappings/rio as an HL7 v2 REF^I12 and the hl7v2 adapter delivers it
// over MLLP with mutual TLS to a RiO receiver played by the test (sim/mllp).
// What RiO answers decides the delivery's fate: AA delivered, AE dead letter
// with RiO's reason, no ACK retried.
#include "e2e/harness.h"
#include "store/store.h"

#include "mllp_peer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

namespace cb::e2e {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Bromley (the council, ONS code 00AF) refers people to Oxleas (the trust,
// ODS code RPG): the organisation codes the adapters below carry.
constexpr const char* kCouncil = "00AF";
constexpr const char* kTrust = "RPG";

// The person in mappings/ukcore/samples/referral.json (synthetic).
constexpr const char* kNhsNumber = "9990000085";
constexpr const char* kReferralId = "LAS-REF-2024-33815";

// A test agreement of our own rather than a seed one, so the test does not
// start failing the day a real partnership's agreement ends: one direct-care
// flow of people and referrals from the council to the trust.
std::string agreement() {
  return std::string(R"(<?xml version="1.0" encoding="UTF-8"?>
<Agreement xmlns="urn:carebridge:agreement:1" id="e2e-council-trust-referrals" version="1">
  <Title>Test: referrals from the council's front door to the trust</Title>
  <Parties>
    <Party id="council" code=")") + kCouncil + R"(" codeSystem="ons-snac" role="controller">
      <Name>Test council</Name>
    </Party>
    <Party id="trust" code=")" + kTrust + R"(" codeSystem="ods" role="controller">
      <Name>Test trust</Name>
    </Party>
  </Parties>
  <Validity>
    <From>2020-01-01</From>
    <To>2099-12-31</To>
    <ReviewDate>2099-06-30</ReviewDate>
  </Validity>
  <Flow id="council-to-trust-referrals" from="council" to="trust">
    <RecordTypes>
      <RecordType>Person</RecordType>
      <RecordType>Referral</RecordType>
    </RecordTypes>
    <Purpose>direct-care</Purpose>
    <LawfulBasis>
      <Article6 condition="e">Public task: Care Act 2014 s9.</Article6>
      <Article9 condition="h">Provision of health or social care.</Article9>
      <Schedule1 paragraph="2">Health or social care purposes.</Schedule1>
    </LawfulBasis>
    <Items>
      <Item>Person.*</Item>
      <Item>Referral.*</Item>
    </Items>
    <Consent mode="not-required">
      <Reason>Direct care by the team that will assess the person.</Reason>
    </Consent>
  </Flow>
</Agreement>
)";
}

// One field of the first segment `name` in an ER7 message, as written (with
// its components). Fields count as HL7 v2 numbers them: in MSH the field
// separator itself is MSH-1, so MSH-2 is the first piece after "MSH".
std::string er7Field(const std::string& er7, const std::string& name, std::size_t n, std::size_t occurrence = 0) {
  std::istringstream segments(er7);
  std::string segment;
  while (std::getline(segments, segment, '\r')) {
    std::vector<std::string> fields;
    std::istringstream in(segment);
    for (std::string f; std::getline(in, f, '|');) fields.push_back(f);
    if (fields.empty() || fields[0] != name) continue;
    if (occurrence-- > 0) continue;
    const std::size_t at = name == "MSH" ? n - 1 : n;
    return at < fields.size() ? fields[at] : std::string();
  }
  return "<no " + name + " segment>";
}

class FhirToHl7v2E2E : public ::testing::Test {
 protected:
  test::TempDir dir;
  fs::path certs = test::devCerts();
  IoThreads threads;
  std::unique_ptr<sim::MllpReceiver> rio;
  std::unique_ptr<DaemonProcess> daemon;

  void SetUp() override {
    rio = std::make_unique<sim::MllpReceiver>(
        "127.0.0.1:0", mllp::TlsFiles{(certs / "server.pem").string(), (certs / "server.key").string(),
                                      (certs / "ca.pem").string(), {}});
    fs::create_directories(dir / "agreements" / "schema");
    fs::copy_file(test::sourceDir() / "agreements" / "schema" / "agreement.xsd",
                  dir / "agreements" / "schema" / "agreement.xsd");
    test::writeFile(dir / "agreements" / "council-trust.xml", agreement());
  }

  // partner (FHIR, mTLS) -> [council-fhir] carebridged [rio-mllp] -> RiO (MLLP, mTLS)
  std::string config(const std::string& ack_timeout = "5s") const {
    const auto file = [&](const std::string& name) { return "\"" + (certs / name).string() + "\"\n"; };
    return "[daemon]\ndata_dir = \"state\"\nplugin_dir = \"" + test::pluginDir().string() +
           "\"\nlog_level = \"debug\"\ndrain_timeout = \"3s\"\nmappings_dir = \"" +
           (test::sourceDir() / "mappings").string() + "\"\nagreements_dir = \"" + (dir / "agreements").string() +
           "\"\n[admin]\nlisten = \"127.0.0.1:0\"\n"
           "[[adapter]]\nname = \"council-fhir\"\nplugin = \"fhir\"\norganisation = \"" + kCouncil +
           "\"\nsystem = \"ukcore\"\n"
           "  [adapter.tls]\n  certificate = " + file("server.pem") + "  private_key = " + file("server.key") +
           "  ca = " + file("ca.pem") + "  crl = " + file("crl.pem") +
           "  [adapter.settings]\n  listen = \"127.0.0.1:0\"\n  base_path = \"/fhir\"\n"
           "[[adapter]]\nname = \"rio-mllp\"\nplugin = \"hl7v2\"\norganisation = \"" + kTrust +
           "\"\nsystem = \"rio\"\n"
           "  [adapter.tls]\n  certificate = " + file("carebridge.pem") + "  private_key = " + file("carebridge.key") +
           "  ca = " + file("ca.pem") + "  server_name = \"localhost\"\n"
           "  [adapter.settings]\n  connect = \"127.0.0.1:" + std::to_string(rio->port()) +
           "\"\n  ack_timeout = \"" + ack_timeout + "\"\n" +
           "  [adapter.delivery]\n  initial_backoff = \"50ms\"\n  max_backoff = \"300ms\"\n  max_attempts = 1000\n"
           "[[route]]\nname = \"referrals-to-rio\"\nfrom = \"council-fhir\"\nto = [\"rio-mllp\"]\n"
           "mode = \"mapped\"\npurpose = \"direct-care\"\n";
  }

  void startDaemon(const std::string& text) {
    test::writeFile(dir / "carebridge.toml", text);
    daemon = std::make_unique<DaemonProcess>(dir / "carebridge.toml", dir / "carebridged.log");
    ASSERT_TRUE(daemon->start()) << daemon->log();
  }

  // UK Core represents a referral as a collection Bundle, which FHIR REST
  // creates as a Bundle resource: POST [base]/Bundle
  // (https://hl7.org/fhir/R4/http.html#create; POST [base] is for
  // transactions and batches only).
  std::pair<unsigned, std::string> postReferral(const std::string& bundle) {
    Sender partner(threads.io(), certs, "partner-a");
    return partner.post(daemon->adapterPort("council-fhir"), bundle, {{"Content-Type", "application/fhir+json"}},
                        "/fhir/Bundle");
  }

  static std::string referralBundle() {
    return test::readFile(test::sourceDir() / "mappings" / "ukcore" / "samples" / "referral.json");
  }

  // carebridge's message id, from the OperationOutcome of the answer.
  static std::string messageIdIn(const std::string& answer) {
    std::smatch m;
    if (!std::regex_search(answer, m, std::regex("(?:stored|already received) as message ([A-Za-z0-9._:-]+)"))) {
      ADD_FAILURE() << "no message id in the answer: " << answer;
      return "<none>";
    }
    return m[1].str();
  }

  int cli(std::vector<std::string> args, std::string* out) const {
    std::vector<std::string> all{carebridgeCli().string(), "--config", (dir / "carebridge.toml").string()};
    all.insert(all.end(), args.begin(), args.end());
    return runCommand(all, out);
  }

  // Polls `carebridge queue list --state STATE --json` until it names the
  // message; returns the last listing.
  std::string waitForDeliveryState(const std::string& state, const std::string& message_id,
                                   std::chrono::milliseconds timeout = 15s) const {
    std::string out;
    const auto until = std::chrono::steady_clock::now() + timeout;
    do {
      cli({"queue", "list", "--state", state, "--json"}, &out);
      if (out.find("\"" + message_id + "\"") != std::string::npos) break;
      std::this_thread::sleep_for(50ms);
    } while (std::chrono::steady_clock::now() < until);
    return out;
  }

  std::vector<store::AuditRow> auditFor(const std::string& message_id) {
    store::StoreOptions o;
    o.path = dir / "state" / "carebridge.db";
    auto st = store::Store::open(o);
    EXPECT_TRUE(st) << st.error().message;
    std::vector<store::AuditRow> out;
    if (!st) return out;
    auto entries = (*st)->auditEntries(0, 100000);
    EXPECT_TRUE(entries) << entries.error().message;
    if (!entries) return out;
    for (auto& e : *entries) {
      if (e.message_id == message_id) out.push_back(std::move(e));
    }
    return out;
  }

  static bool has(const std::vector<store::AuditRow>& rows, const std::string& action, const std::string& outcome) {
    return std::any_of(rows.begin(), rows.end(),
                       [&](const auto& r) { return r.action == action && r.outcome == outcome; });
  }

  // At debug level, so that every line the pipeline and both plugins write
  // about this message is checked; the log does name the message, by its id.
  void expectNoPersonInTheLog(const std::string& message_id) const {
    const std::string log = daemon->log();
    EXPECT_THAT(log, HasSubstr(message_id));
    for (const char* identifying :
         {kNhsNumber, "999 000 0085", "Adeyemi", "ADEYEMI", "Chloe", "19960407", "1996-04-07", "BR1 9ZZ"}) {
      EXPECT_THAT(log, Not(HasSubstr(identifying))) << "the operational log names the person: " << identifying;
    }
  }
};

TEST_F(FhirToHl7v2E2E, AReferralBundleIsTranslatedDeliveredToRioAsRefI12AndAcknowledged) {
  startDaemon(config());
  auto [status, answer] = postReferral(referralBundle());
  ASSERT_EQ(status, 201u) << answer << "\n" << daemon->log();
  const std::string id = messageIdIn(answer);
  // Answered only once committed: the store already holds the message.
  std::string out;
  EXPECT_EQ(cli({"queue", "show", id}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(id));

  ASSERT_TRUE(rio->waitFor(1, 15s)) << daemon->log();
  const auto got = rio->received();
  ASSERT_EQ(got.size(), 1u);
  const std::string& er7 = got[0].message;
  EXPECT_EQ(got[0].peer_cn, "carebridge");  // carebridged presented its own certificate to RiO
  // RiO's referral message as mappings/rio/referral-out.xml renders the
  // canonical Referral translated from the Bundle.
  EXPECT_EQ(er7Field(er7, "MSH", 9), "REF^I12^REF_I12");
  EXPECT_EQ(er7Field(er7, "MSH", 10), kReferralId);  // the Bundle's identifier, RiO's control id
  EXPECT_EQ(er7Field(er7, "MSH", 4), "UKCORE");
  EXPECT_EQ(er7Field(er7, "MSH", 12), "2.5");
  EXPECT_EQ(er7Field(er7, "RF1", 1), "A");  // the referral has an outcome
  EXPECT_EQ(er7Field(er7, "RF1", 2), "A");  // urgent, table 0280
  EXPECT_EQ(er7Field(er7, "RF1", 4), "^Progress to Assessment");
  EXPECT_EQ(er7Field(er7, "RF1", 6), std::string(kReferralId) + "^UKCORE");
  EXPECT_EQ(er7Field(er7, "RF1", 7), "20241113164500+0000");
  EXPECT_EQ(er7Field(er7, "RF1", 9), "20241114");
  EXPECT_EQ(er7Field(er7, "RF1", 10),
            "^Low mood, not managing personal care or the tenancy since discharge from hospital.");
  EXPECT_EQ(er7Field(er7, "PRD", 1, 0), "RP");
  EXPECT_EQ(er7Field(er7, "PRD", 2, 0), "GP");
  EXPECT_EQ(er7Field(er7, "PRD", 1, 1), "RT");
  EXPECT_EQ(er7Field(er7, "PRD", 2, 1), "Bromley Assessment and Liaison Team");
  EXPECT_EQ(er7Field(er7, "PID", 3), std::string(kNhsNumber) + "^^^NHS^NH");
  EXPECT_EQ(er7Field(er7, "PID", 5), "ADEYEMI^Chloe^^^Miss");
  EXPECT_EQ(er7Field(er7, "PID", 7), "19960407");
  EXPECT_EQ(er7Field(er7, "PID", 8), "F");

  // Recorded as delivered once RiO's AA came back.
  out = waitForDeliveryState("delivered", id);
  EXPECT_THAT(out, AllOf(HasSubstr("\"" + id + "\""), HasSubstr("rio-mllp"), HasSubstr("Referral")));

  // A resend of the same Bundle is answered again and not delivered twice.
  auto again = postReferral(referralBundle());
  EXPECT_EQ(again.first, 200u) << again.second;
  EXPECT_EQ(messageIdIn(again.second), id);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(rio->received().size(), 1u);

  EXPECT_EQ(daemon->stop(), 0);
  const auto trail = auditFor(id);
  EXPECT_TRUE(has(trail, "record.received", "success"));
  EXPECT_TRUE(has(trail, "record.translated", "success"));
  EXPECT_TRUE(has(trail, "sharing.decided", "success"));
  EXPECT_TRUE(has(trail, "delivery.attempt", "success"));
  for (const auto& e : trail) {
    if (e.action == "sharing.decided") {
      EXPECT_THAT(e.entry, AllOf(HasSubstr("e2e-council-trust-referrals"), HasSubstr("direct-care")));
    }
    if (e.action == "record.translated") {
      EXPECT_THAT(e.entry, HasSubstr("referral-in.xml"));
    }
    // The trail holds the person as a keyed hash, never the NHS number.
    EXPECT_THAT(e.entry, Not(HasSubstr(kNhsNumber))) << e.action;
  }
  expectNoPersonInTheLog(id);
}

TEST_F(FhirToHl7v2E2E, AnAeFromRioDeadLettersTheDeliveryWithRiosReason) {
  rio->setAnswer(sim::MllpReceiver::Answer::AE);
  startDaemon(config());
  auto [status, answer] = postReferral(referralBundle());
  ASSERT_EQ(status, 201u) << answer << "\n" << daemon->log();
  const std::string id = messageIdIn(answer);
  // An application error is permanent: the delivery goes to the dead-letter
  // queue with what RiO said, after one attempt.
  const std::string dead = waitForDeliveryState("dead", id);
  EXPECT_THAT(dead, AllOf(HasSubstr("\"" + id + "\""), HasSubstr("refused by the simulator as told")));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(rio->received().size(), 1u) << "a refused referral was sent again";
  EXPECT_EQ(rio->received().front().control_id, kReferralId);

  EXPECT_EQ(daemon->stop(), 0);
  const auto trail = auditFor(id);
  EXPECT_TRUE(has(trail, "sharing.decided", "success"));
  EXPECT_TRUE(has(trail, "delivery.attempt", "failure"));
  EXPECT_TRUE(has(trail, "delivery.dead-lettered", "failure"));
  EXPECT_FALSE(has(trail, "delivery.attempt", "success"));
  expectNoPersonInTheLog(id);
}

TEST_F(FhirToHl7v2E2E, NoAckIsRetriedUntilRioAnswersAa) {
  rio->setAnswer(sim::MllpReceiver::Answer::Silent);
  startDaemon(config("1s"));
  auto [status, answer] = postReferral(referralBundle());
  ASSERT_EQ(status, 201u) << answer << "\n" << daemon->log();
  const std::string id = messageIdIn(answer);
  ASSERT_TRUE(rio->waitFor(1, 15s)) << daemon->log();
  // Unanswered: still queued, and sent again with the same control id.
  const auto until = std::chrono::steady_clock::now() + 15s;
  while (rio->repeats() < 1 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
  ASSERT_GE(rio->repeats(), 1u) << daemon->log();
  std::string out;
  cli({"queue", "list", "--state", "delivered", "--json"}, &out);
  EXPECT_THAT(out, Not(HasSubstr("\"" + id + "\"")));

  rio->setAnswer(sim::MllpReceiver::Answer::AA);
  out = waitForDeliveryState("delivered", id, 20s);
  EXPECT_THAT(out, HasSubstr("\"" + id + "\""));
  for (const auto& r : rio->received()) EXPECT_EQ(r.control_id, kReferralId);
  EXPECT_EQ(rio->distinct(), 1u);

  EXPECT_EQ(daemon->stop(), 0);
  const auto trail = auditFor(id);
  EXPECT_TRUE(has(trail, "delivery.attempt", "retry"));
  EXPECT_TRUE(has(trail, "delivery.attempt", "success"));
  EXPECT_FALSE(has(trail, "delivery.dead-lettered", "failure"));
  expectNoPersonInTheLog(id);
}

}  // namespace
}  // namespace cb::e2e
