#pragma once
// The admin listener: health and readiness for systemd and load balancers,
// Prometheus metrics, and (later) the admin API and web page. Plain HTTP is
// allowed only on loopback; anywhere else it needs [admin.tls] (mutual TLS).
//
//   GET /healthz  200 while the process is alive and its store answers
//   GET /readyz   200 when adapters are started and not draining, else 503 + reason
//   GET /metrics  Prometheus text exposition format 0.0.4

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
  static Result<std::unique_ptr<AdminServer>> start(boost::asio::io_context& io, const config::AdminSettings& settings,
                                                    HealthProbe health, ReadinessProbe ready);
  ~AdminServer();
  std::uint16_t port() const;
  void stop();

 private:
  AdminServer() = default;
  std::unique_ptr<net::HttpsServer> server_;
};

}  // namespace cb::admin
