#pragma once
// The web page's static files (web/ in the repository), read once when the
// admin listener starts and served from memory: only files that were in the
// folder then can ever be served, so no request path reaches the file system.
// Every answer carries a Content-Security-Policy allowing scripts, styles and
// connections from this origin only (no inline script or style).

#include "common/result.h"
#include "net/http.h"

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace cb::admin {

class StaticFiles {
 public:
  /// Reads every .html, .css, .js, .svg, .png and .ico file under `root`
  /// (at most 8 MiB in all). Errors name the file.
  static Result<StaticFiles> load(const std::filesystem::path& root);
  /// The answer for a GET of `path` ("/" is index.html); nullopt if no such file.
  std::optional<net::HttpResponse> get(const std::string& path) const;
  /// Headers every page answer carries (CSP and friends).
  static std::vector<net::HttpHeader> securityHeaders();

 private:
  struct File {
    std::string content_type;
    std::string body;
  };
  std::map<std::string, File> files_;  // by URL path, "/app.js"
};

}  // namespace cb::admin
