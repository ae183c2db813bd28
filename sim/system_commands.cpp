#include "system_commands.h"

#include "net/https_client.h"
#include "net/https_server.h"
#include "net/tls.h"
#include "peers/fhir_server.h"
#include "peers/file_drop.h"
#include "peers/hl7_inbox.h"
#include "systems/records.h"

#include <CLI/CLI.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

namespace cb::sim {

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---- shared options and helpers ---------------------------------------------

volatile std::sig_atomic_t g_stop = 0;
extern "C" void onStopSignal(int) { g_stop = 1; }
void catchStopSignals() {
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGTERM, onStopSignal);
}

struct TlsOptions {
  std::string cert, key, ca, server_name = "localhost";
  bool enabled() const { return !cert.empty() || !key.empty() || !ca.empty(); }
  net::TlsSettings settings() const {
    net::TlsSettings s;
    s.certificate = cert;
    s.private_key = key;
    s.ca = ca;
    s.server_name = server_name;
    return s;
  }
  mllp::TlsFiles files() const { return {cert, key, ca, {}}; }
};

void addTls(CLI::App* app, TlsOptions& t, bool required, bool client) {
  auto* c = app->add_option("--cert", t.cert, "our certificate (PEM, from certs/make-dev-certs)");
  auto* k = app->add_option("--key", t.key, "our private key (PEM)");
  auto* a = app->add_option("--ca", t.ca, "CA the peer's certificate must chain to (PEM)");
  if (required) {
    c->required();
    k->required();
    a->required();
  }
  if (client) app->add_option("--server-name", t.server_name, "name the server's certificate must carry")->capture_default_str();
}

struct GenOptions {
  std::uint64_t seed = 1;
  std::uint64_t count = 10;
  std::uint64_t persons = 20;
  std::uint64_t first = 0;
  double rate = 0;
  std::string types;
};

void addGen(CLI::App* app, GenOptions& g, const std::string& types_help) {
  app->add_option("--seed", g.seed, "seed: the same seed gives the same people and records")->capture_default_str();
  app->add_option("--count", g.count, "records to make")->capture_default_str();
  app->add_option("--persons", g.persons, "distinct synthetic people")->capture_default_str();
  app->add_option("--first", g.first, "sequence number of the first record (to continue a run)")->capture_default_str();
  app->add_option("--rate", g.rate, "records per second (0 = as fast as possible)")->capture_default_str();
  app->add_option("--types", g.types, types_help);
}

/// Sleeps until record `i` is due at `rate` records/s from `start`.
void pace(const GenOptions& g, Clock::time_point start, std::uint64_t i) {
  if (g.rate <= 0) return;
  std::this_thread::sleep_until(start + std::chrono::microseconds(
                                            static_cast<std::int64_t>(1e6 * static_cast<double>(i) / g.rate)));
}

/// Where report lines go: a file (appended, flushed per line) or stdout.
class Report {
 public:
  explicit Report(const std::string& path) {
    if (!path.empty()) file_.open(path, std::ios::app);
  }
  bool ok() const { return !file_.is_open() || file_.good(); }
  void line(const std::string& s) {
    std::lock_guard lock(mutex_);
    std::ostream& out = file_.is_open() ? static_cast<std::ostream&>(file_) : std::cout;
    out << s << std::endl;
  }

 private:
  std::mutex mutex_;
  std::ofstream file_;
};

void writePortFile(const std::string& path, std::uint16_t port) {
  if (path.empty()) return;
  // Written whole then renamed, so a script polling for it never reads half.
  const fs::path p(path);
  writeFileAtomically(p.parent_path().empty() ? fs::path(".") : p.parent_path(), p.filename().string(),
                      std::to_string(port) + "\n");
}

RecordGenerator makeGenerator(SeedSystem s, const GenOptions& g, const std::vector<std::string>& default_kinds) {
  std::vector<std::string> kinds = g.types.empty() ? default_kinds : splitList(g.types);
  return RecordGenerator(s, g.seed, g.persons, kinds);
}

std::string tag(const SyntheticRecord& r) {
  return std::string(systemName(r.system)) + " " + r.kind + " " + r.source_id;
}

// ---- rio adt: HL7 v2 ADT over MLLP ------------------------------------------

struct AdtArgs {
  GenOptions gen;
  TlsOptions tls;
  std::string to;
  int attempts = 5;
  int timeout_ms = 10000;
};

