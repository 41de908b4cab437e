// `imgsearchd rescan [DIR]`: asks the running service for a reconcile scan of
// every root, or of one (POST /api/rescan). Without a service there is
// nothing to ask: `imgsearchd index` does a one-shot reconcile instead.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "daemon/commands/app.h"
#include "daemon/commands/service_link.h"
#include "store/core/errors.h"

namespace imgsearchd {

namespace {

struct RescanArguments {
  std::string root;  // empty = every root
  bool json = false;
};

void run_rescan(AppContext& context, const RescanArguments& args) {
  context.apply_log_level(/*quiet=*/true);
  const Config& config = context.config();
  const ServiceLink link = find_service(config);
  if (!link.client) {
    if (link.silent) throw Unavailable(*link.silent + ": nothing was rescanned");
    throw Unavailable("the imgsearchd service is not running on the data folder " + config.data_dir.string() +
                      ": nothing to ask for a rescan. Start it with `imgsearchd serve`, or run `imgsearchd index` "
                      "for a one-shot reconcile of the roots");
  }
  std::optional<std::string> root;
  if (!args.root.empty()) root = std::filesystem::absolute(expand_user_path(args.root)).lexically_normal().string();
  const nlohmann::json answer = link.client->rescan(root);
  if (args.json) {
    std::cout << answer.dump() << "\n";
    return;
  }
  const nlohmann::json roots = answer.value("roots", nlohmann::json::array());
  std::printf("rescan queued for %zu root%s:\n", roots.size(), roots.size() == 1 ? "" : "s");
  for (const auto& queued : roots) {
    std::printf("  %s\n", queued.is_string() ? queued.get<std::string>().c_str() : queued.dump().c_str());
  }
}

}  // namespace

void register_rescan_command(CLI::App& app, AppContext& context) {
  auto args = std::make_shared<RescanArguments>();
  CLI::App* cmd = app.add_subcommand("rescan", "ask the running service to reconcile every root, or one, now");
  cmd->add_option("root", args->root, "one of the service's roots (default: all)");
  cmd->add_flag("--json", args->json, "print the service's answer as JSON");
  cmd->callback([&context, args] { run_rescan(context, *args); });
}

}  // namespace imgsearchd
