#include "admin/admin_server.h"

#include "admin/static_files.h"
#include "common/metrics.h"

namespace cb::admin {

namespace {

net::HttpResponse plain(unsigned status, std::string text) {
  net::HttpResponse r;
  r.status = status;
  r.body = std::move(text);
  r.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
  r.headers.push_back({"Cache-Control", "no-store"});
  return r;
}

}  // namespace

Result<std::unique_ptr<AdminServer>> AdminServer::start(boost::asio::io_context& io,
                                                        const config::AdminSettings& settings, HealthProbe health,
                                                        ReadinessProbe ready) {
  return start(io, settings, std::move(health), std::move(ready), ApiServices{});
}

Result<std::unique_ptr<AdminServer>> AdminServer::start(boost::asio::io_context& io,
                                                        const config::AdminSettings& settings, HealthProbe health,
                                                        ReadinessProbe ready, ApiServices services) {
  std::unique_ptr<AdminServer> a(new AdminServer());
  net::ServerOptions o;
  o.listen = settings.listen;
  o.log_name = "admin";
  o.limits.body_limit = 64 * 1024;
  if (settings.tls) {
    auto tls = net::makeServerTlsContext(*settings.tls);
    if (!tls) return fail("admin.tls: " + tls.error().message);
    o.tls = std::move(*tls);
  }
  std::shared_ptr<const StaticFiles> web;
  if (settings.web_root) {
    auto files = StaticFiles::load(*settings.web_root);
    if (!files) return fail("admin.web_root: " + files.error().message);
    web = std::make_shared<const StaticFiles>(std::move(*files));
  }
  if (services.store != nullptr) {
    services.health = health;
    services.ready = ready;
    a->api_ = std::make_unique<AdminApi>(settings, std::move(services));
  }
  auto server = net::HttpsServer::start(
      io, o,
      [health = std::move(health), ready = std::move(ready), api = a->api_.get(), web](net::HttpRequest&& req,
                                                                                      net::Responder respond) {
        const std::string path = req.target.substr(0, req.target.find('?'));
        if (api != nullptr && path.rfind("/api/", 0) == 0) return api->handle(std::move(req), std::move(respond));
        if (req.method != "GET" && req.method != "HEAD") {
          auto r = plain(405, "method not allowed\n");
          r.headers.push_back({"Allow", "GET, HEAD"});
          return respond(std::move(r));
        }
        if (path == "/healthz") {
          const std::string why = health();
          return respond(plain(why.empty() ? 200 : 503, why.empty() ? "ok\n" : why + "\n"));
        }
        if (path == "/readyz") {
          const std::string why = ready();
          return respond(plain(why.empty() ? 200 : 503, why.empty() ? "ready\n" : why + "\n"));
        }
        if (path == "/metrics") {
          auto r = plain(200, metrics::global().render());
          r.headers.front().value = "text/plain; version=0.0.4; charset=utf-8";
          return respond(std::move(r));
        }
        // The page itself holds no data: what it shows comes from the API,
        // which checks who is asking. Without a client certificate (plain
        // HTTP on loopback) it is not served at all.
        if (web && !req.peer.common_name.empty()) {
          if (auto r = web->get(path)) return respond(std::move(*r));
        }
        respond(plain(404, "not found\n"));
      });
  if (!server) return fail("admin listener: " + server.error().message);
  a->server_ = std::move(*server);
  return a;
}

AdminServer::~AdminServer() { stop(); }

std::uint16_t AdminServer::port() const { return server_ ? server_->port() : 0; }

void AdminServer::stop() {
  if (server_) server_->stop();
}

void AdminServer::setUsers(std::vector<config::AdminUser> users) {
  if (api_) api_->setUsers(std::move(users));
}

}  // namespace cb::admin
