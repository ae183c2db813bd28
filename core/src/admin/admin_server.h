#pragma once
// The admin listener: health and readiness for systemd and load balancers,
// Prometheus metrics, the admin API (admin_api.h) and the information-
// governance web page (static files from [admin] web_root). Plain HTTP is
// allowed only on loopback; anywhere else it needs [admin.tls] (mutual TLS).
// The API and the page need mutual TLS and [[admin.user]] anyway: people are
// known by their client certificates.
//
//   GET /healthz  200 while the process is alive and its store answers
//   GET /readyz   200 when adapters are started and not draining, else 503 + reason
//   GET /metrics  Prometheus text exposition format 0.0.4
//   /api/...      the admin API (admin_api.h)
//   GET /, /*.js, /*.css, ...  the web page

#include "admin/admin_api.h"
#include "common/result.h"
#include "config/config.h"
#include "net/https_server.h"

#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace cb::admin {

/// Answers readiness: empty string = ready, otherwise why not.
using ReadinessProbe = std::function<std::string()>;
/// Answers liveness: empty string = healthy, otherwise what is wrong.
using HealthProbe = std::function<std::string()>;

class AdminServer {
 public:
  /// Health, readiness and metrics only.
  static Result<std::unique_ptr<AdminServer>> start(boost::asio::io_context& io, const config::AdminSettings& settings,
                                                    HealthProbe health, ReadinessProbe ready);
  /// Also the admin API and, with [admin] web_root, the web page. The
  /// services' health and ready probes are set from `health` and `ready`.
  static Result<std::unique_ptr<AdminServer>> start(boost::asio::io_context& io, const config::AdminSettings& settings,
                                                    HealthProbe health, ReadinessProbe ready, ApiServices services);
  ~AdminServer();
  std::uint16_t port() const;
  void stop();
  /// After a reload: who may use the API now.
  void setUsers(std::vector<config::AdminUser> users);

 private:
  AdminServer() = default;
  std::unique_ptr<AdminApi> api_;  // destroyed after server_: handlers may still post to it
  std::unique_ptr<net::HttpsServer> server_;
};

}  // namespace cb::admin
