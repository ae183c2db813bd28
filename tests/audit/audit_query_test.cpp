// IG queries, subject access reports, FHIR AuditEvent export and payload
// retention (issue #5 items 5-7) over a real SQLite store populated through
// the store's own API, the way the pipeline writes it (route.cpp, deliver.cpp).

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <future>
#include <set>

#include "audit/audit_query.h"
#include "audit/export_atna.h"
#include "audit/export_fhir.h"
#include "audit/log_verifier.h"
#include "audit/retention.h"
#include "audit_log_fixture.h"
#include "cli/audit_query_command.h"
#include "codec/fhir/fhir_codec.h"
#include "pipeline/subject_key.h"
#include "store/schema.h"
#include "xml/safe_xml.h"

namespace cb::audit::testing {
namespace {

constexpr const char* kNhs = "9434765919";    // valid (Modulus 11)
constexpr const char* kOther = "4010232137";  // another person, also valid

struct Destination {
  std::string adapter;
  std::string org;
  std::string decision;  ///< share | share-withheld | refuse | hold
  std::string agreement;
  std::string purpose;
  std::string withheld;
};

class AuditQueryTest : public AuditLogTest {
 protected:
  std::optional<pipeline::SubjectKeyer> keyer;

  void SetUp() override {
    AuditLogTest::SetUp();
    auto k = pipeline::SubjectKeyer::loadOrCreate(dir / "data/identity.key");
    ASSERT_TRUE(k) << k.error().message;
    keyer.emplace(std::move(*k));
  }

  std::string key(const char* nhs) const { return keyer->key("nhs", nhs); }

  /// Receives one record about `nhs` from RiO (RAT), decides per
  /// destination as route.cpp records it, and returns the deliveries made
  /// (refused destinations get none).
  std::vector<store::DeliveryInfo> receiveAndRoute(const char* nhs, const std::vector<Destination>& dests,
                                                   const std::string& sender_id) {
    store::NewMessage m;
    m.source = "rio-in";
    m.source_org = "RAT";
    m.sender_message_id = sender_id;
    m.content_type = "application/fhir+json";
    m.record_type = "SafeguardingEnquiry";
    m.subject_key = key(nhs);
    m.payload = std::string(2000, 'x') + sender_id;
    m.received_at_ms = clock.nowUnixMs();
    std::promise<Result<store::SubmitOutcome>> sub;
    store->submit(m, [&](Result<store::SubmitOutcome> r) { sub.set_value(std::move(r)); });
    auto submitted = sub.get_future().get();
    EXPECT_TRUE(submitted) << submitted.error().message;
    if (!submitted) return {};

    std::vector<store::NewDelivery> deliveries;
    std::vector<AuditEvent> events;
    for (const auto& d : dests) {
      AuditEvent e;
      e.time_ms = clock.nowUnixMs();
      e.actor = Actor::system();
      e.action = action::kDecided;
      e.outcome = d.decision == "refuse" ? outcome::kRefused : outcome::kSuccess;
      e.message_id = submitted->message_id;
      e.record_type = "SafeguardingEnquiry";
      e.source_org = "RAT";
      e.destination_org = d.org;
      e.subject_key = key(nhs);
      e.with("decision", d.decision).with("route", "rio-to-partners").with("destination", d.adapter);
      e.with("rule", d.decision == "refuse" ? "no-flow" : "flow-allows");
      e.with("explanation", d.decision == "refuse" ? "no flow of the agreement allows this" : "allowed");
      if (!d.agreement.empty()) e.with("agreement", d.agreement).with("flow", "enquiries-to-" + d.org);
      if (!d.purpose.empty()) e.with("purpose", d.purpose);
      if (d.decision != "refuse") e.with("lawful_basis", "UK GDPR Art 6(1)(e); Art 9(2)(h); DPA 2018 Sch 1 para 18");
      if (!d.withheld.empty()) e.with("withheld", d.withheld);
      events.push_back(std::move(e));
      if (d.decision == "refuse") continue;
      store::NewDelivery nd;
      nd.destination = d.adapter;
      nd.route = "rio-to-partners";
      nd.content_type = "application/xml";
      nd.record_type = "SafeguardingEnquiry";
      nd.payload = "<rendered for " + d.org + "/>";
      nd.state = d.decision == "hold" ? store::DeliveryState::Held : store::DeliveryState::Queued;
      deliveries.push_back(std::move(nd));
    }
    std::promise<Result<std::vector<store::DeliveryInfo>>> routed;
    store->route(submitted->seq, std::move(deliveries), std::move(events),
                 [&](Result<std::vector<store::DeliveryInfo>> r) { routed.set_value(std::move(r)); });
    auto created = routed.get_future().get();
    EXPECT_TRUE(created) << created.error().message;
    return created ? *created : std::vector<store::DeliveryInfo>{};
  }

