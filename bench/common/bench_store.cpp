#include "bench_store.h"

#include <stdlib.h>

namespace cb::bench {

Result<BenchStore> BenchStore::open(std::filesystem::path dir, const std::string& prefix,
                                    const std::string& file_name, bool synchronous_full) {
  BenchStore b;
  if (dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) return fail("cannot make a temporary folder for " + prefix);
    dir = tmpl;
    b.temporary_ = true;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(dir.string() + ": " + ec.message());
  b.dir_ = dir;
  store::StoreOptions o;
  o.path = dir / file_name;
  o.synchronous_full = synchronous_full;
  auto s = store::Store::open(o);
  if (!s) return s.error();
  b.store_ = std::move(*s);
  return b;
}

BenchStore::~BenchStore() {
  store_.reset();
  if (temporary_ && !dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

}  // namespace cb::bench
