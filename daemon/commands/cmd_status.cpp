// `imgsearchd status`: prints what the data folder holds (read by
// read_store_status in store/data/status.h: the catalogue, current through
// SQLite WAL even while the service writes) and, when a service runs, its
// own state: from GET /api/status when it answers (service_link.h), else
// from its status file. As text or, with --json, as JSON.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "daemon/commands/app.h"
#include "daemon/commands/service_link.h"
#include "daemon/service/service_status_file.h"
#include "store/data/data_dir.h"
#include "store/data/status.h"

namespace imgsearchd {

namespace {

struct StatusArguments {
  bool json = false;
};

nlohmann::json status_json(const StoreStatus& status, const std::string& configured_model) {
  nlohmann::json out = {{"data_dir", status.data_dir.string()},
                        {"catalog", status.catalog_file.string()},
                        {"configured_model", configured_model},
                        {"indexed", status.indexed()}};
  if (!status.catalog_problem.empty()) out["catalog_problem"] = status.catalog_problem;
  if (!status.catalog) return out;
  const CatalogStatus& catalog = *status.catalog;
  out["generation"] = catalog.generation;
  out["files_ok"] = catalog.counts.files_ok;
  out["files_failed"] = catalog.counts.files_failed;
  out["contents"] = catalog.counts.contents;
  out["orphaned_contents"] = catalog.counts.orphaned_contents;

  nlohmann::json models = nlohmann::json::array();
  for (const ModelStatus& model : catalog.models) {
    models.push_back({{"id", model.model.id},
                      {"name", model.model.name},
                      {"fingerprint", model.model.fingerprint},
                      {"dim", model.model.dim},
                      {"embeddings", model.embeddings},
                      {"live", model.live},
                      {"index",
                       {{"file", model.index.file.string()},
                        {"vectors", model.index.vectors},
                        {"generation", model.index.generation},
                        {"current", model.index.current},
                        {"stale_reason", model.index.stale_reason}}}});
  }
  out["models"] = models;

  nlohmann::json failed = nlohmann::json::array();
  for (const FailedFile& file : catalog.failed_files) failed.push_back({{"path", file.path}, {"reason", file.reason}});
  out["failed_files"] = failed;
  return out;
}

void print_status(const StoreStatus& status, const std::string& configured_model) {
  std::printf("data folder: %s\n", status.data_dir.string().c_str());
  std::printf("configured model: %s\n", configured_model.c_str());
  if (!status.catalog_problem.empty()) {
    std::printf("catalogue: %s cannot be reached: %s\n", status.catalog_file.string().c_str(),
                status.catalog_problem.c_str());
    return;
  }
  if (!status.catalog) {
    std::printf("%s\n", kNothingIndexedYet);
    return;
  }
  const CatalogStatus& catalog = *status.catalog;
  const CatalogCounts& counts = catalog.counts;
  std::printf("catalogue: %s (generation %llu)\n", status.catalog_file.string().c_str(),
              static_cast<unsigned long long>(catalog.generation));
  std::printf("files: %llu indexed, %llu failed; %llu distinct images (%llu kept without a path)\n",
              static_cast<unsigned long long>(counts.files_ok), static_cast<unsigned long long>(counts.files_failed),
              static_cast<unsigned long long>(counts.contents),
              static_cast<unsigned long long>(counts.orphaned_contents));
  for (const ModelStatus& model : catalog.models) {
    const IndexStatus& index = model.index;
    const std::string index_state = index.current
                                        ? "current, " + std::to_string(index.vectors) + " vectors"
                                        : "rebuilt from the catalogue when used (" + index.stale_reason + ")";
    // The fingerprint tells apart two weights files of one name.
    std::printf("model %s (id %lld, fingerprint %s, %d dimensions): %llu embeddings, %llu searchable; index %s: %s\n",
                model.model.name.c_str(), static_cast<long long>(model.model.id), model.model.fingerprint.c_str(),
                model.model.dim,
                static_cast<unsigned long long>(model.embeddings), static_cast<unsigned long long>(model.live),
                index.file.string().c_str(), index_state.c_str());
  }
  if (!status.indexed()) std::printf("%s\n", kNothingIndexedYet);
  if (!catalog.failed_files.empty()) {
    std::printf("failed files (retried when they change):\n");
    for (const FailedFile& file : catalog.failed_files) {
      std::printf("  %s\n    %s\n", file.path.c_str(), file.reason.c_str());
    }
  }
}

// The running service's own view, when one runs on this data folder.
void print_service(const std::optional<nlohmann::json>& service) {
  if (!service) return;
  const nlohmann::json& s = *service;
  std::printf("service: running (process %lld), %s\n", s.value("pid", 0LL), s.value("state", std::string()).c_str());
  if (!s.value("model_loaded", false)) std::printf("  no model: %s\n", s.value("model_problem", std::string()).c_str());
  const std::string catalogue_problem = s.value("catalogue_problem", std::string());
  if (!catalogue_problem.empty()) std::printf("  catalogue unreachable: %s\n", catalogue_problem.c_str());
  for (const auto& root : s["roots"])
    std::printf("  root %s: watched by %s\n", root.value("path", std::string()).c_str(),
                root.value("watcher", std::string()).c_str());
  for (const auto& warning : s["warnings"]) std::printf("  warning: %s\n", warning.get<std::string>().c_str());
  const auto& c = s["counters"];
  std::printf("  since start: %llu files read, %llu images embedded, %llu attached without model time, %llu "
              "removed, %llu failed; %llu changes waiting\n",
              c.value("hashed", 0ULL), c.value("embedded", 0ULL), c.value("attached", 0ULL), c.value("removed", 0ULL),
              c.value("failed", 0ULL), s.value("pending_paths", 0ULL));
}

}  // namespace

void register_status_command(CLI::App& app, AppContext& context) {
  auto args = std::make_shared<StatusArguments>();
  CLI::App* cmd = app.add_subcommand("status", "show what is indexed, the models, and the files that failed");
  cmd->add_flag("--json", args->json, "print the status as JSON");
  cmd->callback([&context, args] {
    context.apply_log_level(/*quiet=*/true);
    const Config& config = context.config();
    const StoreStatus status = read_store_status(config.data_dir, catalog_location(config));
    const ServiceLink link = find_service(config);
    warn_if_service_silent(link);
    const std::optional<nlohmann::json> service =
        link.client ? std::optional<nlohmann::json>(link.status) : read_service_status(config.data_dir);
    if (args->json) {
      nlohmann::json out = status_json(status, config.model.name);
      out["service"] = service ? *service : nlohmann::json();
      std::cout << out.dump() << "\n";
    } else {
      print_service(service);
      print_status(status, config.model.name);
    }
  });
}

}  // namespace imgsearchd