  /// One delivery attempt with its audit entry, as deliver.cpp writes it.
  void attempt(const store::DeliveryInfo& d, const std::string& org, store::AttemptOutcome::Kind kind, int n) {
    clock.advance(std::chrono::seconds(5));
    AuditEvent e;
    e.time_ms = clock.nowUnixMs();
    e.actor = Actor::adapter(d.destination, org);
    e.action = action::kDeliveryAttempt;
    e.outcome = kind == store::AttemptOutcome::Kind::Delivered ? outcome::kSuccess : outcome::kRetry;
    e.message_id = d.message_id;
    e.record_type = d.record_type;
    e.destination_org = org;
    e.subject_key = d.subject_key;
    e.with("destination", d.destination).with("route", d.route).with("attempt", std::to_string(n));
    store::AttemptOutcome o{kind, kind == store::AttemptOutcome::Kind::Retry ? "HTTP 503" : "",
                            clock.nowUnixMs() + 1000};
    std::promise<Status> p;
    store->recordAttempt(d.seq, o, {std::move(e)}, [&](Status s) { p.set_value(std::move(s)); });
    auto s = p.get_future().get();
    ASSERT_TRUE(s) << s.error().message;
  }

  /// The demo person: one enquiry shared with LAS (00K, items withheld)
  /// and Carenotes (RX2, after one retry), refused to AIS (00AB); a second
  /// enquiry shared with LAS; another person's record shared with LAS too.
  void populate() {
    auto first = receiveAndRoute(kNhs,
                                 {{"las-out", "00K", "share-withheld", "bromley-oxleas-s75", "safeguarding",
                                   "mental-capacity,sexual-health"},
                                  {"carenotes-out", "RX2", "share", "sussex-partnership", "direct-care", ""},
                                  {"ais-out", "00AB", "refuse", "", "", ""}},
                                 "enq-1");
    ASSERT_EQ(first.size(), 2u);
    attempt(first[0], "00K", store::AttemptOutcome::Kind::Delivered, 1);
    attempt(first[1], "RX2", store::AttemptOutcome::Kind::Retry, 1);
    attempt(first[1], "RX2", store::AttemptOutcome::Kind::Delivered, 2);
    clock.advance(std::chrono::hours(1));
    auto second = receiveAndRoute(kNhs, {{"las-out", "00K", "share", "bromley-oxleas-s75", "safeguarding", ""}},
                                  "enq-2");
    ASSERT_EQ(second.size(), 1u);
    attempt(second[0], "00K", store::AttemptOutcome::Kind::Delivered, 1);
    auto other = receiveAndRoute(kOther, {{"las-out", "00K", "share", "bromley-oxleas-s75", "safeguarding", ""}},
                                 "enq-3");
    ASSERT_EQ(other.size(), 1u);
    attempt(other[0], "00K", store::AttemptOutcome::Kind::Delivered, 1);
  }

  cli::AuditQueryArgs args() const {
    cli::AuditQueryArgs a;
    a.format = "json";
    return a;
  }

  /// Runs `audit query` and returns its JSON entries.
  boost::json::array query(const cli::AuditQueryArgs& a) {
    std::ostringstream out, err;
    EXPECT_EQ(cli::auditQuery(ctx, a, out, err), 0) << err.str();
    boost::system::error_code ec;
    auto v = boost::json::parse(out.str(), ec);
    EXPECT_FALSE(ec) << out.str();
    if (ec || !v.is_object()) return {};
    return v.get_object().at("entries").as_array();
  }

  /// Populates and checkpoints a store that verifies, applies `tamper` (SQL)
  /// to the closed store file, and expects verification to fail saying
  /// `finding`.
  void expectVerificationFinds(const std::string& tamper, const std::string& finding) {
    populate();
    appendWithCheckpoints({static_cast<int>(*store->auditSize()) + 1});
    EXPECT_EQ(verify().status, cli::kAuditVerified);
    closeStore();
    sql(tamper);
    openStore();
    const auto r = verify();
    EXPECT_EQ(r.status, cli::kAuditMismatch);
    EXPECT_NE(r.out.find(finding), std::string::npos) << r.out << r.err;
  }

