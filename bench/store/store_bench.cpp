// store_bench: the durable store alone, doing per record what carebridged
// does for a passthrough route (store on receipt together with its routing
// to one destination, then record the delivery), with a window of records
// in flight as the HTTPS
// senders keep. It isolates the writer thread, the pipeline's one serial
// stage, from TLS and HTTP. See README.md beside this file.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>

#include "bench_store.h"
#include "common/ids.h"
#include "store/store.h"

namespace {

namespace fs = std::filesystem;
using Seconds = std::chrono::duration<double>;

double cpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Bytes this process has caused to be written to storage (/proc/self/io).
long long writeBytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  long long value = 0;
  while (io >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return 0;
}

// CPU seconds of this process's busiest thread (/proc/self/task/*/stat,
// utime and stime): the writer, the stage every record passes one at a time.
double busiestThreadSeconds() {
  double best = 0;
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14 || i == 15) ticks += std::strtod(field.c_str(), nullptr);
    }
    best = std::max(best, ticks / static_cast<double>(::sysconf(_SC_CLK_TCK)));
  }
  return best;
}

std::string subjectKey(std::uint64_t person) {
  // A keyed hash is 64 hex digits spread over the whole key space.
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t x = person * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
  std::string s;
  for (int i = 0; i < 64; ++i) {
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ULL;
    s.push_back(kHex[x & 15]);
  }
  return s;
}

cb::audit::AuditEvent event(const char* action, const std::string& id, const std::string& subject) {
  cb::audit::AuditEvent e;
  e.actor = cb::audit::Actor::system();
  e.action = action;
  e.outcome = cb::audit::outcome::kSuccess;
  e.message_id = id;
  e.record_type = "SafeguardingEnquiry";
  e.source_org = "RPG";
  e.subject_key = subject;
  return e;
}

struct Bench {
  cb::store::Store* store = nullptr;
  std::string payload;
  std::uint64_t persons = 1000;
  std::uint64_t total = 0;
  std::atomic<std::uint64_t> next{0};
  std::atomic<std::uint64_t> failed{0};
  std::mutex mutex;
  std::condition_variable all_done;
  std::uint64_t finished = 0;

  void finish() {
    std::lock_guard lock(mutex);
    if (++finished == total) all_done.notify_all();
  }

  // One record as the pipeline stores it: received and routed in one
  // operation, then, after its commit, the delivery's outcome. Then the
  // next record.
  void start() {
    const std::uint64_t k = next.fetch_add(1);
    if (k >= total) return;
    cb::store::NewMessage m;
    m.id = cb::newMessageId();
    m.source = "in";
    m.source_org = "RPG";
    m.sender_message_id = "bench-" + std::to_string(k);
    m.content_type = "application/octet-stream";
    m.record_type = "SafeguardingEnquiry";
    m.subject_key = subjectKey(k % persons);
    m.payload = payload;
    const std::string id = m.id;
    const std::string subject = m.subject_key;
    std::vector<cb::store::NewDelivery> ds(1);
    ds[0].destination = "out";
    ds[0].route = "bench";
    ds[0].content_type = "application/octet-stream";
    ds[0].record_type = "SafeguardingEnquiry";
    std::vector<cb::audit::AuditEvent> events;
    events.push_back(event(cb::audit::action::kTranslated, id, subject));
    events.back().with("route", "bench").with("mode", "passthrough");
    auto d = event(cb::audit::action::kDecided, id, subject);
    d.destination_org = "00AF";
    d.with("decision", "share").with("route", "bench").with("destination", "out").with("rule", "passthrough");
    d.with("explanation", "route 'bench' is configured as passthrough: forwarded unchanged, no "
                          "information-sharing agreement checked");
    events.push_back(std::move(d));
    store->submitRouted(std::move(m), {}, std::move(ds), std::move(events), [this, id, subject](auto r) {
      if (!r || r->deliveries.size() != 1) return fail();
      auto a = event(cb::audit::action::kDeliveryAttempt, id, subject);
      a.actor = cb::audit::Actor::adapter("out", "00AF");
      a.destination_org = "00AF";
      a.with("destination", "out").with("route", "bench").with("attempt", "1");
      store->recordAttempt(r->deliveries[0].seq, {cb::store::AttemptOutcome::Kind::Delivered, {}, 0}, {std::move(a)},
                           [this](cb::Status s) {
                             if (!s) return fail();
                             finish();
                             start();
                           });
    });
  }

  void fail() {
    failed.fetch_add(1);
    finish();
    start();
  }
};

int usage() {
  std::fprintf(stderr,
               "usage: store_bench [--records N] [--window W] [--size BYTES] [--persons P] [--dir DIR] [--normal]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t records = 30000;
  std::uint64_t window = 64;
  std::size_t size = 4096;
  std::uint64_t persons = 1000;
  fs::path dir;
  bool full = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto number = [&] { return std::strtoull(argv[++i], nullptr, 10); };
    if (a == "--records" && i + 1 < argc) {
      records = number();
    } else if (a == "--window" && i + 1 < argc) {
      window = number();
    } else if (a == "--size" && i + 1 < argc) {
      size = number();
    } else if (a == "--persons" && i + 1 < argc) {
      persons = number();
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--normal") {
      full = false;
    } else {
      return usage();
    }
  }
  if (records == 0 || window == 0 || persons == 0) return usage();
  auto opened = cb::bench::BenchStore::open(dir, "cb-store-bench", "store-bench.db", full);
  if (!opened) {
    std::fprintf(stderr, "store_bench: %s\n", opened.error().message.c_str());
    return 1;
  }
  Bench b;
  b.store = &opened->store();
  b.payload.assign(size, 'x');
  for (std::size_t i = 0; i < b.payload.size(); i += 7) b.payload[i] = static_cast<char>('a' + i % 26);
  b.persons = persons;
  b.total = records;
  const double cpu0 = cpuSeconds();
  const long long w0 = writeBytes();
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < window && i < records; ++i) b.start();
  {
    std::unique_lock lock(b.mutex);
    b.all_done.wait(lock, [&] { return b.finished >= b.total; });
  }
  const double secs = Seconds(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpuSeconds() - cpu0;
  const long long written = writeBytes() - w0;
  const double writer = busiestThreadSeconds();
  std::printf("store_bench: %llu records of %zu B, window %llu, %llu persons, synchronous=%s\n",
              static_cast<unsigned long long>(records), size, static_cast<unsigned long long>(window),
              static_cast<unsigned long long>(persons), full ? "full" : "normal");
  std::printf("  %.0f records/s (%.2f s), CPU per record %.0f us (busiest thread %.0f us), %.1f KiB written per "
              "record, %llu failed\n",
              static_cast<double>(records) / secs, secs, cpu * 1e6 / static_cast<double>(records),
              writer * 1e6 / static_cast<double>(records),
              static_cast<double>(written) / 1024.0 / static_cast<double>(records),
              static_cast<unsigned long long>(b.failed.load()));
  return b.failed.load() == 0 ? 0 : 1;
}
