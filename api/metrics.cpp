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
const std::vector<double> kBatchBounds = {0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64};

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

void MetricsRegistry::set_files(const std::string& state, uint64_t count) {
  set_gauge("imgsearchd_files", "Files in the catalogue by state.", static_cast<double>(count), {{"state", state}});
}
void MetricsRegistry::set_queue_depth(uint64_t depth) {
  set_gauge("imgsearchd_queue_depth", "Changes waiting to be indexed.", static_cast<double>(depth));
}
void MetricsRegistry::add_images_embedded(uint64_t count) {
  add_counter("imgsearchd_images_embedded_total", "Images run through the model.", static_cast<double>(count));
}
void MetricsRegistry::observe_model_batch_seconds(double seconds) {
  observe("imgsearchd_model_batch_seconds", "Model time per batch of images.", seconds, kBatchBounds);
}
void MetricsRegistry::add_watcher_events(uint64_t count) {
  add_counter("imgsearchd_watcher_events_total", "File system events the watcher received.",
              static_cast<double>(count));
}
void MetricsRegistry::add_watcher_overflows(uint64_t count) {
  add_counter("imgsearchd_watcher_overflows_total", "Watcher event queue overflows (each triggers a rescan).",
              static_cast<double>(count));
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