  std::vector<AuditRecord> all(AuditQuery q) {
    q.limit = 100000;
    auto r = queryAudit(*store, q);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : std::vector<AuditRecord>{};
  }
};

// ---- queries ----------------------------------------------------------------

TEST_F(AuditQueryTest, APersonQueryFindsOnlyThatPersonsEntriesByTheirHashedNhsNumber) {
  populate();
  auto a = args();
  a.nhs_numbers = {"943 476 5919"};  // the spaced form people write
  auto entries = query(a);
  ASSERT_FALSE(entries.empty());
  std::set<std::string> messages;
  for (const auto& e : entries) {
    EXPECT_EQ(e.at("subject_key").as_string(), key(kNhs));
    messages.insert(std::string(e.at("message_id").as_string()));
  }
  EXPECT_EQ(messages.size(), 2u);  // enq-1 and enq-2, not the other person's
  // 2 receipts, 4 decisions, 4 delivery attempts.
  EXPECT_EQ(entries.size(), 10u);
}

TEST_F(AuditQueryTest, FiltersCombineAndEachUsesItsIndexedColumn) {
  populate();
  auto a = args();
  a.organisation = "RX2";
  for (const auto& e : query(a)) EXPECT_TRUE(e.at("destination_org") == "RX2" || e.at("source_org") == "RX2");
  EXPECT_EQ(query(a).size(), 3u);  // decision + retry + success

  a = args();
  a.agreement = "bromley-oxleas-s75";
  EXPECT_EQ(query(a).size(), 3u);  // three decisions name it (deliveries do not)
  a.nhs_numbers = {kNhs};
  EXPECT_EQ(query(a).size(), 2u);

  a = args();
  a.decision = "refuse";
  auto refused = query(a);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].at("destination_org"), "00AB");

  a = args();
  a.purpose = "direct-care";
  EXPECT_EQ(query(a).size(), 1u);

  a = args();
  a.action = action::kReceived;
  EXPECT_EQ(query(a).size(), 3u);

  // Time range: the second enquiry came an hour later.
  a = args();
  a.nhs_numbers = {kNhs};
  a.from = formatUtc(kStartMs + 30 * 60 * 1000);
  auto later = query(a);
  ASSERT_EQ(later.size(), 3u);  // receipt, decision, delivery of enq-2
  a.from.clear();
  a.to = std::to_string(kStartMs + 30 * 60 * 1000);
  EXPECT_EQ(query(a).size(), 7u);
}

TEST_F(AuditQueryTest, PagingWithAfterWalksTheWholeResultOnce) {
  populate();
  auto a = args();
  a.nhs_numbers = {kNhs};
  a.limit = 3;
  std::vector<std::int64_t> seen;
  for (int page = 0; page < 10; ++page) {
    auto entries = query(a);
    for (const auto& e : entries) seen.push_back(e.at("seq").as_int64());
    if (entries.size() < a.limit) break;
    a.after = seen.back();
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<std::int64_t>(seen.begin(), seen.end()).size(), seen.size());
}

TEST_F(AuditQueryTest, TableAndCsvFormatsShowTheSameEntries) {
  populate();
  auto a = args();
  a.nhs_numbers = {kNhs};
  a.decision = "share-withheld";
  a.format = "csv";
  std::ostringstream out, err;
  ASSERT_EQ(cli::auditQuery(ctx, a, out, err), 0) << err.str();
  const std::string csv = out.str();
  EXPECT_EQ(csv.rfind("seq,time,action,outcome,actor,message_id,record_type,source_org,destination_org,subject_key,"
                      "agreement,purpose,decision,details\r\n",
                      0),
            0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2);
  EXPECT_NE(csv.find(",bromley-oxleas-s75,safeguarding,share-withheld,"), std::string::npos) << csv;
  // Details hold commas: the field is quoted (RFC 4180).
  EXPECT_NE(csv.find("\"agreement=bromley-oxleas-s75; decision=share-withheld;"), std::string::npos) << csv;

  a.format = "table";
  std::ostringstream tout, terr;
  ASSERT_EQ(cli::auditQuery(ctx, a, tout, terr), 0) << terr.str();
  EXPECT_NE(tout.str().find("share-withheld"), std::string::npos);
  EXPECT_NE(tout.str().find("RAT->00K"), std::string::npos);
  // Each cell is followed by space, however long the agreement id or purpose.
  EXPECT_NE(tout.str().find("bromley-oxleas-s75  safeguarding  "), std::string::npos) << tout.str();
  EXPECT_NE(tout.str().find("1 entries"), std::string::npos) << tout.str();

  a.format = "xml";
  std::ostringstream xout, xerr;
  EXPECT_EQ(cli::auditQuery(ctx, a, xout, xerr), 1);
}

