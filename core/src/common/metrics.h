#pragma once
// A small Prometheus metrics registry: counters, gauges and histograms with
// labels, rendered in the text exposition format (version 0.0.4) by the
// admin listener at /metrics. Updates are lock-free atomics; registering a
// new label set takes a lock (do it once and keep the reference).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace cb::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// Cumulative histogram with fixed upper bounds (seconds for latencies).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  ///< per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bound + overflow
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

/// Latency buckets from 1 ms to 60 s.
std::vector<double> latencyBuckets();

class Registry {
 public:
  /// Returns the metric for (name, labels), creating it on first use.
  /// OWNERSHIP: the registry owns it; the reference stays valid for the registry's life.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels = {},
                       std::vector<double> bounds = latencyBuckets());

  /// Registers a function run before each rendering (to refresh gauges such
  /// as queue depth from the store). Returns an id for removeCollector.
  int addCollector(std::function<void(Registry&)> fn);
  void removeCollector(int id);

  /// The Prometheus text exposition of every metric.
  std::string render();

 private:
  struct Family {
    std::string type;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  Family& family(const std::string& name, const std::string& type, const std::string& help);

  std::mutex mutex_;
  std::map<std::string, Family> families_;
  std::mutex collectors_mutex_;
  std::map<int, std::function<void(Registry&)>> collectors_;
  int next_collector_ = 1;
};

/// The process-wide registry.
Registry& global();

}  // namespace cb::metrics