int runAdt(const AdtArgs& a) {
  RecordGenerator gen = makeGenerator(SeedSystem::Rio, a.gen, {"adt-a28", "adt-a31"});
  for (const auto& k : gen.kinds()) {
    if (k != "adt-a28" && k != "adt-a31") throw std::invalid_argument("rio adt sends adt-a28 and adt-a31, not " + k);
  }
  MllpSender sender(a.to, a.tls.enabled() ? a.tls.files() : mllp::TlsFiles{}, a.tls.enabled() ? a.tls.server_name : "");
  std::uint64_t accepted = 0, refused = 0, unanswered = 0;
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < a.gen.count && g_stop == 0; ++i) {
    pace(a.gen, start, i);
    const SyntheticRecord rec = gen.make(a.gen.first + i);
    std::optional<AckSummary> ack;
    int attempt = 0;
    // MLLP has no delivery guarantee of its own: a message without an ACK is
    // sent again, with the same control id, so the receiver can drop a repeat
    // (HL7 v2.5.1 2.9.2 original mode; MLLP release 2 "reliable delivery").
    while (!ack && attempt < a.attempts && g_stop == 0) {
      ++attempt;
      auto reply = sender.send(rec.bytes, std::chrono::milliseconds(a.timeout_ms));
      if (reply) ack = summariseAck(*reply);
    }
    const std::string code = ack ? (ack->code.empty() ? "unreadable" : ack->code) : "none";
    std::cout << "sent " << tag(rec) << " " << rec.message_type << " " << code << " nhs=" << rec.nhs_number
              << " attempts=" << attempt << std::endl;
    if (code == "AA" || code == "CA") {
      ++accepted;
    } else if (ack) {
      ++refused;
    } else {
      ++unanswered;
    }
  }
  std::cout << "summary rio adt accepted=" << accepted << " refused=" << refused << " unanswered=" << unanswered
            << std::endl;
  return unanswered > 0 ? 2 : refused > 0 ? 1 : 0;
}

// ---- <system> export: files into a watched folder ---------------------------

struct ExportArgs {
  GenOptions gen;
  std::string dir;
};

int runExport(SeedSystem s, const ExportArgs& a, const std::vector<std::string>& default_kinds) {
  RecordGenerator gen = makeGenerator(s, a.gen, default_kinds);
  std::error_code ec;
  if (!fs::is_directory(a.dir, ec)) {
    std::cerr << "no such folder: " << a.dir << "\n";
    return 2;
  }
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < a.gen.count && g_stop == 0; ++i) {
    pace(a.gen, start, i);
    const SyntheticRecord rec = gen.make(a.gen.first + i);
    const std::string err = writeFileAtomically(a.dir, rec.file_name, rec.bytes);
    if (!err.empty()) {
      std::cerr << err << "\n";
      return 1;
    }
    std::cout << "wrote " << tag(rec) << " " << (fs::path(a.dir) / rec.file_name).string() << " nhs=" << rec.nhs_number
              << std::endl;
  }
  std::cout << "summary " << systemName(s) << " export wrote=" << a.gen.count << std::endl;
  return 0;
}

// ---- <system> import: the system's import job --------------------------------

struct ImportArgs {
  std::string dir, out;
  bool follow = false;
  int interval_ms = 500;
};

