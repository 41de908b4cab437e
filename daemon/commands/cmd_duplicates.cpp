// `imgsearchd duplicates [--min-score 0.95] [--json]`: groups of
// near-duplicate images across the whole index (burst shots, re-saved and
// resized copies) and exact copies (one image, several paths). Reads the
// index directly, like search: no service needed, no writer lock taken.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "daemon/commands/app.h"
#include "daemon/commands/model_options.h"
#include "indexer/image/image_loader.h"
#include "indexer/search/duplicates.h"
#include "indexer/search/query_engine.h"
#include "indexer/session/model_session.h"
#include "store/core/errors.h"
#include "store/data/data_dir.h"

namespace imgsearchd {

namespace fs = std::filesystem;

namespace {

struct DuplicatesArguments {
  float min_score = 0.95f;
  std::string model;
  bool json = false;
};

nlohmann::json groups_json(const std::vector<DuplicateGroup>& groups) {
  nlohmann::json out = nlohmann::json::array();
  for (const DuplicateGroup& group : groups) {
    nlohmann::json members = nlohmann::json::array();
    for (const DuplicateMember& member : group.members) {
      members.push_back({{"id", member.id}, {"similarity", member.similarity}, {"paths", member.paths}});
    }
    out.push_back({{"images", group.members.size()}, {"paths", group.path_count()}, {"members", members}});
  }
  return out;
}

void print_groups(const std::vector<DuplicateGroup>& groups) {
  for (size_t i = 0; i < groups.size(); ++i) {
    const DuplicateGroup& group = groups[i];
    std::printf("group %zu: %zu image%s, %zu paths\n", i + 1, group.members.size(),
                group.members.size() == 1 ? "" : "s", group.path_count());
    for (const DuplicateMember& member : group.members) {
      for (size_t p = 0; p < member.paths.size(); ++p) {
        if (p == 0) {
          std::printf("  %.4f  %s\n", static_cast<double>(member.similarity), member.paths[p].c_str());
        } else {
          std::printf("          %s\n", member.paths[p].c_str());
        }
      }
    }
  }
  if (groups.empty()) std::fprintf(stderr, "no duplicates at or above --min-score\n");
}

void run_duplicates(AppContext& app, const DuplicatesArguments& args) {
  if (!(args.min_score > 0 && args.min_score <= 1)) {
    throw InvalidInput("--min-score must be a similarity above 0 and at most 1, got " +
                       std::to_string(args.min_score));
  }
  const Config& config = app.config();
  app.apply_log_level(/*quiet=*/true);
  if (config.store.backend == Config::Store::Backend::sqlite && !fs::exists(catalog_path(config.data_dir))) {
    throw NotFound(kNothingIndexedYet);
  }
  init_image_library("imgsearchd");
  ModelSession session(model_session_options(config, args.model));
  const QueryIndex opened = open_query_index(config.data_dir, catalog_location(config), session);
  const Catalog catalog = Catalog::open_read_only(catalog_location(config));
  const std::vector<DuplicateGroup> groups = find_duplicates(*opened.index, catalog, args.min_score);
  if (args.json) {
    const nlohmann::json out = {{"model", session.name()},
                                {"min_score", args.min_score},
                                {"indexed_images", opened.index->size()},
                                {"group_count", groups.size()},
                                {"groups", groups_json(groups)}};
    std::cout << out.dump() << "\n";
  } else {
    print_groups(groups);
  }
}

}  // namespace

void register_duplicates_command(CLI::App& app, AppContext& context) {
  auto args = std::make_shared<DuplicatesArguments>();
  CLI::App* cmd = app.add_subcommand(
      "duplicates", "groups of near-duplicate images (and exact copies) across the whole index, largest first");
  cmd->add_option("--min-score", args->min_score,
                  "cosine similarity to a group's first image at which an image joins the group")
      ->capture_default_str();
  cmd->add_option("-m,--model", args->model, "model name or weights file (default: config model.name)");
  cmd->add_flag("--json", args->json, "print the groups as JSON");
  cmd->callback([&context, args] { run_duplicates(context, *args); });
}

}  // namespace imgsearchd
