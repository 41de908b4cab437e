// What every subcommand shares: the parsed --config and --verbose options and
// the configuration they lead to.
#pragma once

#include <filesystem>
#include <optional>

#include "daemon/config/config.h"

namespace CLI {
class App;
}

namespace imgsearchd {

struct AppContext {
  std::filesystem::path config_file;  // --config
  bool verbose = false;               // --verbose

  // Loaded on first use so that `--help` never reads a file.
  const Config& config();
  // Sets spdlog's level from log.level in the configuration (debug with
  // --verbose). quiet: at least warn, for commands whose output is their
  // result (search, status), unless --verbose.
  void apply_log_level(bool quiet = false);

 private:
  std::optional<Config> config_;
};

// Each command family registers its subcommands on the root app.
void register_model_commands(CLI::App& app, AppContext& context);  // daemon/cmd_model.cpp
void register_embed_command(CLI::App& app, AppContext& context);   // daemon/cmd_embed.cpp
void register_index_command(CLI::App& app, AppContext& context);   // daemon/cmd_index.cpp
void register_search_commands(CLI::App& app, AppContext& context); // daemon/cmd_search.cpp: search, similar
void register_status_command(CLI::App& app, AppContext& context);  // daemon/cmd_status.cpp
void register_serve_command(CLI::App& app, AppContext& context);   // daemon/cmd_serve.cpp
void register_duplicates_command(CLI::App& app, AppContext& context);  // daemon/cmd_duplicates.cpp
void register_eval_command(CLI::App& app, AppContext& context);        // daemon/cmd_eval.cpp: eval, eval convert-coco
void register_rescan_command(CLI::App& app, AppContext& context);  // daemon/cmd_rescan.cpp
void register_store_commands(CLI::App& app, AppContext& context);  // daemon/cmd_store.cpp: store migrate

}  // namespace imgsearchd
