// audit_bench: append, checkpoint, verify and prove over a real audit log.
// See README.md beside this file.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "bench_store.h"
#include "audit/checkpointer.h"
#include "audit/log_verifier.h"
#include "audit/proof.h"
#include "common/clock.h"
#include "store/store.h"

namespace {

namespace fs = std::filesystem;
using Seconds = std::chrono::duration<double>;

double since(std::chrono::steady_clock::time_point t) {
  return Seconds(std::chrono::steady_clock::now() - t).count();
}

cb::audit::AuditEvent decision(std::int64_t k) {
  cb::audit::AuditEvent e;
  e.time_ms = 1767603600000 + k;
  e.actor = cb::audit::Actor::system();
  e.action = cb::audit::action::kDecided;
  e.outcome = cb::audit::outcome::kSuccess;
  e.message_id = "0190a1b2-3c4d-7e5f-8a9b-" + std::to_string(100000000000 + k);
  e.record_type = "SafeguardingEnquiry";
  e.source_org = "RAT";
  e.destination_org = "00K";
  e.subject_key = "6f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b" + std::to_string(k % 10);
  e.payload_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  e.with("agreement", "bdg-nelft-s75-2024").with("flow", "safeguarding-enquiry-to-council");
  e.with("rule", "share-s42-with-items-withheld").with("purpose", "safeguarding");
  e.with("lawful_basis", "UK GDPR 6(1)(e); 9(2)(b); DPA 2018 Sch1 para 18");
  e.with("withheld", "clinical-narrative");
  return e;
}

int usage() {
  std::fprintf(stderr, "usage: audit_bench [--entries N] [--batch N] [--dir DIR] [--normal]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t entries = 1000000;
  std::uint64_t batch = 1000;
  fs::path dir;
  bool full = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--entries" && i + 1 < argc) {
      entries = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--batch" && i + 1 < argc) {
      batch = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--normal") {
      full = false;
    } else {
      return usage();
    }
  }
  if (entries < 2 || batch == 0) return usage();
  auto opened = cb::bench::BenchStore::open(dir, "cb-audit-bench", "audit-bench.db", full);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().message.c_str());
    return 1;
  }
  auto& store = opened->store();
  const fs::path db_path = store.path();
  std::printf("audit_bench: %llu entries, %llu per transaction, synchronous=%s, %s\n",
              static_cast<unsigned long long>(entries), static_cast<unsigned long long>(batch),
              full ? "FULL" : "NORMAL", db_path.c_str());
  std::printf("entry size: %zu bytes (canonical JSON)\n", cb::audit::canonicalBytes(decision(0)).size());

  // 1. Append in batches; half first, so there are two checkpoints to relate.
  const auto half = entries / 2;
  auto appendRange = [&](std::uint64_t from, std::uint64_t to) -> bool {
    for (std::uint64_t k = from; k < to; k += batch) {
      std::vector<cb::audit::AuditEvent> events;
      const auto end = std::min(to, k + batch);
      events.reserve(end - k);
      for (auto i = k; i < end; ++i) events.push_back(decision(static_cast<std::int64_t>(i)));
      if (auto s = store.auditSync(std::move(events)); !s) {
        std::fprintf(stderr, "append: %s\n", s.error().message.c_str());
        return false;
      }
    }
    return true;
  };
  auto key = cb::audit::SignerKey::generate("bench.example/audit");
  if (!key) return 1;
  const auto verifier = key->verifierKey();
  cb::FakeClock clock(1767603600000);
  auto t = std::chrono::steady_clock::now();
  if (!appendRange(0, half)) return 1;
  double appendSeconds = since(t);
  auto cp = cb::audit::Checkpointer::create({std::chrono::minutes(10), 1}, std::move(*key), {}, store, clock);
  if (!cp) {
    std::fprintf(stderr, "%s\n", cp.error().message.c_str());
    return 1;
  }
  t = std::chrono::steady_clock::now();
  auto first = (*cp)->tick();
  const double firstCheckpoint = since(t);
  if (!first || !*first) return 1;
  t = std::chrono::steady_clock::now();
  if (!appendRange(half, entries)) return 1;
  appendSeconds += since(t);
  std::printf("append:     %8.2f s  %10.0f entries/s\n", appendSeconds, static_cast<double>(entries) / appendSeconds);

  t = std::chrono::steady_clock::now();
  auto second = (*cp)->tick();
  const double secondCheckpoint = since(t);
  if (!second || !*second) {
    std::fprintf(stderr, "checkpoint: %s\n", second ? "not signed" : second.error().message.c_str());
    return 1;
  }
  std::printf("checkpoint: %8.2f s  (catching up %llu entries from an empty tree: %.2f s)\n", secondCheckpoint,
              static_cast<unsigned long long>(half), firstCheckpoint);

  t = std::chrono::steady_clock::now();
  auto v = cb::audit::verifyAuditLog(store, verifier);
  const double verifySeconds = since(t);
  if (!v || !v->intact) {
    std::fprintf(stderr, "verify: %s\n", v ? v->problem.c_str() : v.error().message.c_str());
    return 1;
  }
  std::printf("verify:     %8.2f s  %10.0f entries/s  (%llu entries, %llu checkpoints)  target < 10 s for 1M: %s\n",
              verifySeconds, static_cast<double>(v->entries) / verifySeconds,
              static_cast<unsigned long long>(v->entries), static_cast<unsigned long long>(v->checkpoints),
              entries >= 1000000 ? (verifySeconds < 10 ? "met" : "MISSED") : "n/a");

  t = std::chrono::steady_clock::now();
  cb::store::StoreLeafHashSource source(store, entries);
  auto inclusion = cb::audit::buildInclusionProof(source, entries - 1, (*second)->note);
  const double proveSeconds = since(t);
  t = std::chrono::steady_clock::now();
  auto consistency = cb::audit::buildConsistencyProof(source, (*first)->note, (*second)->note);
  const double consistencySeconds = since(t);
  if (!inclusion || !consistency) return 1;
  std::printf("prove:      %8.2f s  inclusion of entry %llu (%zu path hashes)\n", proveSeconds,
              static_cast<unsigned long long>(entries - 1), inclusion->path.size());
  std::printf("consistency:%8.2f s  %llu -> %llu (%zu path hashes)\n", consistencySeconds,
              static_cast<unsigned long long>(half), static_cast<unsigned long long>(entries),
              consistency->path.size());
  std::error_code ec;
  std::printf("store file: %.1f MB\n", static_cast<double>(fs::file_size(db_path, ec)) / 1e6);
  return 0;
}
