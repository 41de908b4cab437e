// A small Prometheus registry: counters, gauges and histograms with labels,
// rendered in the text exposition format at GET /metrics. The server counts
// requests (by route and status) and their latency itself; the service sets
// its own figures through the named helpers below (or any metric by name).
//
// Threads: every method may be called from many threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace imgsearchd {

using MetricLabels = std::map<std::string, std::string>;

class MetricsRegistry {
 public:
  // Any metric by name (give the name with its imgsearchd_ prefix). A name
  // keeps the type and help of its first use.
  void set_gauge(const std::string& name, const std::string& help, double value, const MetricLabels& labels = {});
  void add_counter(const std::string& name, const std::string& help, double delta, const MetricLabels& labels = {});
  // `bounds`: the upper bounds of the buckets, ascending (+Inf is implied);
  // only the first observation of a series sets them.
  void observe(const std::string& name, const std::string& help, double value, const std::vector<double>& bounds,
               const MetricLabels& labels = {});

  // ---- What the service reports ----
  void set_files(const std::string& state, uint64_t count);  // state: ok, failed, pending, ...
  void set_queue_depth(uint64_t depth);                       // changes waiting to be indexed
  void add_images_embedded(uint64_t count);
  void observe_model_batch_seconds(double seconds);           // model time of one batch
  void add_watcher_events(uint64_t count);
  void add_watcher_overflows(uint64_t count);                 // IN_Q_OVERFLOW: a rescan follows

  // ---- What the server reports ----
  void observe_request(const std::string& route, int status, double seconds);

  // The text exposition format (version 0.0.4), metrics sorted by name.
  std::string exposition() const;

  // The value of one counter or gauge series, 0 if absent (for tests).
  double value(const std::string& name, const MetricLabels& labels = {}) const;

 private:
  enum class Type { counter, gauge, histogram };
  struct Histogram {
    std::vector<double> bounds;
    std::vector<uint64_t> buckets;  // per bound, not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    Type type = Type::gauge;
    std::string help;
    std::map<MetricLabels, double> values;
    std::map<MetricLabels, Histogram> histograms;
  };
  Family& family(const std::string& name, Type type, const std::string& help);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

}  // namespace imgsearchd
