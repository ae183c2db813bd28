#include "admin/admin_server.h"

#include "common/metrics.h"

namespace cb::admin {

Result<std::unique_ptr<AdminServer>> AdminServer::start(boost::asio::io_context& io,
                                                        const config::AdminSettings& settings, HealthProbe health,
                                                        ReadinessProbe ready) {
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
  auto server = net::HttpsServer::start(
      io, o, [health = std::move(health), ready = std::move(ready)](net::HttpRequest&& req, net::Responder respond) {
        net::HttpResponse r;
        r.headers.push_back({"Cache-Control", "no-store"});
        const std::string path = req.target.substr(0, req.target.find('?'));
        if (req.method != "GET" && req.method != "HEAD") {
          r.status = 405;
          r.headers.push_back({"Allow", "GET, HEAD"});
        } else if (path == "/healthz") {
          const std::string why = health();
          r.status = why.empty() ? 200 : 503;
          r.body = why.empty() ? "ok\n" : why + "\n";
          r.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
        } else if (path == "/readyz") {
          const std::string why = ready();
          r.status = why.empty() ? 200 : 503;
          r.body = why.empty() ? "ready\n" : why + "\n";
          r.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
        } else if (path == "/metrics") {
          r.status = 200;
          r.body = metrics::global().render();
          r.headers.push_back({"Content-Type", "text/plain; version=0.0.4; charset=utf-8"});
        } else {
          r.status = 404;
          r.body = "not found\n";
          r.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
        }
        respond(std::move(r));
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

}  // namespace cb::admin