int runImport(SeedSystem s, const ImportArgs& a) {
  catchStopSignals();
  Report report(a.out);
  std::uint64_t imported = 0, rejected = 0;
  do {
    for (const auto& o : importPass(s, a.dir)) {
      if (o.imported) {
        ++imported;
        report.line("imported " + std::string(systemName(s)) + " " + o.file + " " + o.moved_to);
      } else {
        ++rejected;
        report.line("rejected " + std::string(systemName(s)) + " " + o.file + " " + o.moved_to + " reason=" + o.reason);
      }
    }
    if (!a.follow) break;
    for (int waited = 0; waited < a.interval_ms && g_stop == 0; waited += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } while (g_stop == 0);
  report.line("summary " + std::string(systemName(s)) + " import imported=" + std::to_string(imported) +
              " rejected=" + std::to_string(rejected));
  return 0;
}

// ---- rio receive: HL7 v2 over MLLP in ---------------------------------------

struct ReceiveArgs {
  TlsOptions tls;
  std::string listen = "127.0.0.1:0", port_file, save_dir, out;
  std::uint64_t expect = 0;
  int max_seconds = 0;
};

int runReceive(const ReceiveArgs& a) {
  catchStopSignals();
  Report report(a.out);
  Hl7Inbox::Options o;
  o.listen = a.listen;
  o.tls = a.tls.enabled() ? a.tls.files() : mllp::TlsFiles{};
  o.save_dir = a.save_dir;
  o.log = [&report](const std::string& line) { report.line(line); };
  Hl7Inbox inbox(o);
  writePortFile(a.port_file, inbox.port());
  std::cerr << "rio receive listening on port " << inbox.port() << "\n";
  const auto deadline = a.max_seconds > 0 ? Clock::now() + std::chrono::seconds(a.max_seconds) : Clock::time_point::max();
  while (g_stop == 0 && Clock::now() < deadline && (a.expect == 0 || inbox.distinct() < a.expect)) {
    inbox.waitFor(inbox.distinct() + 1, std::chrono::milliseconds(100));
  }
  inbox.stop();
  report.line("summary rio receive messages=" + std::to_string(inbox.distinct()));
  return a.expect == 0 || inbox.distinct() >= a.expect ? 0 : 1;
}

// ---- carenotes / ukcore send: FHIR REST create --------------------------------

struct FhirSendArgs {
  GenOptions gen;
  TlsOptions tls;
  std::string url;
  bool conditional = false;
  int attempts = 5;
  int retry_ms = 1000;
  int timeout_ms = 10000;
};

int runFhirSend(SeedSystem s, const FhirSendArgs& a) {
  RecordGenerator gen = makeGenerator(s, a.gen, {});
  auto tls = net::makeClientTlsContext(a.tls.settings());
  if (!tls) {
    std::cerr << tls.error().message << "\n";
    return 2;
  }
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });
  net::ClientOptions co;
  co.tls = *tls;
  co.max_connections_per_origin = 1;
  co.log_name = "sim";
  auto client = net::HttpsClient::create(io, co);
  std::string base = a.url;
  while (!base.empty() && base.back() == '/') base.pop_back();

  std::uint64_t stored = 0, failed = 0;
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < a.gen.count && g_stop == 0; ++i) {
    pace(a.gen, start, i);
    const SyntheticRecord rec = gen.make(a.gen.first + i);
    net::ClientRequest req;
    req.method = "POST";
    req.url = base + "/" + rec.fhir_type;
    req.timeout = std::chrono::milliseconds(a.timeout_ms);
    // create: POST [base]/[type] (https://hl7.org/fhir/R4/http.html#create);
    // with --conditional, If-None-Exist on the record's identifier (#ccreate).
    req.headers = {{"Content-Type", "application/fhir+json"}, {"Accept", "application/fhir+json"}};
    if (a.conditional) {
      const std::string system = rec.fhir_type == "Patient"
                                     ? "urn:carebridge:local-id:" + std::string(s == SeedSystem::Carenotes ? "carenotes" : "cwpt")
                                     : "urn:carebridge:record:" + std::string(s == SeedSystem::Carenotes ? "carenotes" : "cwpt");
      std::string token;
      for (char c : system + "|" + rec.source_id) {
        if (c == '|') {
          token += "%7C";
        } else {
          token += c;
        }
      }
      req.headers.push_back({"If-None-Exist", "identifier=" + token});
    }
    req.body = rec.bytes;
    std::string result = "none";
    std::string location;
    int attempt = 0;
    for (; attempt < a.attempts && g_stop == 0;) {
      ++attempt;
      std::promise<net::ClientResult> done;
      auto answer = done.get_future();
      client->request(req, [&done](net::ClientResult r) { done.set_value(std::move(r)); });
      const net::ClientResult r = answer.get();
      if (r.response) {
        result = std::to_string(r.response->status);
        if (const std::string* loc = r.response->header("Location")) location = *loc;
        // 5xx: the server may take it later; anything else is its answer.
        if (r.response->status < 500) break;
      } else {
        result = "none";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(a.retry_ms));
    }
    const bool ok = result == "200" || result == "201";
    ok ? ++stored : ++failed;
    std::cout << "sent " << tag(rec) << " " << rec.fhir_type << " " << result << " "
              << (location.empty() ? std::string("-") : location) << " nhs=" << rec.nhs_number
              << " attempts=" << attempt << std::endl;
  }
  client->stop();
  work.reset();
  io.stop();
  runner.join();
  std::cout << "summary " << systemName(s) << " send stored=" << stored << " failed=" << failed << std::endl;
  return failed == 0 ? 0 : 1;
}

// ---- carenotes / ukcore serve: a FHIR server ----------------------------------

struct ServeArgs {
  TlsOptions tls;
  std::string listen = "127.0.0.1:0", port_file, save_dir, out, base_path = "/fhir";
  int max_seconds = 0;
};

