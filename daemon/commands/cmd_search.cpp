// `imgsearchd search "text"` and `imgsearchd similar FILE|ID`: ask the
// running service when one answers (service_link.h), else query the index
// directly: the catalogue read-only, never the writer lock, so they work
// while an `index` runs. The output is the same either way.
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
#include "daemon/commands/service_link.h"
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

// The running service, when one serves this data folder and can search
// now; nothing to query the index here. With --model the index is always
// read here: the service searches with its own model only.
std::optional<ServiceLink> service_for_query(AppContext& context, const QueryArguments& args) {
  check_search_options(args.search, {"-k", "--offset", "--min-score"});
  context.apply_log_level(/*quiet=*/true);
  if (!args.model.empty()) return std::nullopt;
  ServiceLink link = find_service(context.config());
  if (!link.client) {
    warn_if_service_silent(link);
    return std::nullopt;
  }
  if (!link.status.value("model_loaded", false)) {
    const std::string problem = link.status.value("model_problem", std::string());
    std::fprintf(stderr, "imgsearchd: the service at %s cannot search yet (%s); searching the catalogue directly\n",
                 link.client->url().c_str(), problem.empty() ? "it is loading its model" : problem.c_str());
    return std::nullopt;
  }
  return link;
}

std::string service_model(const ServiceLink& link) { return model_short_name(link.status.value("model", std::string())); }

QueryContext open_for_query(AppContext& context, const QueryArguments& args) {
  const Config& config = context.config();
  require_catalog(config.data_dir);
  init_image_library("imgsearchd");
  QueryContext query;
  query.session = std::make_unique<ModelSession>(model_session_options(config, args.model));
  query.index = open_query_index(config.data_dir, *query.session);
  query.engine = std::make_unique<QueryEngine>(catalog_path(config.data_dir), *query.index.index, *query.session);
  return query;
}

// Ids are JSON strings, as in the API: they are 63-bit, beyond what
// JavaScript and jq hold exactly.
void print_page(const std::string& model, const SearchPage& page, const QueryArguments& args,
                nlohmann::json query) {
  nlohmann::json results = nlohmann::json::array();
  for (const Hit& hit : page.hits) {
    const std::string path = hit.paths.empty() ? std::string() : hit.paths.front();
    if (args.json) {
      results.push_back({{"id", std::to_string(hit.id)}, {"score", hit.score}, {"path", path}, {"paths", hit.paths}});
    } else {
      std::printf("%.4f  %s\n", static_cast<double>(hit.score), path.c_str());
    }
  }
  if (args.json) {
    nlohmann::json out = {{"query", std::move(query)}, {"model", model},
                          {"k", args.search.k}, {"offset", args.search.offset},
                          {"min_score", args.search.min_score}, {"results", results}};
    std::cout << out.dump() << "\n";
  } else if (page.hits.empty()) {
    std::fprintf(stderr, "no results%s\n", args.search.min_score > -1.0f ? " at or above --min-score" : "");
  }
}

void run_search(AppContext& app, const QueryArguments& args) {
  const nlohmann::json query = {{"text", args.query}};
  if (std::optional<ServiceLink> service = service_for_query(app, args)) {
    print_page(service_model(*service), service->client->search_text(args.query, args.search), args, query);
    return;
  }
  QueryContext context = open_for_query(app, args);
  print_page(context.session->name(), context.engine->by_text(args.query, args.search), args, query);
}

// FILE|ID: an indexed id, an indexed path, or any image file.
// Through the service a file is sent as an upload (its content says whether
// it is indexed), so an indexed path must still be readable.
void run_similar(AppContext& app, const QueryArguments& args) {
  const std::string& argument = args.query;
  const bool by_id = looks_like_image_id(argument) && !fs::exists(argument);
  std::optional<ServiceLink> service = service_for_query(app, args);
  std::optional<QueryContext> local;
  if (!service) local = open_for_query(app, args);
  const std::string model = service ? service_model(*service) : local->session->name();
  if (by_id) {
    const VectorId id = std::stoll(argument);
    const SearchPage page = service ? service->client->search_id(id, args.search) : local->engine->by_id(id, args.search);
    print_page(model, page, args, {{"id", std::to_string(id)}});
    return;
  }
  const SearchPage page = service ? service->client->search_image_file(argument, args.search)
                                  : local->engine->by_image_file(argument, args.search);
  nlohmann::json description = {{"path", fs::absolute(argument).lexically_normal().string()}};
  if (page.excluded) description["id"] = std::to_string(*page.excluded);
  print_page(model, page, args, std::move(description));
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
