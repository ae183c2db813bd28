// audit_query_bench: person queries and subject access reports over a large
// audit log (issue #5 item 8: a person query over 10 million entries in
// under 100 ms). See README.md beside this file.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "audit/audit_query.h"
#include "common/digest.h"
#include "store/audit_appender.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace {

namespace fs = std::filesystem;
using Ms = std::chrono::duration<double, std::milli>;

constexpr std::int64_t kStartMs = 1767603600000;  // 2026-01-05T09:00:00Z

std::string subjectKey(std::uint64_t person) { return cb::toHex(cb::sha256("nhs:" + std::to_string(person))); }

// What the pipeline writes for one record about `person`: its receipt, a
// decision per destination, a delivery attempt per share (route.cpp,
// deliver.cpp). Cycles through those shapes by entry number.
cb::audit::AuditEvent entry(std::uint64_t k, std::uint64_t people) {
  static const char* kOrgs[] = {"RAT", "00K", "RX2", "00AB", "RV5", "RQY", "00BK", "RNU"};
  static const char* kAgreements[] = {"bdg-nelft-s75-2024", "bromley-oxleas-s75", "wsx-spft-s75", "cov-cwpt-isa"};
  static const char* kPurposes[] = {"safeguarding", "direct-care", "performance-monitoring", "statutory-return"};
  const std::uint64_t record = k / 3;
  // A multiplicative hash spreads a person's records over the whole log.
  const std::uint64_t person = (record * 2654435761u) % people;
  cb::audit::AuditEvent e;
  e.time_ms = kStartMs + static_cast<std::int64_t>(k) * 50;
  e.message_id = "0190a1b2-3c4d-7e5f-8a9b-" + std::to_string(100000000000 + record);
  e.record_type = "SafeguardingEnquiry";
  e.source_org = kOrgs[record % 2];
  e.destination_org = kOrgs[2 + record % 6];
  e.subject_key = subjectKey(person);
  e.payload_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  switch (k % 3) {
    case 0:
      e.actor = cb::audit::Actor::adapter("rio-in", e.source_org);
      e.action = cb::audit::action::kReceived;
      e.outcome = cb::audit::outcome::kSuccess;
      e.destination_org.clear();
      e.with("adapter", "rio-in").with("bytes", "4096");
      break;
    case 1: {
      const bool refuse = record % 10 == 0;
      e.actor = cb::audit::Actor::system();
      e.action = cb::audit::action::kDecided;
      e.outcome = refuse ? cb::audit::outcome::kRefused : cb::audit::outcome::kSuccess;
      e.with("decision", refuse ? "refuse" : record % 4 == 0 ? "share-withheld" : "share");
      e.with("agreement", kAgreements[record % 4]).with("flow", "safeguarding-enquiry-to-council");
      e.with("rule", "share-s42").with("purpose", kPurposes[record % 4]).with("destination", "out");
      e.with("lawful_basis", "UK GDPR 6(1)(e); 9(2)(b); DPA 2018 Sch1 para 18");
      break;
    }
    default:
      e.actor = cb::audit::Actor::adapter("out", e.destination_org);
      e.action = cb::audit::action::kDeliveryAttempt;
      e.outcome = cb::audit::outcome::kSuccess;
      e.with("destination", "out").with("route", "rio-to-partners").with("attempt", "1");
  }
  return e;
}

struct Stats {
  double median, p95, p99, max;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))]; };
  return {at(0.5), at(0.95), at(0.99), v.back()};
}