int runServe(SeedSystem s, const ServeArgs& a) {
  catchStopSignals();
  auto tls = net::makeServerTlsContext(a.tls.settings());
  if (!tls) {
    std::cerr << tls.error().message << "\n";
    return 2;
  }
  auto ep = net::parseEndpoint(a.listen);
  if (!ep) {
    std::cerr << ep.error().message << "\n";
    return 2;
  }
  Report report(a.out);
  asio::io_context io;
  FhirServer::Options o;
  o.listen = *ep;
  o.tls = *tls;
  o.base_path = a.base_path;
  o.save_dir = a.save_dir;
  o.log = [&report](const std::string& line) { report.line(line); };
  auto server = FhirServer::start(io, o);
  if (!server) {
    std::cerr << server.error().message << "\n";
    return 2;
  }
  writePortFile(a.port_file, (*server)->port());
  std::cerr << systemName(s) << " FHIR server on port " << (*server)->port() << a.base_path << "\n";
  auto work = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&io] { io.run(); });
  const auto deadline = a.max_seconds > 0 ? Clock::now() + std::chrono::seconds(a.max_seconds) : Clock::time_point::max();
  while (g_stop == 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  (*server)->stop();
  work.reset();
  io.stop();
  for (auto& t : threads) t.join();
  report.line("summary " + std::string(systemName(s)) + " serve patients=" + std::to_string((*server)->count("Patient")) +
              " bundles=" + std::to_string((*server)->count("Bundle")));
  return 0;
}

std::string kindList(SeedSystem s) {
  std::string names;
  for (const auto& k : recordKinds(s)) names += (names.empty() ? "" : ",") + k.name;
  return names;
}

}  // namespace

