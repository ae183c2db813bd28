#include "cli/audit_query_command.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <ctime>
#include <iomanip>
#include <iostream>

#include "audit/audit_query.h"
#include "audit/export_atna.h"
#include "audit/export_fhir.h"
#include "audit/retention.h"
#include "common/clock.h"
#include "common/json_text.h"
#include "mapping/nhs_number.h"
#include "pipeline/subject_key.h"

namespace cb::cli {
namespace {

// Reading the trail is recorded before anything is shown (fail closed).
Status recordView(store::Store& st, const CliContext& ctx, const std::string& role, const std::string& via,
                  std::vector<std::pair<std::string, std::string>> details) {
  audit::AuditEvent e;
  e.actor = ctx.actor(role);
  e.action = audit::action::kViewed;
  e.outcome = audit::outcome::kSuccess;
  e.with("via", via);
  for (auto& [k, v] : details) e.with(std::move(k), std::move(v));
  if (auto s = st.auditSync({std::move(e)}); !s) {
    return fail("refusing to read the audit trail: the view could not be audited: " + s.error().message);
  }
  return {};
}

// The keyed hashes for the identifiers given, with the site key; the
// identifiers themselves go no further than this function.
Result<std::vector<std::string>> subjectKeys(const config::Config& c, const std::vector<std::string>& nhs_numbers,
                                             const std::vector<std::string>& local_ids) {
  std::vector<std::string> keys;
  if (nhs_numbers.empty() && local_ids.empty()) return keys;
  auto keyer = pipeline::SubjectKeyer::load(c.store.identity_key);
  if (!keyer) {
    return fail(keyer.error().message + " (the site key [store] identity_key is needed to look people up)");
  }
  for (const auto& n : nhs_numbers) {
    auto k = keyer->nhsNumberKey(n);
    if (!k) return fail("--nhs-number: " + k.error().message);
    keys.push_back(std::move(*k));
  }
  for (const auto& l : local_ids) {
    auto k = keyer->localIdKey(l);
    if (!k) return fail("--local-id: " + k.error().message);
    keys.push_back(std::move(*k));
  }
  return keys;
}

struct Opened {
  std::shared_ptr<const config::Config> config;
  std::unique_ptr<store::Store> store;
};

Result<Opened> open(const CliContext& ctx) {
  auto c = ctx.config();
  if (!c) return c.error();
  auto st = ctx.openStore();
  if (!st) return st.error();
  return Opened{std::move(*c), std::move(*st)};
}

std::string csvField(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string detailsText(const audit::AuditRecord& r) {
  std::string s;
  for (const auto& [k, v] : r.details()) s += (s.empty() ? "" : "; ") + k + "=" + v;
  return s;
}

void jsonField(std::string& out, const char* name, std::string_view value, bool& first) {
  if (!first) out.push_back(',');
  first = false;
  appendJsonString(out, name);
  out.push_back(':');
  appendJsonString(out, value);
}

std::string recordJson(const audit::AuditRecord& r) {
  std::string o = "{\"seq\":" + std::to_string(r.seq);
  bool first = false;
  jsonField(o, "time", formatUtc(r.time_ms), first);
  jsonField(o, "action", r.action, first);
  jsonField(o, "outcome", r.outcome, first);
  jsonField(o, "actor", r.actor, first);
  jsonField(o, "message_id", r.message_id, first);
  jsonField(o, "record_type", r.record_type, first);
  jsonField(o, "source_org", r.source_org, first);
  jsonField(o, "destination_org", r.destination_org, first);
  jsonField(o, "subject_key", r.subject_key, first);
  jsonField(o, "agreement", r.agreement, first);
  jsonField(o, "purpose", r.purpose, first);
  jsonField(o, "decision", r.decision, first);
  o += ",\"details\":{";
  bool dfirst = true;
  for (const auto& [k, v] : r.details()) jsonField(o, k.c_str(), v, dfirst);
  o += "}}";
  return o;
}

std::string orDash(const std::string& s) { return s.empty() ? "-" : s; }

}  // namespace

std::optional<std::int64_t> parseQueryTime(const std::string& text) {
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789") == std::string::npos && text.size() > 10) return std::stoll(text);
  std::tm tm{};
  int ms = 0;
  char tail[8] = {};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  int n = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) return std::nullopt;
  if (static_cast<std::size_t>(n) != text.size()) {
    const char* rest = text.c_str() + n;
    int m = 0;
    if (std::sscanf(rest, "T%2d:%2d:%2d%n", &h, &mi, &s, &m) != 3) return std::nullopt;
    rest += m;
    if (*rest == '.') {
      int k = 0;
      if (std::sscanf(rest, ".%3d%n", &ms, &k) != 1) return std::nullopt;
      rest += k;
    }
    if (std::sscanf(rest, "%7s", tail) != 1 || std::string(tail) != "Z") return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

int auditQuery(const CliContext& ctx, const AuditQueryArgs& a, std::ostream& out, std::ostream& err) {
  if (a.format != "table" && a.format != "csv" && a.format != "json") {
    err << "--format must be table, csv or json\n";
    return 1;
  }
  auto opened = open(ctx);
  if (!opened) {
    err << opened.error().message << "\n";
    return 1;
  }
  audit::AuditQuery q;
  auto keys = subjectKeys(*opened->config, a.nhs_numbers, a.local_ids);
  if (!keys) {
    err << keys.error().message << "\n";
    return 1;
  }
  q.subject_keys = std::move(*keys);
  q.organisation = a.organisation;
  q.agreement = a.agreement;
  q.purpose = a.purpose;
  q.decision = a.decision;
  q.action = a.action;
  q.after_seq = a.after;
  q.limit = std::max<std::size_t>(1, a.limit);
  for (const auto& [text, slot, name] : {std::tuple{&a.from, &q.from_ms, "--from"}, std::tuple{&a.to, &q.to_ms, "--to"}}) {
    if (text->empty()) continue;
    *slot = parseQueryTime(*text);
    if (!*slot) {
      err << name << " " << *text << ": write a date (2026-01-05), a UTC time (2026-01-05T09:00:00Z) or Unix ms\n";
      return 1;
    }
  }
  auto& store = *opened->store;
  if (auto s = recordView(store, ctx, "ig-reviewer", "carebridge audit query", audit::describe(q)); !s) {
    err << s.error().message << "\n";
    return 1;
  }
  auto rows = audit::queryAudit(store, q);
  if (!rows) {
    err << rows.error().message << "\n";
    return 1;
  }
  const bool more = rows->size() == q.limit;
  const std::int64_t last = rows->empty() ? q.after_seq : rows->back().seq;
  if (a.format == "json") {
    out << "{\"entries\":[";
    for (std::size_t i = 0; i < rows->size(); ++i) out << (i == 0 ? "" : ",") << recordJson((*rows)[i]);
    out << "],\"next_after\":" << (more ? std::to_string(last) : std::string("null")) << "}\n";
    return 0;
  }
  if (a.format == "csv") {
    out << "seq,time,action,outcome,actor,message_id,record_type,source_org,destination_org,subject_key,agreement,"
           "purpose,decision,details\r\n";
    for (const auto& r : *rows) {
      out << r.seq << "," << formatUtc(r.time_ms) << "," << csvField(r.action) << "," << csvField(r.outcome) << ","
          << csvField(r.actor) << "," << csvField(r.message_id) << "," << csvField(r.record_type) << ","
          << csvField(r.source_org) << "," << csvField(r.destination_org) << "," << csvField(r.subject_key) << ","
          << csvField(r.agreement) << "," << csvField(r.purpose) << "," << csvField(r.decision) << ","
          << csvField(detailsText(r)) << "\r\n";
    }
    if (more) err << "more entries: repeat with --after " << last << "\n";
    return 0;
  }
  // Columns as wide as their longest value: agreement ids and purposes run
  // long, and a cell must never run into the next one.
  std::vector<std::array<std::string, 9>> table;
  table.push_back({"SEQ", "TIME", "ACTION", "OUTCOME", "DECISION", "FROM -> TO", "AGREEMENT", "PURPOSE",
                   "MESSAGE / ACTOR"});
  for (const auto& r : *rows) {
    const std::string route = (r.source_org.empty() && r.destination_org.empty())
                                  ? std::string("-")
                                  : orDash(r.source_org) + "->" + orDash(r.destination_org);
    table.push_back({std::to_string(r.seq), formatUtc(r.time_ms), r.action, r.outcome, orDash(r.decision), route,
                     orDash(r.agreement), orDash(r.purpose), r.message_id.empty() ? r.actor : r.message_id});
  }
  std::array<std::size_t, 9> width{};
  for (const auto& row : table) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : table) {
    for (std::size_t i = 0; i + 1 < row.size(); ++i) out << std::left << std::setw(int(width[i] + 2)) << row[i];
    out << row.back() << "\n";
  }
  out << rows->size() << " entries" << (more ? "; more: repeat with --after " + std::to_string(last) : "") << "\n";
  return 0;
}

// ---- subject access report ----

namespace {

void sarJsonList(std::string& o, const char* name, const std::vector<audit::SarDecision>& list) {
  appendJsonString(o, name);
  o += ":[";
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& d = list[i];
    o += i == 0 ? "{" : ",{";
    bool first = true;
    jsonField(o, "decided", formatUtc(d.time_ms), first);
    if (d.delivered_ms) jsonField(o, "delivered", formatUtc(*d.delivered_ms), first);
    jsonField(o, "to_organisation", d.destination_org, first);
    jsonField(o, "to_system", d.destination, first);
    jsonField(o, "from_organisation", d.source_org, first);
    jsonField(o, "record_type", d.record_type, first);
    jsonField(o, "message_id", d.message_id, first);
    jsonField(o, "decision", d.decision, first);
    jsonField(o, "rule", d.rule, first);
    jsonField(o, "agreement", d.agreement, first);
    jsonField(o, "flow", d.flow, first);
    jsonField(o, "purpose", d.purpose, first);
    jsonField(o, "lawful_basis", d.lawful_basis, first);
    jsonField(o, "withheld", d.withheld, first);
    jsonField(o, "explanation", d.explanation, first);
    if (d.decision == "hold") jsonField(o, "settled", d.settled, first);
    o += ",\"audit_entry\":" + std::to_string(d.seq);
    if (d.delivered_seq) o += ",\"delivery_entry\":" + std::to_string(*d.delivered_seq);
    o += "}";
  }
  o += "]";
}

void sarTextList(std::ostream& out, const char* title, const std::vector<audit::SarDecision>& list, bool delivered) {
  out << "\n" << title << " (" << list.size() << ")\n";
  if (list.empty()) out << "  none\n";
  for (const auto& d : list) {
    out << "  " << formatUtc(delivered && d.delivered_ms ? *d.delivered_ms : d.time_ms) << "  "
        << (delivered ? "to " : "for ") << orDash(d.destination_org)
        << (d.destination.empty() ? "" : " (" + d.destination + ")") << "  " << orDash(d.record_type) << " from "
        << orDash(d.source_org) << "\n";
    out << "      agreement " << orDash(d.agreement) << ", flow " << orDash(d.flow) << ", purpose "
        << orDash(d.purpose) << ", lawful basis " << orDash(d.lawful_basis) << "\n";
    out << "      decision " << d.decision << " (rule " << orDash(d.rule) << ")";
    if (!d.withheld.empty()) out << "; withheld: " << d.withheld;
    out << "\n      message " << d.message_id << "; audit entries " << d.seq;
    if (d.delivered_seq) out << ", " << *d.delivered_seq;
    out << "\n";
    if (!delivered && !d.explanation.empty()) out << "      why: " << d.explanation << "\n";
    if (!delivered && d.decision == "hold") {
      out << "      " << (d.settled.empty() ? "waiting for approval" : d.settled) << "\n";
    }
  }
}

}  // namespace

int auditSar(const CliContext& ctx, const std::string& nhs_number, const std::vector<std::string>& local_ids,
             const std::string& format, std::ostream& out, std::ostream& err) {
  if (format != "text" && format != "json") {
    err << "--format must be text or json\n";
    return 1;
  }
  if (nhs_number.empty() && local_ids.empty()) {
    err << "give --nhs-number (and any --local-id SYSTEM:ID the person is known by)\n";
    return 1;
  }
  auto opened = open(ctx);
  if (!opened) {
    err << opened.error().message << "\n";
    return 1;
  }
  std::vector<std::string> numbers;
  if (!nhs_number.empty()) numbers.push_back(nhs_number);
  auto keys = subjectKeys(*opened->config, numbers, local_ids);
  if (!keys) {
    err << keys.error().message << "\n";
    return 1;
  }
  auto& store = *opened->store;
  std::string joined;
  for (const auto& k : *keys) joined += (joined.empty() ? "" : ",") + k;
  if (auto s = recordView(store, ctx, "ig-reviewer", "carebridge audit sar", {{"subject_key", joined}}); !s) {
    err << s.error().message << "\n";
    return 1;
  }
  auto report = audit::subjectAccessReport(store, *keys);
  if (!report) {
    err << report.error().message << "\n";
    return 1;
  }
  if (format == "json") {
    std::string o = "{\"generated\":" + jsonString(formatUtc(SystemClock::instance().nowUnixMs()));
    o += ",\"audit_entries\":" + std::to_string(report->entries) + ",";
    sarJsonList(o, "disclosures", report->disclosures);
    o += ",";
    sarJsonList(o, "refusals", report->refusals);
    o += ",";
    sarJsonList(o, "holds", report->holds);
    o += ",";
    sarJsonList(o, "undelivered", report->undelivered);
    o += "}\n";
    out << o;
    return 0;
  }
  out << "Subject access report\n";
  if (!nhs_number.empty()) {
    const auto check = mapping::checkNhsNumber(nhs_number);
    out << "Person: NHS number " << mapping::formatNhsNumberSpaced(check.digits) << "\n";
  }
  for (const auto& l : local_ids) out << "Also known as: " << l << "\n";
  out << "Generated " << formatUtc(SystemClock::instance().nowUnixMs()) << " from " << report->entries
      << " audit entries about this person\n";
  sarTextList(out, "Disclosed (shared and delivered)", report->disclosures, true);
  sarTextList(out, "Refused", report->refusals, false);
  sarTextList(out, "Held for approval", report->holds, false);
  sarTextList(out, "Decided to share, not delivered", report->undelivered, false);
  return 0;
}

// ---- export ----

int auditExport(const CliContext& ctx, const std::string& format, std::int64_t from, std::size_t limit,
                std::ostream& out, std::ostream& err) {
  if (format != "fhir" && format != "atna") {
    err << "--format must be fhir or atna\n";
    return 1;
  }
  auto opened = open(ctx);
  if (!opened) {
    err << opened.error().message << "\n";
    return 1;
  }
  auto& store = *opened->store;
  auto rows = store.auditEntries(std::max<std::int64_t>(0, from), limit);
  if (!rows) {
    err << rows.error().message << "\n";
    return 1;
  }
  if (auto s = recordView(store, ctx, "auditor", "carebridge audit export",
                          {{"format", format}, {"from", std::to_string(from)}, {"count", std::to_string(rows->size())}});
      !s) {
    err << s.error().message << "\n";
    return 1;
  }
  audit::ExportSource source;
  source.site = opened->config->audit.export_site;
  for (const auto& r : *rows) {
    std::string purpose;
    if (r.action == audit::action::kDeliveryAttempt) {
      audit::AuditRecord rec;
      rec.entry = r.entry;
      auto p = audit::decisionPurpose(store, r.message_id, rec.detail("destination"));
      if (p) purpose = std::move(*p);
    }
    auto text = format == "fhir" ? audit::toFhirAuditEvent(r.seq, r.entry, source, purpose)
                                 : audit::toAtnaAuditMessage(r.seq, r.entry, source, purpose);
    if (!text) {
      err << text.error().message << "\n";
      return 1;
    }
    out << *text << "\n";
  }
  return 0;
}

// ---- purge ----

int auditPurge(const CliContext& ctx, std::ostream& out, std::ostream& err) {
  auto opened = open(ctx);
  if (!opened) {
    err << opened.error().message << "\n";
    return 1;
  }
  const auto policy = audit::retentionPolicyFrom(opened->config->audit);
  if (policy.empty()) {
    err << opened->config->file.string()
        << ": no retention period: set [audit] payload_retention (or [audit.payload_retention_by_agreement])\n";
    return 1;
  }
  auto r = audit::purgePayloads(*opened->store, policy, SystemClock::instance().nowUnixMs(), ctx.actor("operator"));
  if (!r) {
    err << r.error().message << "\n";
    return 1;
  }
  out << "purged the payloads of " << r->messages << " delivered messages (" << r->blobs << " blobs, " << r->bytes
      << " bytes) in " << r->batches << " audited batches; their audit entries are kept\n";
  return 0;
}

void addAuditQueryCommands(CLI::App& audit, CliContext& ctx) {
  auto args = std::make_shared<AuditQueryArgs>();
  auto* q = audit.add_subcommand("query", "Find audit entries by person, organisation, agreement, purpose, ...");
  q->add_option("--nhs-number", args->nhs_numbers, "the person's NHS number (hashed with the site key)");
  q->add_option("--local-id", args->local_ids, "SYSTEM:ID, a local id the person is known by");
  q->add_option("--organisation", args->organisation, "source or destination organisation (ODS code)");
  q->add_option("--agreement", args->agreement, "information-sharing agreement id");
  q->add_option("--purpose", args->purpose, "direct-care, safeguarding, ...");
  q->add_option("--decision", args->decision, "share, share-withheld, hold or refuse");
  q->add_option("--action", args->action, "e.g. sharing.decided, delivery.attempt, audit.viewed");
  q->add_option("--from", args->from, "from this time (2026-01-05, 2026-01-05T09:00:00Z, Unix ms)");
  q->add_option("--to", args->to, "before this time");
  q->add_option("--after", args->after, "entries after this seq (paging)");
  q->add_option("-n,--limit", args->limit, "at most this many")->capture_default_str();
  q->add_option("--format", args->format, "table, csv or json")->capture_default_str();
  q->callback([&ctx, args] { throw CLI::RuntimeError(auditQuery(ctx, *args, std::cout, std::cerr)); });

  auto nhs = std::make_shared<std::string>();
  auto locals = std::make_shared<std::vector<std::string>>();
  auto sarFormat = std::make_shared<std::string>("text");
  auto* s = audit.add_subcommand("sar", "Subject access report: who has been sent this person's records");
  s->add_option("--nhs-number", *nhs, "the person's NHS number")->required();
  s->add_option("--local-id", *locals, "SYSTEM:ID, a local id the person is also known by");
  s->add_option("--format", *sarFormat, "text or json")->capture_default_str();
  s->callback([&ctx, nhs, locals, sarFormat] {
    throw CLI::RuntimeError(auditSar(ctx, *nhs, *locals, *sarFormat, std::cout, std::cerr));
  });

  auto exportFormat = std::make_shared<std::string>();
  auto from = std::make_shared<std::int64_t>(0);
  auto limit = std::make_shared<std::size_t>(1000);
  auto* e = audit.add_subcommand("export", "Entries as FHIR R4 AuditEvent (JSON) or IHE ATNA (XML), one per line");
  e->add_option("--format", *exportFormat, "fhir or atna")->required();
  e->add_option("--from", *from, "first entry (seq)")->capture_default_str();
  e->add_option("-n,--limit", *limit, "at most this many")->capture_default_str();
  e->callback([&ctx, exportFormat, from, limit] {
    throw CLI::RuntimeError(auditExport(ctx, *exportFormat, *from, *limit, std::cout, std::cerr));
  });

  auto* p = audit.add_subcommand("purge", "Purge payloads of delivered messages past their retention period");
  p->callback([&ctx] { throw CLI::RuntimeError(auditPurge(ctx, std::cout, std::cerr)); });
}

}  // namespace cb::cli
