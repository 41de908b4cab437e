#include "api/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace imgsearchd {

namespace {

std::string escape_label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string label_text(const MetricLabels& labels, const std::string& extra_name = {},
                       const std::string& extra_value = {}) {
  std::string out;
  for (const auto& [name, value] : labels) out += (out.empty() ? "" : ",") + name + "=\"" + escape_label(value) + "\"";
  if (!extra_name.empty()) out += (out.empty() ? "" : ",") + extra_name + "=\"" + extra_value + "\"";
  return out.empty() ? out : "{" + out + "}";
}

std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  // The shortest of 15 or 17 digits that reads back as the same double.
  char text[64];
  std::snprintf(text, sizeof text, "%.15g", value);
  if (std::strtod(text, nullptr) != value) std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

const std::vector<double> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

}  // namespace

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, Type type, const std::string& help) {
  auto [it, added] = families_.try_emplace(name);
  if (added) {
    it->second.type = type;
    it->second.help = help;
  }
  return it->second;
}

void MetricsRegistry::set_gauge(const std::string& name, const std::string& help, double value,
                                const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  family(name, Type::gauge, help).values[labels] = value;
}

void MetricsRegistry::add_counter(const std::string& name, const std::string& help, double delta,
                                  const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  family(name, Type::counter, help).values[labels] += delta;
}

void MetricsRegistry::observe(const std::string& name, const std::string& help, double value,
                              const std::vector<double>& bounds, const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  Histogram& histogram = family(name, Type::histogram, help).histograms[labels];
  if (histogram.bounds.empty()) {
    histogram.bounds = bounds;
    histogram.buckets.assign(bounds.size(), 0);
  }
  for (size_t i = 0; i < histogram.bounds.size(); ++i) {
    if (value <= histogram.bounds[i]) {
      ++histogram.buckets[i];
      break;
    }
  }
  ++histogram.count;
  histogram.sum += value;
}

void MetricsRegistry::set_counter(const std::string& name, const std::string& help, double total,
                                  const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  family(name, Type::counter, help).values[labels] = total;
}

void MetricsRegistry::set_histogram(const std::string& name, const std::string& help,
                                    const HistogramSnapshot& snapshot, const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  Histogram& histogram = family(name, Type::histogram, help).histograms[labels];
  histogram.bounds = snapshot.bounds;
  histogram.buckets.assign(snapshot.bounds.size(), 0);
  histogram.count = 0;
  for (size_t i = 0; i < snapshot.counts.size(); ++i) {
    if (i < histogram.buckets.size()) histogram.buckets[i] = snapshot.counts[i];
    histogram.count += snapshot.counts[i];
  }
  histogram.sum = snapshot.sum;
}

void MetricsRegistry::set_service(const ServiceMetrics& s) {
  const auto d = [](uint64_t value) { return static_cast<double>(value); };
  const char* files = "Files in the catalogue by state (pending: found by the indexing run in flight, not done yet).";
  set_gauge("imgsearchd_files", files, d(s.files_ok), {{"state", "ok"}});
  set_gauge("imgsearchd_files", files, d(s.files_failed), {{"state", "failed"}});
  set_gauge("imgsearchd_files", files, d(s.files_pending), {{"state", "pending"}});
  set_gauge("imgsearchd_queue_depth", "Changed paths waiting to be indexed.", d(s.queue_depth));
  set_counter("imgsearchd_images_embedded_total", "Images run through the model.", d(s.images_embedded));
  if (!s.model_batch_seconds.bounds.empty()) {
    set_histogram("imgsearchd_model_batch_seconds", "Model time per batch of images.", s.model_batch_seconds);
  }
  set_counter("imgsearchd_watcher_events_total", "File system events the watchers received.", d(s.watcher_events));
  set_counter("imgsearchd_watcher_overflows_total", "Watcher event queue overflows (each rescans the roots).",
              d(s.watcher_overflows));
  const char* rescans = "Rescans finished: of every root (full) or of one root (root).";
  set_counter("imgsearchd_rescans_total", rescans, d(s.full_rescans), {{"kind", "full"}});
  set_counter("imgsearchd_rescans_total", rescans, d(s.root_rescans), {{"kind", "root"}});
  set_gauge("imgsearchd_index_vectors", "Vectors in the model's index (searchable images).", d(s.vectors));
}

void MetricsRegistry::set_text_cache(uint64_t hits, uint64_t misses) {
  set_counter("imgsearchd_text_cache_hits_total", "Text queries answered from the embedding cache.",
              static_cast<double>(hits));
  set_counter("imgsearchd_text_cache_misses_total", "Text queries that ran the text tower.",
              static_cast<double>(misses));
}

void MetricsRegistry::observe_request(const std::string& route, int status, double seconds) {
  add_counter("imgsearchd_http_requests_total", "HTTP requests by route and status.", 1,
              {{"route", route}, {"status", std::to_string(status)}});
  observe("imgsearchd_http_request_duration_seconds", "HTTP request latency by route.", seconds, kLatencyBounds,
          {{"route", route}});
}

double MetricsRegistry::value(const std::string& name, const MetricLabels& labels) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = families_.find(name);
  if (found == families_.end()) return 0;
  auto series = found->second.values.find(labels);
  return series == found->second.values.end() ? 0 : series->second;
}

std::string MetricsRegistry::exposition() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  for (const auto& [name, family] : families_) {
    const char* type = family.type == Type::counter ? "counter" : family.type == Type::gauge ? "gauge" : "histogram";
    out << "# HELP " << name << " " << family.help << "\n# TYPE " << name << " " << type << "\n";
    for (const auto& [labels, value] : family.values) out << name << label_text(labels) << " " << number(value) << "\n";
    for (const auto& [labels, histogram] : family.histograms) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < histogram.bounds.size(); ++i) {
        cumulative += histogram.buckets[i];
        out << name << "_bucket" << label_text(labels, "le", number(histogram.bounds[i])) << " " << cumulative << "\n";
      }
      out << name << "_bucket" << label_text(labels, "le", "+Inf") << " " << histogram.count << "\n";
      out << name << "_sum" << label_text(labels) << " " << number(histogram.sum) << "\n";
      out << name << "_count" << label_text(labels) << " " << histogram.count << "\n";
    }
  }
  return out.str();
}

}  // namespace imgsearchd