void addSystemCommands(CLI::App& app, std::function<int()>& chosen) {
  // Each command's arguments live as long as the process: CLI11 writes into
  // them during parsing and the chosen runner reads them afterwards.
  static AdtArgs adt;
  static ExportArgs exports[6];
  static ImportArgs imports[6];
  static ReceiveArgs receive;
  static FhirSendArgs fhir_send[2];
  static ServeArgs serve[2];

  auto guarded = [&chosen](std::function<int()> run) {
    chosen = [run = std::move(run)]() {
      try {
        return run();
      } catch (const std::exception& e) {
        std::cerr << e.what() << "\n";
        return 2;
      }
    };
  };

  // RiO: HL7 v2 ADT out over MLLP, XML exports into a folder, HL7 v2 in.
  auto* rio = app.add_subcommand("rio", "Be RiO (NELFT, Oxleas): HL7 v2 ADT over MLLP, XML exports, HL7 v2 in");
  rio->require_subcommand(1);
  auto* a = rio->add_subcommand("adt", "Send ADT^A28/A31 over MLLP, waiting for each ACK");
  a->add_option("--to", adt.to, "carebridge's MLLP listener, HOST:PORT")->required();
  addTls(a, adt.tls, false, true);
  addGen(a, adt.gen, "adt-a28,adt-a31 (default both)");
  a->add_option("--attempts", adt.attempts, "sends of a message that gets no ACK")->capture_default_str();
  a->add_option("--timeout-ms", adt.timeout_ms, "wait for each ACK")->capture_default_str();
  a->callback([&, guarded] { guarded([] { return runAdt(adt); }); });

  const std::vector<std::string> rio_files = {"enquiry", "concern", "review", "assessment", "carers"};
  auto* re = rio->add_subcommand("export", "Write RiO XML export files into a watched folder");
  re->add_option("--dir", exports[0].dir, "the folder carebridge watches")->required();
  addGen(re, exports[0].gen, "enquiry,concern,review,assessment,carers (default all)");
  re->callback([&, guarded, rio_files] { guarded([rio_files] { return runExport(SeedSystem::Rio, exports[0], rio_files); }); });

  auto* rr = rio->add_subcommand("receive", "Accept HL7 v2 over MLLP, save each message, answer AA");
  rr->add_option("--listen", receive.listen, "HOST:PORT (port 0 = any; see --port-file)")->capture_default_str();
  addTls(rr, receive.tls, false, false);
  rr->add_option("--port-file", receive.port_file, "write the bound port here");
  rr->add_option("--save-dir", receive.save_dir, "write each message to DIR/<control id>.hl7");
  rr->add_option("--out", receive.out, "append one line per message here (else stdout)");
  rr->add_option("--expect", receive.expect, "exit once this many distinct messages arrived");
  rr->add_option("--max-seconds", receive.max_seconds, "exit after this long");
  rr->callback([&, guarded] { guarded([] { return runReceive(receive); }); });

  // Carenotes and a UK Core server: FHIR R4 over HTTPS with mutual TLS.
  const std::pair<SeedSystem, const char*> fhir_systems[] = {
      {SeedSystem::Carenotes, "Be Carenotes (SPFT): FHIR R4 UK Core over HTTPS"},
      {SeedSystem::UkCore, "Be a FHIR R4 UK Core partner (e.g. CWPT) over HTTPS"}};
  for (int i = 0; i < 2; ++i) {
    const SeedSystem s = fhir_systems[i].first;
    auto* sys = app.add_subcommand(std::string(systemName(s)), fhir_systems[i].second);
    sys->require_subcommand(1);
    auto* fs_ = sys->add_subcommand("send", "POST FHIR resources and Bundles (create) to a FHIR base URL");
    fs_->add_option("--url", fhir_send[i].url, "FHIR base, e.g. https://127.0.0.1:8443/fhir")->required();
    addTls(fs_, fhir_send[i].tls, true, true);
    addGen(fs_, fhir_send[i].gen, kindList(s) + " (default all)");
    fs_->add_flag("--conditional", fhir_send[i].conditional, "conditional create: If-None-Exist on the record's identifier");
    fs_->add_option("--attempts", fhir_send[i].attempts, "sends of a record that gets 5xx or no answer")->capture_default_str();
    fs_->add_option("--retry-ms", fhir_send[i].retry_ms, "pause before a resend")->capture_default_str();
    fs_->add_option("--timeout-ms", fhir_send[i].timeout_ms, "wait for each answer")->capture_default_str();
    fs_->callback([&, guarded, s, i] { guarded([s, i] { return runFhirSend(s, fhir_send[i]); }); });

    auto* sv = sys->add_subcommand("serve", "Be a FHIR R4 server over mutual TLS (create, conditional create, "
                                            "update, transaction, metadata, _lastUpdated search)");
    sv->add_option("--listen", serve[i].listen, "HOST:PORT (port 0 = any; see --port-file)")->capture_default_str();
    addTls(sv, serve[i].tls, true, false);
    sv->add_option("--port-file", serve[i].port_file, "write the bound port here");
    sv->add_option("--save-dir", serve[i].save_dir, "write each accepted resource to DIR/<type>-<id>-v<n>.json");
    sv->add_option("--out", serve[i].out, "append one line per request here (else stdout)");
    sv->add_option("--base-path", serve[i].base_path, "FHIR base path")->capture_default_str();
    sv->add_option("--max-seconds", serve[i].max_seconds, "exit after this long");
    sv->callback([&, guarded, s, i] { guarded([s, i] { return runServe(s, serve[i]); }); });
  }

  // Mosaic, LAS, AIS: exports out of and imports into watched folders.
  const std::pair<SeedSystem, const char*> file_systems[] = {
      {SeedSystem::Mosaic, "Be Mosaic (West Sussex): XML exports and imports through folders"},
      {SeedSystem::Las, "Be Liquidlogic LAS (Bromley): XML exports and imports through folders"},
      {SeedSystem::Ais, "Be AIS (Barking and Dagenham): CSV exports and imports through folders"}};
  for (int i = 0; i < 3; ++i) {
    const SeedSystem s = file_systems[i].first;
    const int slot = i + 1;
    auto* sys = app.add_subcommand(std::string(systemName(s)), file_systems[i].second);
    sys->require_subcommand(1);
    auto* ex = sys->add_subcommand("export", "Write export files into a watched folder (atomically)");
    ex->add_option("--dir", exports[slot].dir, "the folder carebridge watches")->required();
    addGen(ex, exports[slot].gen, kindList(s) + " (default all)");
    ex->callback([&, guarded, s, slot] { guarded([s, slot] { return runExport(s, exports[slot], {}); }); });
    auto* im = sys->add_subcommand("import", "Take the files carebridge dropped: check, then move to imported/ or rejected/");
    im->add_option("--dir", imports[slot].dir, "the folder carebridge writes into")->required();
    im->add_flag("--follow", imports[slot].follow, "keep watching until SIGTERM (else one pass)");
    im->add_option("--interval-ms", imports[slot].interval_ms, "time between passes with --follow")->capture_default_str();
    im->add_option("--out", imports[slot].out, "append one line per file here (else stdout)");
    im->callback([&, guarded, s, slot] { guarded([s, slot] { return runImport(s, imports[slot]); }); });
  }
}

}  // namespace cb::sim