int usage() {
  std::fprintf(stderr, "usage: audit_query_bench [--entries N] [--people N] [--queries N] [--dir DIR]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t entries = 10000000;
  std::uint64_t people = 200000;
  int queries = 1000;
  fs::path dir;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--entries" && i + 1 < argc) {
      entries = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--people" && i + 1 < argc) {
      people = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--queries" && i + 1 < argc) {
      queries = std::atoi(argv[++i]);
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else {
      return usage();
    }
  }
  if (entries < 3 || people < 1 || queries < 1) return usage();
  bool temp = false;
  if (dir.empty()) {
    dir = fs::temp_directory_path() / ("cb-audit-query-bench-" + std::to_string(::getpid()));
    temp = true;
  }
  fs::create_directories(dir);
  cb::store::StoreOptions o;
  o.path = dir / "carebridge.db";
  o.synchronous_full = false;
  auto store = cb::store::Store::open(o);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    return 1;
  }
  auto& st = **store;

  // Fill (reused when --dir already holds enough entries).
  auto have = st.auditSize();
  if (!have) return 1;
  const auto fillStart = std::chrono::steady_clock::now();
  std::uint64_t next = static_cast<std::uint64_t>(*have);
  const std::uint64_t kBatch = 50000;
  while (next < entries) {
    const std::uint64_t end = std::min(entries, next + kBatch);
    auto s = st.transactSync([&](cb::store::Connection&, cb::store::AuditAppender& audit) -> cb::Status {
      for (std::uint64_t k = next; k < end; ++k) {
        if (auto a = audit.append(entry(k, people)); !a) return a;
      }
      return {};
    });
    if (!s) {
      std::fprintf(stderr, "append: %s\n", s.error().message.c_str());
      return 1;
    }
    next = end;
    if (next % 1000000 == 0) std::fprintf(stderr, "  %llu entries\n", static_cast<unsigned long long>(next));
  }
  const double fillS = Ms(std::chrono::steady_clock::now() - fillStart).count() / 1000;
  if (*have < static_cast<std::int64_t>(entries)) {
    std::printf("fill: %llu entries in %.1f s (%.0f entries/s)\n",
                static_cast<unsigned long long>(entries - static_cast<std::uint64_t>(*have)), fillS,
                static_cast<double>(entries - static_cast<std::uint64_t>(*have)) / fillS);
  }
  (void)st.read([](cb::store::Connection& db) { return db.exec("ANALYZE"); });

  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::uint64_t> pick(0, people - 1);
  std::vector<double> person, personRange, sar, agreement, org;
  std::size_t rows = 0;
  for (int i = 0; i < queries; ++i) {
    const std::string key = subjectKey(pick(rng));
    cb::audit::AuditQuery q;
    q.subject_keys = {key};
    q.limit = 1000;
    auto t = std::chrono::steady_clock::now();
    auto r = cb::audit::queryAudit(st, q);
    person.push_back(Ms(std::chrono::steady_clock::now() - t).count());
    if (!r) {
      std::fprintf(stderr, "%s\n", r.error().message.c_str());
      return 1;
    }
    rows += r->size();

    q.from_ms = kStartMs + static_cast<std::int64_t>(entries) * 25;  // the second half of the log
    t = std::chrono::steady_clock::now();
    (void)cb::audit::queryAudit(st, q);
    personRange.push_back(Ms(std::chrono::steady_clock::now() - t).count());

    if (i < queries / 10 + 1) {
      t = std::chrono::steady_clock::now();
      auto rep = cb::audit::subjectAccessReport(st, {key});
      sar.push_back(Ms(std::chrono::steady_clock::now() - t).count());
      if (!rep) return 1;

      cb::audit::AuditQuery a;
      a.agreement = "wsx-spft-s75";
      a.decision = "refuse";
      a.after_seq = static_cast<std::int64_t>(pick(rng) % entries);
      t = std::chrono::steady_clock::now();
      (void)cb::audit::queryAudit(st, a);
      agreement.push_back(Ms(std::chrono::steady_clock::now() - t).count());

      cb::audit::AuditQuery g;
      g.organisation = "RX2";
      g.from_ms = kStartMs + static_cast<std::int64_t>(pick(rng) % entries) * 50;
      g.to_ms = *g.from_ms + 3600 * 1000;
      t = std::chrono::steady_clock::now();
      (void)cb::audit::queryAudit(st, g);
      org.push_back(Ms(std::chrono::steady_clock::now() - t).count());
    }
  }
  auto print = [](const char* what, const std::vector<double>& v) {
    const Stats s = stats(v);
    std::printf("%-44s n=%-5zu median %7.2f ms  p95 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", what, v.size(), s.median,
                s.p95, s.p99, s.max);
  };
  std::printf("log: %llu entries, %llu people (about %.0f entries each), store %.2f GB\n",
              static_cast<unsigned long long>(entries), static_cast<unsigned long long>(people),
              static_cast<double>(entries) / static_cast<double>(people),
              static_cast<double>(fs::file_size(o.path)) / 1e9);
  print("person query (all entries, limit 1000)", person);
  print("person query, second half of the log", personRange);
  print("subject access report", sar);
  print("agreement + decision=refuse, limit 100", agreement);
  print("organisation within one hour", org);
  std::printf("person query rows: %.1f per person on average\n", static_cast<double>(rows) / queries);
  store->reset();
  if (temp) fs::remove_all(dir);
  return 0;
}