TEST_F(AuditQueryTest, EveryQueryIsAuditedWithTheKeyedHashNeverTheNhsNumber) {
  populate();
  auto a = args();
  a.nhs_numbers = {kNhs};
  a.organisation = "00K";
  (void)query(a);
  AuditQuery views;
  views.action = action::kViewed;
  auto viewed = all(views);
  ASSERT_EQ(viewed.size(), 1u);
  EXPECT_EQ(viewed[0].actor, "person:auditor-1");
  EXPECT_EQ(viewed[0].detail("via"), "carebridge audit query");
  EXPECT_EQ(viewed[0].detail("subject_key"), key(kNhs));
  EXPECT_EQ(viewed[0].detail("filter.organisation"), "00K");
  EXPECT_EQ(viewed[0].agreement, "") << "a view is not itself found by agreement";
  // The number is nowhere in the store file, in any written form.
  closeStore();
  const std::string bytes = cb::test::readFile(dbPath()) + cb::test::readFile(dbPath().string() + "-wal");
  EXPECT_EQ(bytes.find(kNhs), std::string::npos);
  EXPECT_EQ(bytes.find("943 476 5919"), std::string::npos);
}

TEST_F(AuditQueryTest, AnInvalidNhsNumberIsRefusedBeforeAnythingIsRead) {
  populate();
  auto a = args();
  a.nhs_numbers = {"9434765918"};  // wrong check digit
  std::ostringstream out, err;
  EXPECT_EQ(cli::auditQuery(ctx, a, out, err), 1);
  EXPECT_NE(err.str().find("not a valid NHS number"), std::string::npos) << err.str();
  EXPECT_EQ(err.str().find("9434765918"), std::string::npos) << "the number is not echoed";
}

TEST_F(AuditQueryTest, ALocalIdIsHashedInItsSystemsNamespace) {
  store::NewMessage m;
  m.source = "mosaic-in";
  m.source_org = "00K";
  m.content_type = "text/csv";
  m.record_type = "Referral";
  m.subject_key = keyer->key("local:mosaic", "MOS-123456");
  m.payload = "x";
  std::promise<Result<store::SubmitOutcome>> p;
  store->submit(m, [&](Result<store::SubmitOutcome> r) { p.set_value(std::move(r)); });
  ASSERT_TRUE(p.get_future().get());
  auto a = args();
  a.local_ids = {"mosaic:MOS-123456"};
  EXPECT_EQ(query(a).size(), 1u);
  a.local_ids = {"rio:MOS-123456"};
  EXPECT_EQ(query(a).size(), 0u);
  a.local_ids = {"MOS-123456"};
  std::ostringstream out, err;
  EXPECT_EQ(cli::auditQuery(ctx, a, out, err), 1);
}

TEST_F(AuditQueryTest, TheNewIndexedColumnsAreCoveredByVerification) {
  // Someone edits the agreement column so a query would mislead IG.
  expectVerificationFinds("UPDATE audit_log SET agreement = 'other-agreement' WHERE decision = 'share-withheld'",
                          "indexed column 'agreement'");
}

TEST_F(AuditQueryTest, AVersion2StoreGetsTheNewColumnsFilledFromItsOwnEntries) {
  populate();
  closeStore();
  // What a version-2 carebridged left.
  sql("DROP INDEX audit_by_agreement; DROP INDEX audit_by_purpose; DROP INDEX audit_by_decision; "
      "DROP INDEX audit_by_subject_unlinked; DROP TABLE audit_subject_messages; DROP INDEX audit_by_time; "
      "DROP INDEX audit_by_action; "
      "DROP INDEX audit_by_source_org; DROP INDEX audit_by_destination_org; DROP TABLE audit_export_cursors; "
      "ALTER TABLE audit_log DROP COLUMN agreement; ALTER TABLE audit_log DROP COLUMN purpose; "
      "ALTER TABLE audit_log DROP COLUMN decision; PRAGMA user_version = 2;");
  openStore();
  AuditQuery q;
  q.agreement = "bromley-oxleas-s75";
  EXPECT_EQ(all(q).size(), 3u);
  q = {};
  q.decision = "refuse";
  EXPECT_EQ(all(q).size(), 1u);
  q = {};
  q.subject_keys = {key(kNhs)};
  EXPECT_EQ(all(q).size(), 10u) << "person queries find the entries written before the upgrade";
  appendWithCheckpoints({static_cast<int>(*store->auditSize()) + 1});
  EXPECT_EQ(verify().status, cli::kAuditVerified);
  EXPECT_EQ(store::kSchemaVersion, 5);
}

