#include "common/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace cb::log {
namespace {

std::mutex g_mutex;
spdlog::sink_ptr g_sink;
spdlog::level::level_enum g_level = spdlog::level::info;

spdlog::sink_ptr sink() {
  if (!g_sink) {
    g_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    g_sink->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%n] %v",
                                                                      spdlog::pattern_time_type::utc));
  }
  return g_sink;
}

}  // namespace

bool parseLevel(const std::string& name, spdlog::level::level_enum& out) {
  static const std::pair<const char*, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
      {"off", spdlog::level::off}};
  for (const auto& [n, l] : kLevels) {
    if (name == n) {
      out = l;
      return true;
    }
  }
  return false;
}

void setup(const std::string& level) {
  std::lock_guard lock(g_mutex);
  spdlog::level::level_enum l = spdlog::level::info;
  parseLevel(level, l);
  g_level = l;
  sink();
  spdlog::apply_all([l](const std::shared_ptr<spdlog::logger>& lg) { lg->set_level(l); });
}

std::shared_ptr<spdlog::logger> get(const std::string& component) {
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(component)) return existing;
  auto lg = std::make_shared<spdlog::logger>(component, sink());
  lg->set_level(g_level);
  lg->flush_on(spdlog::level::warn);
  spdlog::register_logger(lg);
  return lg;
}

}  // namespace cb::log
