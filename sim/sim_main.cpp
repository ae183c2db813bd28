// carebridge-sim: simulated partner systems (see sim/README.md).
#include "common/log.h"
#include "net/https_client.h"
#include "net/https_server.h"
#include "net/tls.h"
#include "synthetic.h"
#include "system_commands.h"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

std::int64_t nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct TlsArgs {
  std::string cert, key, ca, server_name = "localhost";
  cb::net::TlsSettings settings() const {
    cb::net::TlsSettings s;
    s.certificate = cert;
    s.private_key = key;
    s.ca = ca;
    s.server_name = server_name;
    return s;
  }
};

void addTls(CLI::App* app, TlsArgs& t) {
  app->add_option("--cert", t.cert, "our certificate (PEM)")->required();
  app->add_option("--key", t.key, "our private key (PEM)")->required();
  app->add_option("--ca", t.ca, "CA for the peer's certificate (PEM)")->required();
  app->add_option("--server-name", t.server_name, "expected name of the server (client side)");
}

// ---- send -----------------------------------------------------------------

struct SendArgs {
  TlsArgs tls;
  std::string url;
  std::uint64_t count = 10;
  std::uint64_t persons = 5;
  std::size_t size = 1024;
  std::size_t concurrency = 8;
  double rate = 0;  // records per second; 0 = as fast as acknowledged
  std::string id_prefix = "sim";
  /// A record in a real system's format to send instead of the synthetic
  /// concern: {{NHS}} becomes the synthetic person's NHS number, {{ID}} the
  /// sender id, {{PERSON}} the person's number.
  std::string template_file;
  std::string template_text;
  std::string content_type = "application/xml";
  std::uint64_t first = 0;
  int max_seconds = 120;
  bool quiet = false;
};