TEST_F(AuditQueryTest, AVersion4StoreFindsItsEntriesByPersonThroughTheNewLinks) {
  populate();
  AuditQuery q;
  q.subject_keys = {key(kNhs)};
  const auto before = all(q);
  ASSERT_EQ(before.size(), 10u);
  closeStore();
  // What a version-4 carebridged left: an index entry per audit row, no links.
  sql("DROP INDEX audit_by_subject_unlinked; DROP TABLE audit_subject_messages; "
      "CREATE INDEX audit_by_subject_time ON audit_log(subject_key, time) WHERE subject_key <> ''; "
      "PRAGMA user_version = 4;");
  openStore();
  const auto after = all(q);
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].seq, before[i].seq);
  EXPECT_EQ(textAt("SELECT count(*) FROM sqlite_master WHERE name = 'audit_by_subject_time'"), "0");
  appendWithCheckpoints({static_cast<int>(*store->auditSize()) + 1});
  EXPECT_EQ(verify().status, cli::kAuditVerified);
}

TEST_F(AuditQueryTest, APersonQueryFindsEntriesWithoutAMessageAndOnlyThatPersonsEntriesOfAMessage) {
  populate();
  // An entry about the person alone (no message), and an entry of one of
  // their messages that names someone else (a record can be re-keyed when
  // translation finds the NHS number).
  AuditQuery mine;
  mine.subject_keys = {key(kNhs)};
  const auto firstMessage = all(mine).front().message_id;
  AuditEvent alone;
  alone.actor = Actor::person("ig-officer", "RAT", "ig-reviewer");
  alone.action = action::kViewed;
  alone.outcome = outcome::kSuccess;
  alone.subject_key = key(kNhs);
  AuditEvent rekeyed;
  rekeyed.actor = Actor::system();
  rekeyed.action = action::kDecided;
  rekeyed.outcome = outcome::kRefused;
  rekeyed.message_id = firstMessage;
  rekeyed.subject_key = key(kOther);
  ASSERT_TRUE(store->auditSync({alone, rekeyed}));
  const auto rows = all(mine);
  ASSERT_EQ(rows.size(), 11u);
  EXPECT_EQ(rows.back().action, action::kViewed);
  EXPECT_EQ(rows.back().message_id, "");
  for (const auto& r : rows) EXPECT_EQ(r.subject_key, key(kNhs));
  AuditQuery theirs;
  theirs.subject_keys = {key(kOther)};
  const auto other = all(theirs);
  ASSERT_EQ(other.size(), 4u);  // their own record's three entries and the re-keyed one
  EXPECT_EQ(other.back().message_id, firstMessage);
  AuditQuery both;
  both.subject_keys = {key(kNhs), key(kOther)};
  EXPECT_EQ(all(both).size(), 15u);
}

TEST_F(AuditQueryTest, AnEntryHiddenFromPersonQueriesFailsVerification) {
  // Someone deletes the link that makes one message's entries findable by
  // person: the entries and the tree are untouched, a SAR would miss them.
  expectVerificationFinds(
      "DELETE FROM audit_subject_messages WHERE message_id = (SELECT message_id FROM audit_log WHERE seq = 0)",
      "entry 0 is hidden from person queries");
}

// ---- subject access report ----------------------------------------------------

