// `imgsearchd index [DIR...]`: indexes folders once and exits. Takes the data
// folder's writer lock, so two indexers never write one catalogue; shows
// progress on stderr; prints a summary (or JSON with --json) on stdout.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "daemon/commands/app.h"
#include "store/data/data_dir.h"
#include "daemon/terminal/index_progress.h"
#include "daemon/commands/model_options.h"
#include "indexer/image/image_loader.h"
#include "indexer/pipeline/indexing_pipeline.h"
#include "indexer/session/model_session.h"
#include "store/catalog/catalog.h"
#include "store/core/errors.h"
#include "store/faiss/vector_index.h"

namespace imgsearchd {

namespace fs = std::filesystem;

namespace {

struct IndexArguments {
  std::vector<std::string> roots;
  std::string model;
  bool json = false;
};

// The first SIGINT or SIGTERM asks the run to stop at the next batch (what
// is done stays committed); a second one ends the process at once.
std::atomic<bool> g_stop{false};

void on_stop_signal(int) { g_stop = true; }

void install_stop_handlers() {
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  action.sa_flags = SA_RESETHAND;  // the second signal gets the default action
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

// Folders given on the command line use the indexer-wide include and exclude
// lists; roots from the configuration may have their own.
std::vector<Config::Root> roots_to_index(const IndexArguments& args, const Config& config) {
  std::vector<Config::Root> roots;
  for (const std::string& root : args.roots) roots.push_back(Config::Root{expand_user_path(root), {}, {}, {}});
  if (roots.empty()) roots = config.indexer.roots;
  if (roots.empty()) {
    throw InvalidInput(
        "no folders to index: give them on the command line (imgsearchd index ~/Pictures) or list them under "
        "indexer.roots in " +
        (config.source_file.empty() ? std::string("the configuration file (see config.example.yaml)")
                                    : config.source_file.string()));
  }
  return roots;
}


// One run per group of consecutive roots that share include and exclude
// lists (usually one run for all of them).
std::vector<IndexingOptions> indexing_runs(const Config& config, const std::vector<Config::Root>& roots) {
  std::vector<IndexingOptions> runs;
  for (const Config::Root& root : roots) {
    const std::vector<std::string>& include = root_include(config, root);
    const std::vector<std::string>& exclude = root_exclude(config, root);
    if (runs.empty() || runs.back().scan.include != include || runs.back().scan.exclude != exclude) {
      IndexingOptions options = indexing_options(config);
      options.scan.include = include;
      options.scan.exclude = exclude;
      runs.push_back(std::move(options));
    }
    runs.back().scan.roots.push_back(root.path);
  }
  return runs;
}

nlohmann::json summary_json(const IndexingSummary& summary, const std::string& model, const fs::path& data_dir) {
  const IndexingCounts& c = summary.counts;
  nlohmann::json offline = nlohmann::json::array();
  for (const OfflineRoot& root : summary.offline_roots)
    offline.push_back({{"root", root.root}, {"reason", root.reason}, {"known_files", root.known_files}});
  return {{"model", model},
          {"data_dir", data_dir.string()},
          {"scanned", c.scanned},
          {"unchanged", c.unchanged},
          {"hashed", c.hashed},
          {"attached", c.attached},
          {"embedded", c.embedded},
          {"failed", c.failed},
          {"removed", c.removed},
          {"skipped_offline", c.skipped_offline},
          {"deferred", c.deferred},
          {"seconds", summary.seconds},
          {"images_per_second", summary.images_per_second()},
          {"stopped", summary.stopped},
          {"offline_roots", offline},
          {"unlisted_folders", summary.unlisted_folders}};
}

void print_summary(const IndexingSummary& summary) {
  const IndexingCounts& c = summary.counts;
  std::printf("%s %llu files in %.1f s: %llu embedded (%.1f images/s), %llu attached without model time "
              "(renamed, moved or copied), %llu unchanged, %llu failed, %llu removed\n",
              summary.stopped ? "stopped after" : "indexed", static_cast<unsigned long long>(c.scanned),
              summary.seconds, static_cast<unsigned long long>(c.embedded), summary.images_per_second(),
              static_cast<unsigned long long>(c.attached), static_cast<unsigned long long>(c.unchanged),
              static_cast<unsigned long long>(c.failed), static_cast<unsigned long long>(c.removed));
  if (c.failed > 0) std::printf("failed files are listed with their reasons by: imgsearchd status\n");
  for (const OfflineRoot& root : summary.offline_roots) {
    std::printf("offline: %s (%s); its %llu indexed files were kept\n", root.root.c_str(), root.reason.c_str(),
                static_cast<unsigned long long>(root.known_files));
  }
  if (c.deferred > 0) {
    std::printf("%llu files changed while being read; the next run indexes them\n",
                static_cast<unsigned long long>(c.deferred));
  }
}

int run_index(AppContext& context, const IndexArguments& args) {
  const Config& config = context.config();
  context.apply_log_level();
  const std::vector<Config::Root> roots = roots_to_index(args, config);

  // The lock first: a second indexer fails at once, before loading anything.
  WriterLock lock = WriterLock::acquire(config.data_dir);
  Catalog catalog = Catalog::open(catalog_location(config));
  {
    std::vector<fs::path> paths;
    for (const Config::Root& root : roots) paths.push_back(root.path);
    check_roots(paths, catalog);
  }

  init_image_library("imgsearchd");
  ModelSession session(model_session_options(config, args.model));
  const ModelInfo& info = session.info();
  const ModelId model = catalog.model(session.name(), info.fingerprint, info.embed_dim);
  const fs::path index_file = vector_index_path(config.data_dir, model);
  OpenedIndex opened = VectorIndex::open(index_file, catalog, model, vector_index_options(config));

  IndexingSummary summary;
  {
    IndexProgressDisplay display(::isatty(STDERR_FILENO) == 1);
    install_stop_handlers();
    IndexingTarget target{catalog, model, &opened.index};
    for (const IndexingOptions& run : indexing_runs(config, roots)) {
      if (g_stop) break;
      summary += run_indexing(target, session.model(), session.preprocess(), run,
                              [&](const IndexingProgress& progress) { display.update(progress); }, &g_stop);
    }
  }

  if (args.json) {
    std::cout << summary_json(summary, session.name(), config.data_dir).dump() << "\n";
  } else {
    print_summary(summary);
  }
  return summary.stopped ? 130 : 0;
}

}  // namespace

void register_index_command(CLI::App& app, AppContext& context) {
  auto args = std::make_shared<IndexArguments>();
  CLI::App* cmd = app.add_subcommand("index", "index folders once (new, changed, moved and deleted images) and exit");
  cmd->add_option("roots", args->roots, "folders to index (default: indexer.roots from the configuration)");
  cmd->add_option("-m,--model", args->model, "model name or weights file (default: config model.name)");
  cmd->add_flag("--json", args->json, "print the summary as JSON");
  cmd->callback([&context, args] {
    const int code = run_index(context, *args);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace imgsearchd
