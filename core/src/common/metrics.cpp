#include "common/metrics.h"

#include <cmath>
#include <sstream>

namespace cb::metrics {
namespace {

// Label values escape backslash, double quote and newline (exposition format).
std::string labelText(const Labels& labels, const std::string& extra = {}) {
  if (labels.empty() && extra.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"";
    for (char c : v) {
      if (c == '\\' || c == '"') out.push_back('\\');
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out.push_back(c);
    }
    out += "\"";
  }
  if (!extra.empty()) {
    if (!first) out += ",";
    out += extra;
  }
  out += "}";
  return out;
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::ostringstream ss;
  ss.precision(15);
  ss << v;
  return ss.str();
}

void atomicAdd(std::atomic<double>& a, double v) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

}  // namespace

void Gauge::add(double v) { atomicAdd(value_, v); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  atomicAdd(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  s.count = running;
  return s;
}

std::vector<double> latencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

Registry::Family& Registry::family(const std::string& name, const std::string& type, const std::string& help) {
  auto& f = families_[name];
  if (f.type.empty()) {
    f.type = type;
    f.help = help;
  }
  return f;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, "counter", help).counters[labelText(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, "gauge", help).gauges[labelText(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, const Labels& labels,
                               std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, "histogram", help).histograms[labelText(labels)];
  if (!slot) slot = std::make_unique<Histogram>(std::move(bounds));
  return *slot;
}

int Registry::addCollector(std::function<void(Registry&)> fn) {
  std::lock_guard lock(collectors_mutex_);
  collectors_[next_collector_] = std::move(fn);
  return next_collector_++;
}

void Registry::removeCollector(int id) {
  std::lock_guard lock(collectors_mutex_);
  collectors_.erase(id);
}

std::string Registry::render() {
  {
    std::lock_guard lock(collectors_mutex_);
    for (auto& [id, fn] : collectors_) fn(*this);
  }
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n";
    for (const auto& [labels, c] : f.counters) out += name + labels + " " + std::to_string(c->value()) + "\n";
    for (const auto& [labels, g] : f.gauges) out += name + labels + " " + number(g->value()) + "\n";
    for (const auto& [labels, h] : f.histograms) {
      const auto s = h->snapshot();
      // Rebuild the label set with "le" appended for each bucket line.
      std::string inner = labels.empty() ? "" : labels.substr(1, labels.size() - 2);
      for (std::size_t i = 0; i <= s.bounds.size(); ++i) {
        const std::string le = "le=\"" + (i < s.bounds.size() ? number(s.bounds[i]) : std::string("+Inf")) + "\"";
        out += name + "_bucket{" + (inner.empty() ? le : inner + "," + le) + "} " + std::to_string(s.cumulative[i]) + "\n";
      }
      out += name + "_sum" + labels + " " + number(s.sum) + "\n";
      out += name + "_count" + labels + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

Registry& global() {
  static Registry r;
  return r;
}

}  // namespace cb::metrics