TEST_F(AuditQueryTest, TheSubjectAccessReportListsExactlyTheDeliveriesMade) {
  populate();
  auto report = subjectAccessReport(*store, {key(kNhs)});
  ASSERT_TRUE(report) << report.error().message;

  // The deliveries actually made for this person, from the store itself.
  store::DeliveryFilter f;
  f.state = store::DeliveryState::Delivered;
  f.limit = 1000;
  auto delivered = store->deliveries(f);
  ASSERT_TRUE(delivered);
  std::multiset<std::pair<std::string, std::string>> made;
  for (const auto& d : *delivered) {
    if (d.subject_key == key(kNhs)) made.insert({d.message_id, d.destination});
  }
  std::multiset<std::pair<std::string, std::string>> disclosed;
  for (const auto& d : report->disclosures) disclosed.insert({d.message_id, d.destination});
  EXPECT_EQ(disclosed, made);
  ASSERT_EQ(report->disclosures.size(), 3u);

  const auto& las = report->disclosures[0];
  EXPECT_EQ(las.destination_org, "00K");
  EXPECT_EQ(las.agreement, "bromley-oxleas-s75");
  EXPECT_EQ(las.purpose, "safeguarding");
  EXPECT_EQ(las.decision, "share-withheld");
  EXPECT_EQ(las.withheld, "mental-capacity,sexual-health");
  EXPECT_EQ(las.lawful_basis, "UK GDPR Art 6(1)(e); Art 9(2)(h); DPA 2018 Sch 1 para 18");
  ASSERT_TRUE(las.delivered_ms);
  const auto& rx2 = report->disclosures[1];
  EXPECT_EQ(rx2.destination_org, "RX2");
  EXPECT_EQ(rx2.purpose, "direct-care");
  ASSERT_TRUE(rx2.delivered_ms);
  EXPECT_GT(*rx2.delivered_ms, *las.delivered_ms) << "the time of the successful attempt, not the retry";

  ASSERT_EQ(report->refusals.size(), 1u);
  EXPECT_EQ(report->refusals[0].destination_org, "00AB");
  EXPECT_TRUE(report->holds.empty());
  EXPECT_TRUE(report->undelivered.empty());
}

TEST_F(AuditQueryTest, HeldAndUndeliveredSharesAreListedApartFromDisclosures) {
  auto d = receiveAndRoute(kNhs,
                           {{"las-out", "00K", "hold", "bromley-oxleas-s75", "safeguarding", ""},
                            {"carenotes-out", "RX2", "share", "sussex-partnership", "direct-care", ""}},
                           "enq-h");
  ASSERT_EQ(d.size(), 2u);
  attempt(d[1], "RX2", store::AttemptOutcome::Kind::Retry, 1);
  auto report = subjectAccessReport(*store, {key(kNhs)});
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->disclosures.empty());
  ASSERT_EQ(report->holds.size(), 1u);
  EXPECT_EQ(report->holds[0].destination_org, "00K");
  ASSERT_EQ(report->undelivered.size(), 1u);
  EXPECT_EQ(report->undelivered[0].destination_org, "RX2");
}

TEST_F(AuditQueryTest, TheSarCommandPrintsTheReportAndIsAudited) {
  populate();
  std::ostringstream out, err;
  ASSERT_EQ(cli::auditSar(ctx, kNhs, {}, "text", out, err), 0) << err.str();
  const std::string text = out.str();
  EXPECT_NE(text.find("Disclosed (shared and delivered) (3)"), std::string::npos) << text;
  EXPECT_NE(text.find("to 00K (las-out)"), std::string::npos) << text;
  EXPECT_NE(text.find("withheld: mental-capacity,sexual-health"), std::string::npos) << text;
  EXPECT_NE(text.find("Refused (1)"), std::string::npos) << text;

  std::ostringstream jout, jerr;
  ASSERT_EQ(cli::auditSar(ctx, kNhs, {}, "json", jout, jerr), 0) << jerr.str();
  boost::system::error_code ec;
  auto v = boost::json::parse(jout.str(), ec);
  ASSERT_FALSE(ec) << jout.str();
  EXPECT_EQ(v.at("disclosures").as_array().size(), 3u);
  EXPECT_EQ(v.at("refusals").as_array().size(), 1u);
  EXPECT_EQ(v.at("disclosures").as_array()[0].at("lawful_basis"),
            "UK GDPR Art 6(1)(e); Art 9(2)(h); DPA 2018 Sch 1 para 18");

  AuditQuery views;
  views.action = action::kViewed;
  auto viewed = all(views);
  ASSERT_EQ(viewed.size(), 2u);
  EXPECT_EQ(viewed[0].detail("via"), "carebridge audit sar");
  EXPECT_EQ(viewed[0].detail("subject_key"), key(kNhs));
  EXPECT_EQ(viewed[0].entry.find(kNhs), std::string::npos);
}

// ---- FHIR AuditEvent ------------------------------------------------------------

