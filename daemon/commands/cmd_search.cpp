// `imgsearchd search "text"` and `imgsearchd similar FILE|ID`: query the
// index directly (no service needed). They open the catalogue read-only and
// never take the writer lock, so they work while an `index` runs.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/commands/app.h"
#include "daemon/commands/model_options.h"
#include "indexer/image/image_loader.h"
#include "indexer/search/query_engine.h"
#include "indexer/session/model_session.h"
#include "store/data/data_dir.h"

namespace imgsearchd {

namespace fs = std::filesystem;

namespace {

struct QueryArguments {
  std::string query;  // the text, or the FILE|ID for similar
  std::string model;
  SearchOptions search;
  bool json = false;
};

// What a query needs, opened in the order that gives the cheapest clear
// error: the catalogue (is anything indexed?), then the model, then its index.
struct QueryContext {
  std::unique_ptr<ModelSession> session;
  QueryIndex index;
  std::unique_ptr<QueryEngine> engine;
};

QueryContext open_for_query(AppContext& context, const QueryArguments& args) {
  check_search_options(args.search, {"-k", "--offset", "--min-score"});
  const Config& config = context.config();
  context.apply_log_level(/*quiet=*/true);
  require_catalog(config.data_dir);
  init_image_library("imgsearchd");
  QueryContext query;
  query.session = std::make_unique<ModelSession>(model_session_options(config, args.model));
  query.index = open_query_index(config.data_dir, *query.session);
  query.engine = std::make_unique<QueryEngine>(catalog_path(config.data_dir), *query.index.index, *query.session);
  return query;
}

void print_page(const QueryContext& context, const SearchPage& page, const QueryArguments& args,
                nlohmann::json query) {
  nlohmann::json results = nlohmann::json::array();
  for (const Hit& hit : page.hits) {
    const std::string path = hit.paths.empty() ? std::string() : hit.paths.front();
    if (args.json) {
      results.push_back({{"id", hit.id}, {"score", hit.score}, {"path", path}, {"paths", hit.paths}});
    } else {
      std::printf("%.4f  %s\n", static_cast<double>(hit.score), path.c_str());
    }
  }
  if (args.json) {
    nlohmann::json out = {{"query", std::move(query)}, {"model", context.session->name()},
                          {"k", args.search.k}, {"offset", args.search.offset},
                          {"min_score", args.search.min_score}, {"results", results}};
    std::cout << out.dump() << "\n";
  } else if (page.hits.empty()) {
    std::fprintf(stderr, "no results%s\n", args.search.min_score > -1.0f ? " at or above --min-score" : "");
  }
}

void run_search(AppContext& app, const QueryArguments& args) {
  QueryContext context = open_for_query(app, args);
  print_page(context, context.engine->by_text(args.query, args.search), args, {{"text", args.query}});
}

// FILE|ID: an indexed id, an indexed path, or any image file.
void run_similar(AppContext& app, const QueryArguments& args) {
  QueryContext context = open_for_query(app, args);
  const std::string& argument = args.query;
  if (looks_like_image_id(argument) && !fs::exists(argument)) {
    const VectorId id = std::stoll(argument);
    print_page(context, context.engine->by_id(id, args.search), args, {{"id", id}});
    return;
  }
  const SearchPage page = context.engine->by_image_file(argument, args.search);
  nlohmann::json description = {{"path", fs::absolute(argument).lexically_normal().string()}};
  if (page.excluded) description["id"] = *page.excluded;
  print_page(context, page, args, std::move(description));
}

void add_query_options(CLI::App* cmd, QueryArguments& args) {
  cmd->add_option("-k", args.search.k, "number of results (1 to 1000)")->capture_default_str();
  cmd->add_option("--min-score", args.search.min_score,
                  "leave out results scoring below this (cosine similarity, -1 to 1)");
  cmd->add_option("--offset", args.search.offset, "skip this many results first (paging)");
  cmd->add_option("-m,--model", args.model, "model name or weights file (default: config model.name)");
  cmd->add_flag("--json", args.json, "print the results as JSON");
}

}  // namespace

void register_search_commands(CLI::App& app, AppContext& context) {
  auto search = std::make_shared<QueryArguments>();
  CLI::App* search_cmd = app.add_subcommand("search", "find indexed images matching a text");
  search_cmd->add_option("text", search->query, "what to look for, e.g. \"a red bicycle at night\"")->required();
  add_query_options(search_cmd, *search);
  search_cmd->callback([&context, search] { run_search(context, *search); });

  auto similar = std::make_shared<QueryArguments>();
  CLI::App* similar_cmd = app.add_subcommand("similar", "find indexed images like an image (itself left out)");
  similar_cmd->add_option("image", similar->query, "an indexed id, an indexed path, or any image file")->required();
  add_query_options(similar_cmd, *similar);
  similar_cmd->callback([&context, similar] { run_similar(context, *similar); });
}

}  // namespace imgsearchd
