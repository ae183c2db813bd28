#include "admin/static_files.h"

#include <fstream>
#include <sstream>

namespace cb::admin {
namespace {

namespace fs = std::filesystem;

constexpr std::uintmax_t kMaxTotal = 8u << 20;

std::optional<std::string> contentType(const fs::path& p) {
  const std::string ext = p.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  return std::nullopt;
}

}  // namespace

std::vector<net::HttpHeader> StaticFiles::securityHeaders() {
  return {{"Content-Security-Policy",
           "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
           "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"},
          {"X-Content-Type-Options", "nosniff"},
          {"X-Frame-Options", "DENY"},
          {"Referrer-Policy", "no-referrer"},
          {"Cross-Origin-Opener-Policy", "same-origin"},
          {"Cross-Origin-Resource-Policy", "same-origin"},
          {"Strict-Transport-Security", "max-age=31536000"},
          {"Cache-Control", "no-store"}};
}

Result<StaticFiles> StaticFiles::load(const fs::path& root) {
  StaticFiles out;
  std::error_code ec;
  std::uintmax_t total = 0;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    auto type = contentType(it->path());
    if (!type) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in) return fail(it->path().string() + ": cannot read");
    total += body.str().size();
    if (total > kMaxTotal) return fail(root.string() + ": web files larger than 8 MiB in all");
    out.files_["/" + fs::relative(it->path(), root).generic_string()] = File{*type, body.str()};
  }
  if (ec) return fail(root.string() + ": " + ec.message());
  if (out.files_.count("/index.html") == 0) return fail(root.string() + ": no index.html");
  return out;
}

std::optional<net::HttpResponse> StaticFiles::get(const std::string& path) const {
  auto it = files_.find(path == "/" ? "/index.html" : path);
  if (it == files_.end()) return std::nullopt;
  net::HttpResponse r;
  r.status = 200;
  r.headers = securityHeaders();
  r.headers.push_back({"Content-Type", it->second.content_type});
  r.body = it->second.body;
  return r;
}

}  // namespace cb::admin