TEST_F(AuditQueryTest, EveryEntryExportsAsAFhirR4AuditEventTheCodecAccepts) {
  populate();
  std::ostringstream out, err;
  ASSERT_EQ(cli::auditExport(ctx, "fhir", 0, 1000, out, err), 0) << err.str();
  std::istringstream lines(out.str());
  std::string line;
  int n = 0;
  int disclosures = 0;
  while (std::getline(lines, line)) {
    ++n;
    codec::fhir::Warnings warnings;
    auto xml = codec::fhir::jsonToXml(line, "AuditEvent " + std::to_string(n), {}, &warnings);
    ASSERT_TRUE(xml) << xml.error().message << "\n" << line;
    EXPECT_TRUE(warnings.empty()) << warnings.front().location << ": " << warnings.front().message << "\n" << line;
    auto v = boost::json::parse(line);
    const auto& o = v.as_object();
    // AuditEvent's required elements (R4 cardinality 1..1 / 1..*).
    EXPECT_EQ(o.at("resourceType"), "AuditEvent");
    EXPECT_TRUE(o.contains("type") && o.contains("recorded") && o.contains("agent") && o.contains("source"));
    EXPECT_TRUE(o.at("source").as_object().contains("observer"));
    for (const auto& a : o.at("agent").as_array()) EXPECT_TRUE(a.as_object().contains("requestor"));
    if (o.at("type").at("code") == "110106" && o.at("action") == "R" && o.at("outcome") == "0") {
      // The BALP disclosure pattern: destination agent, patient entity,
      // lifecycle Disclosure, the purpose of the decision.
      ++disclosures;
      bool destination = false;
      for (const auto& a : o.at("agent").as_array()) {
        destination = destination || a.at("type").at("coding").as_array()[0].at("code") == "110152";
      }
      EXPECT_TRUE(destination) << line;
      const auto& entities = o.at("entity").as_array();
      EXPECT_EQ(entities[0].at("role").at("code"), "1");
      EXPECT_EQ(entities[0].at("what").at("identifier").at("system"), "urn:carebridge:subject-key");
      EXPECT_EQ(entities[1].at("lifecycle").at("code"), "11");
      EXPECT_TRUE(o.contains("purposeOfEvent")) << line;
    }
    EXPECT_EQ(line.find(kNhs), std::string::npos);
  }
  EXPECT_EQ(n, 13);  // every entry of populate(): 3 receipts, 5 decisions, 5 attempts
  EXPECT_EQ(disclosures, 4);
}

TEST_F(AuditQueryTest, TheAtnaMessageFollowsDicomPs315A51) {
  populate();
  AuditQuery q;
  q.action = action::kDeliveryAttempt;
  auto rows = all(q);
  ASSERT_FALSE(rows.empty());
  auto xml = toAtnaAuditMessage(rows[0].seq, rows[0].entry, ExportSource{"carebridge", "RAT"}, "safeguarding");
  ASSERT_TRUE(xml) << xml.error().message;
  auto doc = xml::parse(*xml, "atna");
  ASSERT_TRUE(doc) << doc.error().message << "\n" << *xml;
  EXPECT_NE(xml->find("<EventIdentification EventActionCode=\"R\""), std::string::npos);
  EXPECT_NE(xml->find("<EventID csd-code=\"110106\" codeSystemName=\"DCM\" originalText=\"Export\"/>"),
            std::string::npos);
  EXPECT_NE(xml->find("<PurposeOfUse csd-code=\"safeguarding\""), std::string::npos);
  EXPECT_NE(xml->find("<RoleIDCode csd-code=\"110152\""), std::string::npos);
  EXPECT_NE(xml->find("AuditEnterpriseSiteID=\"RAT\" AuditSourceID=\"carebridge\""), std::string::npos);
  EXPECT_NE(xml->find("ParticipantObjectDataLifeCycle=\"11\""), std::string::npos);
  const std::string frame = octetCountedFrame(syslogMessage(*xml, rows[0].time_ms, "host", "carebridge", "42"));
  const auto sp = frame.find(' ');
  EXPECT_EQ(std::stoul(frame.substr(0, sp)), frame.size() - sp - 1);
  EXPECT_EQ(frame.substr(sp + 1, 7), "<85>1 2");
  EXPECT_NE(frame.find(" host carebridge 42 IHE+RFC-3881 - \xEF\xBB\xBF<?xml"), std::string::npos);
}

// ---- retention ------------------------------------------------------------------

