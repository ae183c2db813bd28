// Mapping throughput on one core: a ~4 KB safeguarding enquiry from the
// example casework system to canonical and on to the example trust's format,
// compared with the same translation as one XSLT 1.0 stylesheet run by
// xsltproc. See README.md beside this file for what the numbers include.
//
//   mapping_bench [--seconds S] [--batch N] [--source-dir DIR]

#include "mapping/mapping.h"
#include "mapping/xml_compare.h"
#include "xml/safe_xml.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs a shell command and returns its wall time in seconds, or -1.
double timeCommand(const std::string& cmd) {
  const auto start = Clock::now();
  const int rc = std::system(cmd.c_str());
  const double t = secondsSince(start);
  return rc == 0 ? t : -1;
}

// The record element of the input without the XML declaration and comments,
// for building a batch document.
std::string recordBody(const std::string& doc) {
  const auto at = doc.find("<CaseworkExport");
  return at == std::string::npos ? doc : doc.substr(at);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3.0;
  int batch = 2000;
  std::string source_dir;
  if (const char* env = std::getenv("CB_SOURCE_DIR")) source_dir = env;
#ifdef CB_SOURCE_DIR_DEFAULT
  if (source_dir.empty()) source_dir = CB_SOURCE_DIR_DEFAULT;
#endif
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (a == "--batch") batch = std::atoi(argv[i + 1]);
    else if (a == "--source-dir") source_dir = argv[i + 1];
    else {
      std::cerr << "usage: mapping_bench [--seconds S] [--batch N] [--source-dir DIR]\n";
      return 2;
    }
  }
  if (source_dir.empty() || batch < 2) {
    std::cerr << "mapping_bench: give --source-dir (the carebridge checkout) and --batch >= 2\n";
    return 2;
  }
  cb::xml::init();
  const fs::path root(source_dir);
  const fs::path bench = root / "bench" / "mapping";
  const std::string input = readFile(bench / "enquiry-4k.xml");

  auto schemas = cb::mapping::MappingSchemas::load((root / "mappings").string());
  if (!schemas) {
    std::cerr << schemas.error().message << "\n";
    return 1;
  }
  auto set = cb::mapping::MappingSet::load((root / "mappings" / "example").string(), *schemas);
  if (!set) {
    std::cerr << set.error().message << "\n";
    return 1;
  }

  // One translation, kept for the equivalence check.
  auto once_in = cb::xml::parse(input, "enquiry-4k.xml");
  auto once_canonical = (*set)->toCanonical(once_in->get());
  if (!once_canonical) {
    std::cerr << once_canonical.error().message << "\n";
    return 1;
  }
  auto once_out = (*set)->fromCanonical(once_canonical->document.get());
  if (!once_out) {
    std::cerr << once_out.error().message << "\n";
    return 1;
  }

  // Engine: parse bytes -> canonical (validated) -> trust message (validated) -> bytes.
  std::size_t records = 0, out_bytes = 0;
  const auto start = Clock::now();
  while (secondsSince(start) < seconds) {
    for (int k = 0; k < 50; ++k) {
      auto doc = cb::xml::parse(input, "enquiry-4k.xml");
      auto canonical = (*set)->toCanonical(doc->get());
      auto out = (*set)->fromCanonical(canonical->document.get());
      out_bytes += cb::xml::serialize(out->document.get()).size();
      ++records;
    }
  }
  const double engine_s = secondsSince(start);
  const double engine_rate = static_cast<double>(records) / engine_s;

  // xsltproc: one batch of 1 record and one of N; the difference removes
  // process start-up and stylesheet compilation.
  const fs::path tmp = fs::temp_directory_path() / ("cb-mapping-bench-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  const std::string body = recordBody(input);
  auto writeBatch = [&](const fs::path& p, int n) {
    std::ofstream out(p, std::ios::binary);
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Batch xmlns=\"urn:example:casework:1\">\n";
    for (int i = 0; i < n; ++i) out << body;
    out << "</Batch>\n";
  };
  writeBatch(tmp / "one.xml", 1);
  writeBatch(tmp / "batch.xml", batch);
  const std::string xsl = (bench / "enquiry-to-trust.xsl").string();
  const double t1 = timeCommand("xsltproc -o " + (tmp / "one-out.xml").string() + " " + xsl + " " + (tmp / "one.xml").string());
  const double tn = timeCommand("xsltproc -o " + (tmp / "batch-out.xml").string() + " " + xsl + " " + (tmp / "batch.xml").string());
  const bool single = std::system(("xsltproc -o " + (tmp / "single-out.xml").string() + " " + xsl + " " +
                                   (bench / "enquiry-4k.xml").string()).c_str()) == 0;

  std::string equivalence = "not checked (xsltproc failed)";
  if (single) {
    auto xslt_doc = cb::xml::parseFile((tmp / "single-out.xml").string());
    if (xslt_doc) {
      auto diff = cb::mapping::firstDifference(once_out->document.get(), xslt_doc->get());
      equivalence = diff ? "DIFFERENT: " + *diff : "identical";
    }
  }
  fs::remove_all(tmp);

  std::printf("input: %zu bytes (bench/mapping/enquiry-4k.xml), output %zu bytes\n", input.size(),
              records > 0 ? out_bytes / records : 0);
  std::printf("carebridge engine, 1 thread: %zu records in %.2f s = %.0f records/s (%.1f us/record)\n", records,
              engine_s, engine_rate, 1e6 / engine_rate);
  std::printf("  per record: parse, inbound mapping, canonical.xsd + Modulus 11 check, outbound mapping,\n"
              "  trust-referral.xsd check, serialise\n");
  if (t1 > 0 && tn > 0 && tn > t1) {
    const double xslt_rate = (batch - 1) / (tn - t1);
    std::printf("xsltproc, one stylesheet: batch of %d in %.2f s, of 1 in %.3f s -> %.0f records/s (%.1f us/record)\n",
                batch, tn, t1, xslt_rate, 1e6 / xslt_rate);
    std::printf("  per record: parse, transform (no canonical record, no validation), serialise; start-up excluded\n");
    std::printf("engine / xsltproc throughput: %.2f\n", engine_rate / xslt_rate);
  } else {
    std::printf("xsltproc: not measured (is xsltproc installed?)\n");
  }
  std::printf("outputs for the benchmark input: %s\n", equivalence.c_str());
  return equivalence == "identical" ? 0 : 1;
}
