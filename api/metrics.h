// A small Prometheus registry: counters, gauges and histograms with labels,
// rendered in the text exposition format at GET /metrics. The server counts
// requests (by route and status) and their latency itself; the service's own
// figures are read from it at each scrape as a ServiceMetrics snapshot
// (ApiContext::service_metrics), so the API knows nothing of watchers or the
// indexer, and they nothing of HTTP.
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

// A histogram as its source keeps it: counts[i] observations at most
// bounds[i] (and above the bound before); counts has one more entry, for
// those above every bound.
struct HistogramSnapshot {
  std::vector<double> bounds;  // ascending
  std::vector<uint64_t> counts;
  double sum = 0;
};

// What the service reports, read at each scrape of GET /metrics. Totals are
// since the service started.
struct ServiceMetrics {
  uint64_t files_ok = 0;       // catalogue files indexed (or catalogued while the model is missing)
  uint64_t files_failed = 0;   // catalogue files that could not be read, with their reason
  uint64_t files_pending = 0;  // files the indexing run in flight found to work on and has not finished
  uint64_t queue_depth = 0;    // changed paths waiting for the indexer
  uint64_t images_embedded = 0;
  HistogramSnapshot model_batch_seconds;  // model time per batch of images
  uint64_t watcher_events = 0;            // file system events the watchers received
  uint64_t watcher_overflows = 0;         // inotify queue overflows (each rescans the roots)
  uint64_t full_rescans = 0;              // reconciles of every root (start-up, periodic, POST /api/rescan)
  uint64_t root_rescans = 0;              // rescans of one root (lost events, a root back, POST /api/rescan)
  uint64_t vectors = 0;                   // what the model's vector index holds
};

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

  // A counter read from a source that keeps the total itself.
  void set_counter(const std::string& name, const std::string& help, double total, const MetricLabels& labels = {});
  // A histogram read from a source that keeps the buckets itself.
  void set_histogram(const std::string& name, const std::string& help, const HistogramSnapshot& histogram,
                     const MetricLabels& labels = {});

  // ---- What the service reports (the imgsearchd_files, _queue_depth,
  // _images_embedded_total, _model_batch_seconds, _watcher_events_total,
  // _watcher_overflows_total, _rescans_total and _index_vectors series) ----
  void set_service(const ServiceMetrics& service);
  // The text-embedding cache of the query engine (hits and misses so far).
  void set_text_cache(uint64_t hits, uint64_t misses);

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