TEST_F(AuditQueryTest, PurgeClearsDeliveredPayloadsPastTheirPeriodKeepsEntriesAndVerifies) {
  populate();
  // A message still queued for one destination keeps its payload.
  auto pending = receiveAndRoute(kOther, {{"las-out", "00K", "share", "bromley-oxleas-s75", "safeguarding", ""}},
                                 "enq-pending");
  ASSERT_EQ(pending.size(), 1u);
  appendWithCheckpoints({static_cast<int>(*store->auditSize()) + 1});
  const auto entriesBefore = *store->auditSize();

  RetentionPolicy policy;
  policy.global = std::chrono::hours(24 * 30);
  policy.by_agreement["sussex-partnership"] = std::chrono::hours(24 * 365);
  // Nothing is old enough yet.
  auto none = purgePayloads(*store, policy, SystemClock::instance().nowUnixMs(), Actor::person("op", "", "operator"));
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(none->messages, 0u);
  EXPECT_EQ(*store->auditSize(), entriesBefore) << "no batch, no entry";

  // After 31 days: enq-2 and enq-3 (bromley, 30 days) go; enq-1 also went
  // to Sussex (365 days) and stays; enq-pending is not delivered.
  // The store stamps state changes with the real clock, the entries here
  // with the fake one: "later" is 31 days after both.
  const std::int64_t now = std::max(clock.nowUnixMs(), SystemClock::instance().nowUnixMs());
  const std::int64_t later = now + 31LL * 24 * 3600 * 1000;
  auto r = purgePayloads(*store, policy, later, Actor::person("op", "", "operator"), 1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->messages, 2u);
  EXPECT_EQ(r->blobs, 4u);  // each message's payload and its rendered copy
  EXPECT_EQ(r->batches, 2u);
  EXPECT_EQ(*store->auditSize(), entriesBefore + 2);

  auto enq1 = store->messageBySeq(1);
  ASSERT_TRUE(enq1 && *enq1);
  EXPECT_TRUE(store->payload(1)) << "enq-1 kept (Sussex agreement: a year)";
  EXPECT_FALSE(store->payload(2)) << "enq-2 purged";
  EXPECT_FALSE(store->payload(3)) << "enq-3 purged";
  EXPECT_TRUE(store->payload(4)) << "still queued";

  AuditQuery q;
  q.action = action::kPurged;
  auto purged = all(q);
  ASSERT_EQ(purged.size(), 2u);
  EXPECT_EQ(purged[0].actor, "person:op");
  EXPECT_EQ(purged[0].detail("count"), "1");
  // The entries about the purged messages are all still there.
  auto report = subjectAccessReport(*store, {key(kNhs)});
  ASSERT_TRUE(report);
  EXPECT_EQ(report->disclosures.size(), 3u);

  // Running again purges nothing more; verification still passes.
  auto again = purgePayloads(*store, policy, later, Actor::person("op", "", "operator"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->messages, 0u);
  appendWithCheckpoints({static_cast<int>(*store->auditSize()) + 1});
  auto key = audit::VerifierKey::parse(publicKey);
  ASSERT_TRUE(key);
  auto v = verifyAuditLog(*store, *key);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_TRUE(v->intact) << v->problem;
  EXPECT_EQ(verify().status, cli::kAuditVerified);
}

TEST_F(AuditQueryTest, ThePurgeCommandUsesTheConfiguredPeriods) {
  populate();
  std::ostringstream out, err;
  EXPECT_EQ(cli::auditPurge(ctx, out, err), 1) << "no period configured";
  EXPECT_NE(err.str().find("payload_retention"), std::string::npos);
  writeConfig("payload_retention = \"1h\"\n\n[audit.payload_retention_by_agreement]\n\"sussex-partnership\" = \"2h\"\n");
  auto c = config();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->audit.payload_retention, std::chrono::hours(1));
  EXPECT_EQ(c->audit.payload_retention_by_agreement.at("sussex-partnership"), std::chrono::hours(2));
  // The library with the configured policy, at a time past both periods.
  const std::int64_t now = std::max(clock.nowUnixMs(), SystemClock::instance().nowUnixMs());
  auto r = purgePayloads(*store, retentionPolicyFrom(c->audit), now + 3 * 3600 * 1000,
                         Actor::person("op", "", "operator"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->messages, 3u);
}

TEST_F(AuditQueryTest, RetentionAndSyslogKeysAreValidatedWithFileAndLine) {
  writeConfig("payload_retention = \"5m\"\nsyslog_ca = \"signing.key\"\nexport_sitee = \"x\"\n");
  auto c = ctx.config();
  ASSERT_FALSE(c);
  const std::string& m = c.error().message;
  EXPECT_NE(m.find("carebridge.toml:7: audit.payload_retention: must be at least 1h"), std::string::npos) << m;
  EXPECT_NE(m.find("audit.syslog_ca: needs audit.syslog_collector"), std::string::npos) << m;
  EXPECT_NE(m.find("audit.export_sitee: unknown key"), std::string::npos) << m;
  writeConfig("syslog_collector = \"localhost:6514\"\n");
  c = ctx.config();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("audit.syslog_ca: required key is missing"), std::string::npos)
      << c.error().message;
}

}  // namespace
}  // namespace cb::audit::testing
