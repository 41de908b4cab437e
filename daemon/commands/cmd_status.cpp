// `imgsearchd status`: what the data folder holds: counts, the models and
// their vector indexes, and the files that failed with their reasons. Reads
// the catalogue read-only and loads no model, so it is quick and works while
// an `index` runs.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "daemon/commands/app.h"
#include "store/data/data_dir.h"
#include "store/catalog/catalog.h"
#include "store/faiss/vector_index.h"

namespace imgsearchd {

namespace fs = std::filesystem;

namespace {

struct StatusArguments {
  bool json = false;
};

// The state of one model's index file: loaded as it is, or what a query or
// the next `index` run will rebuild it from the catalogue for.
nlohmann::json index_state(const fs::path& file, const Catalog& catalog, ModelId model) {
  const OpenedIndex opened = VectorIndex::open(file, catalog, model);
  return {{"file", file.string()},
          {"vectors", opened.index.size()},
          {"generation", opened.index.generation()},
          {"current", !opened.rebuilt},
          {"stale_reason", opened.reason}};
}

nlohmann::json status_json(const Config& config) {
  nlohmann::json status = {{"data_dir", config.data_dir.string()},
                           {"catalog", catalog_path(config.data_dir).string()},
                           {"configured_model", config.model.name}};
  const fs::path catalog_file = catalog_path(config.data_dir);
  if (!fs::exists(catalog_file)) {
    status["indexed"] = false;
    return status;
  }
  const Catalog catalog = Catalog::open_read_only(catalog_file);
  const CatalogCounts counts = catalog.counts();
  status["indexed"] = counts.files_ok > 0;
  status["generation"] = catalog.generation();
  status["files_ok"] = counts.files_ok;
  status["files_failed"] = counts.files_failed;
  status["contents"] = counts.contents;
  status["orphaned_contents"] = counts.orphaned_contents;

  nlohmann::json models = nlohmann::json::array();
  for (const CatalogModel& model : catalog.models()) {
    const auto embeddings = counts.embeddings.find(model.id);
    const auto live = counts.live.find(model.id);
    models.push_back({{"id", model.id},
                      {"name", model.name},
                      {"fingerprint", model.fingerprint},
                      {"dim", model.dim},
                      {"embeddings", embeddings == counts.embeddings.end() ? 0 : embeddings->second},
                      {"live", live == counts.live.end() ? 0 : live->second},
                      {"index", index_state(vector_index_path(config.data_dir, model.id), catalog, model.id)}});
  }
  status["models"] = models;

  nlohmann::json failed = nlohmann::json::array();
  for (const FailedFile& file : catalog.failed_files()) failed.push_back({{"path", file.path}, {"reason", file.reason}});
  status["failed_files"] = failed;
  return status;
}

void print_status(const nlohmann::json& status) {
  std::printf("data folder: %s\n", status["data_dir"].get<std::string>().c_str());
  std::printf("configured model: %s\n", status["configured_model"].get<std::string>().c_str());
  if (!status.contains("generation")) {
    std::printf("%s\n", kNothingIndexedYet);
    return;
  }
  std::printf("catalogue: %s (generation %llu)\n", status["catalog"].get<std::string>().c_str(),
              status["generation"].get<unsigned long long>());
  std::printf("files: %llu indexed, %llu failed; %llu distinct images (%llu kept without a path)\n",
              status["files_ok"].get<unsigned long long>(), status["files_failed"].get<unsigned long long>(),
              status["contents"].get<unsigned long long>(), status["orphaned_contents"].get<unsigned long long>());
  for (const auto& model : status["models"]) {
    const auto& index = model["index"];
    const std::string index_state =
        index["current"].get<bool>()
            ? "current, " + std::to_string(index["vectors"].get<unsigned long long>()) + " vectors"
            : "rebuilt from the catalogue when used (" + index["stale_reason"].get<std::string>() + ")";
    std::printf("model %s (id %lld, %d dimensions): %llu embeddings, %llu searchable; index %s: %s\n",
                model["name"].get<std::string>().c_str(), model["id"].get<long long>(), model["dim"].get<int>(),
                model["embeddings"].get<unsigned long long>(), model["live"].get<unsigned long long>(),
                index["file"].get<std::string>().c_str(), index_state.c_str());
  }
  if (!status["indexed"].get<bool>()) std::printf("%s\n", kNothingIndexedYet);
  const auto& failed = status["failed_files"];
  if (!failed.empty()) {
    std::printf("failed files (retried when they change):\n");
    for (const auto& file : failed) {
      std::printf("  %s\n    %s\n", file["path"].get<std::string>().c_str(), file["reason"].get<std::string>().c_str());
    }
  }
}

}  // namespace

void register_status_command(CLI::App& app, AppContext& context) {
  auto args = std::make_shared<StatusArguments>();
  CLI::App* cmd = app.add_subcommand("status", "show what is indexed, the models, and the files that failed");
  cmd->add_flag("--json", args->json, "print the status as JSON");
  cmd->callback([&context, args] {
    context.apply_log_level(/*quiet=*/true);
    const nlohmann::json status = status_json(context.config());
    if (args->json) {
      std::cout << status.dump() << "\n";
    } else {
      print_status(status);
    }
  });
}

}  // namespace imgsearchd
