// `imgsearchd serve`: the service. Takes the data folder's writer lock, starts
// the live indexer (start-up reconcile queued, then watching), tells systemd
// it is ready, and answers signals: SIGTERM/SIGINT stop cleanly (a second one
// exits at once), SIGHUP reloads the configuration (a bad file is refused and
// the old configuration stays). Its state goes to <data_dir>/service.json
// (read by `imgsearchd status`) and to systemd's STATUS= line.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/server.h"
#include "daemon/commands/app.h"
#include "daemon/commands/model_options.h"
#include "daemon/commands/rerank_flags.h"
#include "daemon/service/service_signals.h"
#include "daemon/service/service_status_file.h"
#include "daemon/service/service_status_json.h"
#include "daemon/service/systemd_notify.h"
#include "indexer/image/image_loader.h"
#include "indexer/live/live_indexer.h"
#include "indexer/scan/scanner.h"
#include "store/catalog/catalog.h"
#include "store/core/errors.h"
#include "store/data/data_dir.h"

namespace imgsearchd {

namespace {

WatcherKind watcher_kind(Config::WatcherKind kind) {
  switch (kind) {
    case Config::WatcherKind::auto_select: return WatcherKind::automatic;
    case Config::WatcherKind::inotify: return WatcherKind::inotify;
    case Config::WatcherKind::poll: return WatcherKind::poll;
  }
  return WatcherKind::automatic;
}

LiveOptions live_options(const Config& config) {
  LiveOptions options;
  options.data_dir = config.data_dir;
  for (const Config::Root& root : config.indexer.roots) {
    options.roots.push_back(LiveRoot{root.path, root_include(config, root), root_exclude(config, root),
                                     watcher_kind(root_watcher(config, root))});
  }
  options.indexing = indexing_options(config);
  options.model = model_session_options(config, "");
  options.index = vector_index_options(config);
  options.settle = std::chrono::milliseconds(config.watch.settle_delay_ms);
  options.poll_interval = std::chrono::seconds(config.watch.poll_interval_s);
  options.reconcile_interval = std::chrono::seconds(config.watch.reconcile_interval_s);
  options.model_check = std::chrono::seconds(config.watch.model_check_s);
  options.follow_interval = std::chrono::seconds(config.store.postgresql.follow_interval_s);
  options.max_pending = static_cast<size_t>(config.watch.max_pending);
  options.max_watches = static_cast<size_t>(config.watch.max_watches);
  return options;
}

// The failed files with their reasons for GET /api/status, from one reader
// opened once and kept (current up to the last commit): the page polls the
// status, and a PostgreSQL connection per request would cost a connect each
// time. A shared catalogue that cannot be reached leaves them out (the
// status says why: catalogue_problem) and is opened again next time.
class FailedFilesReader {
 public:
  explicit FailedFilesReader(CatalogLocation location) : location_(std::move(location)) {}

  std::optional<std::vector<FailedFile>> read() {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      if (!reader_) reader_ = Catalog::open_read_only(location_);
      return reader_->failed_files();
    } catch (const StoreError&) {
      reader_.reset();
      if (location_.backend == CatalogLocation::Backend::sqlite) throw;
      return std::nullopt;
    }
  }