// This process's CPU time (user and system) per record, for benchmarks
// where the load generator shares the machine with what it measures.
long cpuMicrosPer(std::uint64_t records) {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const long us = (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000L + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
  return records == 0 ? 0 : us / static_cast<long>(records);
}

int runSend(const SendArgs& a) {
  auto tls = cb::net::makeClientTlsContext(a.tls.settings());
  if (!tls) {
    std::cerr << tls.error().message << "\n";
    return 1;
  }
  asio::io_context io;
  cb::net::ClientOptions co;
  co.tls = *tls;
  co.max_connections_per_origin = a.concurrency;
  auto client = cb::net::HttpsClient::create(io, co);

  std::mutex m;
  std::condition_variable cv;
  std::uint64_t next = a.first, acked = 0, duplicates = 0, retries = 0, in_flight = 0;
  // A real source sends a person's next record only once the previous one
  // was acknowledged; otherwise their order is undefined before carebridged
  // sees them, and the sink could not check per-person order.
  std::set<std::uint64_t> persons_in_flight;
  const auto personOf = [&a](std::uint64_t seq) { return seq % std::max<std::uint64_t>(1, a.persons); };
  const std::uint64_t end = a.first + a.count;
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::seconds(a.max_seconds);
  std::map<std::uint64_t, int> attempts;
  std::string last_error;

  std::function<void(std::uint64_t)> send_one;
  // Starts every record that may go now: fewer than `concurrency` in
  // flight and the person's previous record acknowledged. Called with `m`
  // held; releases it around each send. Without a rate limit the I/O thread
  // that took an acknowledgement starts the next record itself: handing
  // each one to the main thread and back cost two thread wake-ups per
  // record, a quarter of this process's CPU (perf), on a machine the load
  // generator shares with what it measures.
  const auto launch = [&](std::unique_lock<std::mutex>& lock) {
    while (next < end && Clock::now() < deadline && in_flight < a.concurrency &&
           persons_in_flight.count(personOf(next)) == 0) {
      ++in_flight;
      persons_in_flight.insert(personOf(next));
      const std::uint64_t seq = next++;
      lock.unlock();
      send_one(seq);
      lock.lock();
    }
  };
  send_one = [&](std::uint64_t seq) {
    cb::net::ClientRequest req;
    req.url = a.url;
    const std::uint64_t person = seq % std::max<std::uint64_t>(1, a.persons);
    const std::string id = a.id_prefix + "-" + std::to_string(seq);
    if (a.template_text.empty()) {
      req.body = cb::sim::syntheticRecord(person, seq, a.size, nowMicros());
      req.headers = {{"Content-Type", a.content_type},
                     {"X-Message-Id", id},
                     {"X-Subject", cb::sim::syntheticNhsNumber(person)},
                     {"X-Record-Type", "SafeguardingConcern"}};
    } else {
      // A record in the source system's own format: the mapping finds the
      // person and the record type in it.
      req.body = a.template_text;
      const std::pair<std::string, std::string> fill[] = {
          {"{{NHS}}", cb::sim::syntheticNhsNumber(person)}, {"{{ID}}", id}, {"{{PERSON}}", std::to_string(person)}};
      for (const auto& [from, to] : fill) {
        for (auto at = req.body.find(from); at != std::string::npos; at = req.body.find(from, at + to.size())) {
          req.body.replace(at, from.size(), to);
        }
      }
      req.headers = {{"Content-Type", a.content_type}, {"X-Message-Id", id}};
    }
    client->request(std::move(req), [&, seq](cb::net::ClientResult r) {
      const bool ok = r.response && (r.response->status == 202 || r.response->status == 200);
      std::unique_lock lock(m);
      if (ok) {
        ++acked;
        if (r.response->status == 200) ++duplicates;
        --in_flight;
        persons_in_flight.erase(personOf(seq));
        if (a.rate <= 0) launch(lock);
        // Wake the main thread only when it has something to do: pace the
        // next record, or see the end.
        if (a.rate > 0 || in_flight == 0) cv.notify_all();
        return;
      }
      // Not acknowledged: a real source keeps the record and sends it again.
      ++retries;
      last_error = r.response ? "HTTP " + std::to_string(r.response->status) : r.failure->message;
      if (Clock::now() > deadline) {
        --in_flight;
        persons_in_flight.erase(personOf(seq));
        cv.notify_all();
        return;
      }
      lock.unlock();
      auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(200));
      timer->async_wait([&, seq, timer](const boost::system::error_code&) { send_one(seq); });
    });
  };

  auto work = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&io] { io.run(); });
  {
    std::unique_lock lock(m);
    if (a.rate <= 0) {
      // The first `concurrency` records (fewer if persons repeat); each
      // acknowledgement starts what it allows.
      lock.unlock();
      asio::post(io, [&] {
        std::unique_lock l(m);
        launch(l);
      });
      lock.lock();
      cv.wait_until(lock, deadline, [&] { return next >= end && in_flight == 0; });
    } else {
      while (next < end && Clock::now() < deadline) {
        cv.wait(lock, [&] { return in_flight < a.concurrency && persons_in_flight.count(personOf(next)) == 0; });
        const auto due = started + std::chrono::microseconds(static_cast<std::int64_t>(
                                       1e6 * static_cast<double>(next - a.first) / a.rate));
        lock.unlock();
        std::this_thread::sleep_until(due);
        lock.lock();
        ++in_flight;
        persons_in_flight.insert(personOf(next));
        const std::uint64_t seq = next++;
        lock.unlock();
        asio::post(io, [&, seq] { send_one(seq); });
        lock.lock();
      }
      cv.wait_until(lock, deadline, [&] { return in_flight == 0; });
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - started).count();
  client->stop();
  work.reset();
  io.stop();
  for (auto& t : threads) t.join();
  std::cout << "sent " << a.count << " records, acknowledged " << acked << " (" << duplicates << " as duplicates), "
            << retries << " resends, " << secs << " s, " << static_cast<std::uint64_t>(static_cast<double>(acked) / secs)
            << " records/s, " << cpuMicrosPer(acked) << " us CPU per record"
            << (last_error.empty() ? "" : ", last error: " + last_error) << "\n";
  return acked == a.count ? 0 : 1;
}

// ---- sink -----------------------------------------------------------------

struct SinkArgs {
  TlsArgs tls;
  std::string listen = "127.0.0.1:9443";
  std::string out;
  std::string down_file;
  std::string port_file;
  std::string save_dir;  ///< write each record received to <dir>/<message id>
  bool refuse = false;
  bool latency = false;
  std::string latency_file;  ///< each record's latency in ms, one per line, in arrival order
  std::uint64_t warmup = 0;  ///< also report percentiles without the first this many records
  std::uint64_t expect = 0;
  int max_seconds = 0;
};

std::string between(const std::string& s, const std::string& open, const std::string& close) {
  auto a = s.find(open);
  if (a == std::string::npos) return {};
  a += open.size();
  auto b = s.find(close, a);
  return b == std::string::npos ? std::string() : s.substr(a, b - a);
}