 private:
  const CatalogLocation location_;
  std::mutex mutex_;
  std::optional<Catalog> reader_;
};

// The one line systemd shows under `systemctl status`.
std::string status_line(const LiveStatus& status) {
  std::string line = status.state + ": " + std::to_string(status.files_ok) + " files, " +
                     std::to_string(status.searchable) + " searchable";
  if (status.pending_paths > 0) line += ", " + std::to_string(status.pending_paths) + " changes waiting";
  if (!status.model_loaded) line += "; no model yet (see the log)";
  return line;
}

ApiOptions api_options(const Config& config) {
  const ListenAddress address = parse_listen_address(config.api.listen);
  ApiOptions options;
  options.host = address.host;
  options.port = address.port;
  options.token = load_api_token(config.api.token, config.api.token_file);
  options.cors_origins = config.api.cors_origins;
  // The name other services send callers to for this one's files must be
  // accepted as a Host (DNS rebinding checks refuse unknown names).
  const std::string advertised = advertise_url_host(config.store.postgresql.advertise_url);
  if (config.store.backend == Config::Store::Backend::postgresql && !advertised.empty()) {
    options.allowed_hosts.push_back(advertised);
  }
  options.max_body_bytes = static_cast<size_t>(config.api.max_body_bytes);
  options.threads = config.api.threads;
  options.thumbnail_dir = config.data_dir / "thumbnails";
  options.search_defaults = configured_search_defaults(config);
  return options;
}

// The live indexer's figures for GET /metrics.
ServiceMetrics service_metrics(const LiveStatus& status) {
  ServiceMetrics metrics;
  metrics.files_ok = status.files_ok;
  metrics.files_failed = status.files_failed;
  metrics.files_pending = status.run.total > status.run.done ? status.run.total - status.run.done : 0;
  metrics.queue_depth = status.pending_paths;
  metrics.images_embedded = status.counters.embedded;
  metrics.model_batch_seconds =
      HistogramSnapshot{ModelBatchTimes::bounds(), status.model_batches.counts, status.model_batches.seconds};
  metrics.watcher_events = status.counters.watcher_events;
  metrics.watcher_overflows = status.counters.watcher_overflows;
  metrics.full_rescans = status.counters.reconciles;
  metrics.root_rescans = status.counters.root_rescans;
  metrics.vectors = status.vectors;
  return metrics;
}

std::string api_url(const std::string& host, int port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// What the HTTP API asks of the service.
ApiContext api_context(LiveIndexer& live, const Config& config) {
  ApiContext context;
  context.catalog_file = catalog_location(config);
  context.readiness = [&live] {
    ApiReadiness readiness;
    readiness.engine = live.query_engine();
    if (!readiness.engine) {
      const LiveStatus status = live.status();
      readiness.reason = status.model_problem.empty() ? "loading the model " + status.model : status.model_problem;
    }
    return readiness;
  };
  const std::filesystem::path data_dir = config.data_dir;
  const std::string device = config.model.device;
  const CatalogLocation catalog = catalog_location(config);
  auto failed_files = std::make_shared<FailedFilesReader>(catalog);
  context.status = [&live, data_dir, device, failed_files] {
    const std::optional<std::vector<FailedFile>> failures = failed_files->read();
    nlohmann::json status = service_status_json(live.status(), device, failures ? &*failures : nullptr);
    status["data_dir"] = data_dir.string();
    return status;
  };
  context.service_metrics = [&live] { return service_metrics(live.status()); };
  context.rescan = [&live](const std::optional<std::string>& root) {
    const LiveStatus status = live.status();
    nlohmann::json roots = nlohmann::json::array();
    for (const LiveRootStatus& known : status.roots) {
      if (!root || normalized_root(*root) == known.path) roots.push_back(known.path);
    }
    if (root && roots.empty()) throw NotFound("'" + *root + "' is not one of the indexed roots (indexer.roots)");
    if (root) {
      live.on_root_rescan(roots[0].get<std::string>());
    } else {
      live.request_reconcile();
    }
    return nlohmann::json{{"roots", roots}};
  };
  return context;
}

// Tells the other services sharing the catalogue where this one's API is
// (they point to it for the files it holds), or that it gives no address.
void advertise_this_service(Catalog& catalog, const Config& config) {
  if (config.store.backend != Config::Store::Backend::postgresql) return;
  const std::string& url = config.store.postgresql.advertise_url;
  catalog.advertise(url);
  const std::string& source = catalog.location().source;
  if (url.empty()) {
    spdlog::info("source '{}': no store.postgresql.advertise_url, so other services name this one for its files "
                 "but give no address",
                 source);
  } else {
    spdlog::info("source '{}': other services point to {} for this one's files", source, url);
  }
}

struct ServeArguments {
  std::vector<std::string> roots;  // replace indexer.roots (also at a reload)
};

// The configuration with the command line's folders, if any, as the roots.
Config with_roots(Config config, const ServeArguments& args) {
  if (args.roots.empty()) return config;
  config.indexer.roots.clear();
  for (const std::string& root : args.roots) config.indexer.roots.push_back(Config::Root{expand_user_path(root), {}, {}, {}});
  return config;
}

int run_serve(AppContext& context, const ServeArguments& args) {
  // Before any thread starts, so that only this thread receives them.
  ServiceSignals signals;
  const Config config = with_roots(context.config(), args);
  context.apply_log_level();

  WriterLock lock = WriterLock::acquire(config.data_dir, WriterLock::Role::serve);
  Catalog catalog = Catalog::open(catalog_location(config));
  advertise_this_service(catalog, config);
  init_image_library("imgsearchd");

  if (config.indexer.roots.empty()) {
    spdlog::warn("no folders to watch: list them under indexer.roots in {} and reload (systemctl reload "
                 "imgsearchd, or kill -HUP {})",
                 config.source_file.empty() ? std::string("the configuration file") : config.source_file.string(),
                 static_cast<long long>(::getpid()));
  }
  LiveIndexer live(live_options(config), std::move(catalog));
  // The API's settings are checked before anything starts (a token is
  // needed beyond loopback).
  ApiServer api(api_options(config), api_context(live, config));
  live.start();
  api.start();
  const std::string api_address = api_url(api_options(config).host, api.port());
  spdlog::info("HTTP API on {}", api_address);
  spdlog::info("imgsearchd serve: data folder {}, {} roots; reconciling them, then watching", config.data_dir.string(),
               config.indexer.roots.size());
  notify_ready("reconciling " + std::to_string(config.indexer.roots.size()) + " roots");

  nlohmann::json published;
  auto publish = [&] {
    const LiveStatus status = live.status();
    nlohmann::json json = service_status_json(status, config.model.device);
    json["api"] = api_address;
    if (json == published) return;
    published = json;
    write_service_status(config.data_dir, json);
    notify_status(status_line(status));
  };

  while (true) {
    publish();
    if (live.error()) break;
    const ServiceSignals::Event event = signals.wait(std::chrono::milliseconds(250));
    if (event == ServiceSignals::Event::stop) {
      spdlog::info("signal {}: finishing the batch in flight, then stopping (a second signal exits at once)",
                   signals.last_signal());
      signals.make_next_stop_immediate();
      notify_stopping("stopping: finishing the batch in flight");
      live.request_stop();
      break;
    }
    if (event == ServiceSignals::Event::reload) {
      notify_reloading();
      try {
        const Config reloaded = with_roots(load_config_for_cli(context.config_file), args);
        if (reloaded.data_dir != config.data_dir) {
          spdlog::warn("data_dir changed to {}: it takes effect after a restart", reloaded.data_dir.string());
        }
        if (reloaded.api.listen != config.api.listen || reloaded.api.token != config.api.token ||
            reloaded.api.token_file != config.api.token_file) {
          spdlog::warn("api.* changed: the HTTP API takes the new settings after a restart");
        }
        if (reloaded.store.postgresql.advertise_url != config.store.postgresql.advertise_url) {
          spdlog::warn("store.postgresql.advertise_url changed: it is advertised after a restart");
        }
        const Config::Search& was = config.search;
        const Config::Search& now = reloaded.search;
        if (now.k != was.k || now.min_score != was.min_score || now.pool != was.pool || now.collapse != was.collapse ||
            now.diversity != was.diversity || now.normalise != was.normalise) {
          spdlog::warn("search.* changed: the HTTP API takes the new search defaults after a restart");
        }
        live.reconfigure(live_options(reloaded));
        spdlog::set_level(spdlog::level::from_str(reloaded.log.level));
        if (context.verbose) spdlog::set_level(spdlog::level::debug);
        spdlog::info("configuration reloaded: {} roots", reloaded.indexer.roots.size());
      } catch (const std::exception& e) {
        spdlog::error("configuration not reloaded, the old one stays in force: {}", e.what());
      }
      notify_ready("configuration reloaded");
    }
  }

  api.stop();
  live.wait_stopped(std::chrono::hours(24 * 365));
  publish();
  if (std::exception_ptr error = live.error()) {
    remove_service_status(config.data_dir);
    std::rethrow_exception(error);
  }
  remove_service_status(config.data_dir);
  spdlog::info("stopped: everything committed, index saved");
  return 0;
}

}  // namespace

void register_serve_command(CLI::App& app, AppContext& context) {
  auto args = std::make_shared<ServeArguments>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "run as a service: index indexer.roots, then watch them and keep the index up to date");
  cmd->add_option("roots", args->roots, "folders to watch instead of indexer.roots");
  cmd->callback([&context, args] {
    const int code = run_serve(context, *args);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace imgsearchd