int runSink(const SinkArgs& a) {
  auto tls = cb::net::makeServerTlsContext(a.tls.settings());
  if (!tls) {
    std::cerr << tls.error().message << "\n";
    return 1;
  }
  auto ep = cb::net::parseEndpoint(a.listen);
  if (!ep) {
    std::cerr << ep.error().message << "\n";
    return 1;
  }
  asio::io_context io;
  std::mutex m;
  std::condition_variable cv;
  std::set<std::string> seen;
  std::uint64_t redeliveries = 0, order_violations = 0;
  std::map<std::string, std::uint64_t> last_seq_by_person;
  std::vector<double> latencies_ms;
  std::ofstream out;
  if (!a.out.empty()) out.open(a.out, std::ios::app);

  cb::net::ServerOptions so;
  so.listen = *ep;
  so.tls = *tls;
  so.log_name = "sink";
  so.limits.body_limit = 64u << 20;
  auto server = cb::net::HttpsServer::start(io, so, [&](cb::net::HttpRequest&& req, cb::net::Responder respond) {
    std::error_code ec;
    if (!a.down_file.empty() && std::filesystem::exists(a.down_file, ec)) {
      respond({503, {{"Retry-After", "1"}}, "down for maintenance\n"});
      return;
    }
    if (a.refuse) {
      respond({400, {}, "refused\n"});
      return;
    }
    const std::string* id = req.header("X-Carebridge-Message-Id");
    const std::string mid = id != nullptr ? *id : "";
    bool all_arrived = false;
    {
      std::lock_guard lock(m);
      if (!seen.insert(mid).second) {
        ++redeliveries;
        respond({200, {}, "already have it\n"});
        return;
      }
      const std::string seq_text = between(req.body, "<Sequence>", "</Sequence>");
      const std::string person = between(req.body, "<NHSNumber>", "</NHSNumber>");
      if (!seq_text.empty() && !person.empty()) {
        const std::uint64_t seq = std::stoull(seq_text);
        auto [it, first] = last_seq_by_person.emplace(person, seq);
        if (!first) {
          if (seq < it->second) ++order_violations;
          it->second = std::max(it->second, seq);
        }
      }
      if (a.latency) {
        const std::string sent = between(req.body, "<SentAtMicros>", "</SentAtMicros>");
        if (!sent.empty()) latencies_ms.push_back(static_cast<double>(nowMicros() - std::stoll(sent)) / 1000.0);
      }
      if (!a.save_dir.empty() && !mid.empty() && mid.find_first_of("/\\.") == std::string::npos) {
        std::ofstream(a.save_dir + "/" + mid, std::ios::binary) << req.body;
      }
      if (out) {
        const std::string* type = req.header("X-Record-Type");
        out << "received message " << mid << " (" << (type != nullptr ? *type : "?") << ", " << req.body.size()
            << " bytes) from " << req.peer.common_name << "\n";
        out.flush();
      }
      all_arrived = a.expect > 0 && seen.size() >= a.expect;
    }
    // The main thread waits only for the last record (or a signal): waking
    // it for every record cost a thread wake-up and a context switch each.
    if (all_arrived) cv.notify_all();
    respond({201, {}, "stored\n"});
  });
  if (!server) {
    std::cerr << server.error().message << "\n";
    return 1;
  }
  if (!a.port_file.empty()) std::ofstream(a.port_file) << (*server)->port() << "\n";
  std::cerr << "sink listening on " << ep->host << ":" << (*server)->port() << "\n";
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::atomic<bool> stop{false};
  signals.async_wait([&](const boost::system::error_code&, int) {
    stop = true;
    cv.notify_all();
  });
  auto work = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&io] { io.run(); });
  {
    std::unique_lock lock(m);
    const auto deadline = a.max_seconds > 0 ? Clock::now() + std::chrono::seconds(a.max_seconds)
                                            : Clock::time_point::max();
    cv.wait_until(lock, deadline, [&] { return stop.load() || (a.expect > 0 && seen.size() >= a.expect); });
  }
  (*server)->stop();
  work.reset();
  io.stop();
  for (auto& t : threads) t.join();
  std::lock_guard lock(m);
  std::cout << "sink received " << seen.size() << " records, " << redeliveries << " redeliveries dropped, "
            << order_violations << " out of per-person order, " << cpuMicrosPer(seen.size()) << " us CPU per record\n";
  if (!a.latency_file.empty()) {
    std::ofstream f(a.latency_file);
    for (double ms : latencies_ms) f << ms << "\n";
  }
  if (a.latency && !latencies_ms.empty()) {
    const auto report = [](std::vector<double> ms) {
      std::sort(ms.begin(), ms.end());
      auto pct = [&](double p) {
        return ms[std::min(ms.size() - 1, static_cast<std::size_t>(p * static_cast<double>(ms.size())))];
      };
      std::cout << "p50 " << pct(0.50) << ", p90 " << pct(0.90) << ", p99 " << pct(0.99) << ", max " << ms.back()
                << "\n";
    };
    std::cout << "end-to-end latency ms: ";
    report(latencies_ms);
    if (a.warmup > 0 && latencies_ms.size() > a.warmup) {
      // The first records wait while both sides open their pooled
      // connections (a mutual-TLS handshake each); after them, steady state.
      std::cout << "after the first " << a.warmup << " records: ";
      report(std::vector<double>(latencies_ms.begin() + static_cast<std::ptrdiff_t>(a.warmup), latencies_ms.end()));
    }
  }
  return (a.expect == 0 || seen.size() >= a.expect) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  cb::log::setup("warn");
  CLI::App app{"carebridge-sim: simulated partner systems for the demo, tests and benchmarks"};
  app.require_subcommand(1);
  SendArgs send;
  auto* s = app.add_subcommand("send", "Be a source system: POST synthetic records to carebridged");
  addTls(s, send.tls);
  s->add_option("--url", send.url, "inbound adapter URL, e.g. https://127.0.0.1:8443/records")->required();
  s->add_option("--count", send.count, "records to send")->capture_default_str();
  s->add_option("--persons", send.persons, "distinct synthetic people")->capture_default_str();
  s->add_option("--size", send.size, "approximate record size in bytes")->capture_default_str();
  s->add_option("--concurrency", send.concurrency, "requests in flight")->capture_default_str();
  s->add_option("--rate", send.rate, "records per second (0 = as fast as acknowledged)")->capture_default_str();
  s->add_option("--id-prefix", send.id_prefix, "prefix of the sender ids (X-Message-Id)")->capture_default_str();
  s->add_option("--template", send.template_file, "send this record (a system's own format) with {{NHS}}, {{ID}}, {{PERSON}} filled in");
  s->add_option("--content-type", send.content_type, "Content-Type of what is sent")->capture_default_str();
  s->add_option("--first", send.first, "number of the first record")->capture_default_str();
  s->add_option("--max-seconds", send.max_seconds, "give up after this long")->capture_default_str();
  SinkArgs sink;
  auto* k = app.add_subcommand("sink", "Be a destination system: accept deliveries over mutual TLS");
  addTls(k, sink.tls);
  k->add_option("--listen", sink.listen, "host:port (port 0 = any; see --port-file)")->capture_default_str();
  k->add_option("--out", sink.out, "append a line per record received to this file");
  k->add_option("--down-file", sink.down_file, "answer 503 while this file exists");
  k->add_option("--port-file", sink.port_file, "write the bound port here");
  k->add_option("--save-dir", sink.save_dir, "write each record received to DIR/<message id>");
  k->add_flag("--refuse", sink.refuse, "answer 400 to everything");
  k->add_flag("--latency", sink.latency, "report end-to-end latency percentiles");
  k->add_option("--warmup", sink.warmup, "also report latency without the first N records (connections opening)");
  k->add_option("--latency-file", sink.latency_file, "write each record's latency (ms) in arrival order, one per line");
  k->add_option("--expect", sink.expect, "exit once this many distinct records arrived");
  k->add_option("--max-seconds", sink.max_seconds, "exit after this long");
  // The seed systems' own simulators: rio, carenotes, ukcore, mosaic, las, ais.
  std::function<int()> chosen;
  cb::sim::addSystemCommands(app, chosen);
  CLI11_PARSE(app, argc, argv);
  if (chosen) return chosen();
  if (s->parsed()) {
    if (!send.template_file.empty()) {
      std::ifstream in(send.template_file, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      if (!in || text.str().empty()) {
        std::cerr << "cannot read --template " << send.template_file << "\n";
        return 2;
      }
      send.template_text = text.str();
    }
    return runSend(send);
  }
  return runSink(sink);
}
