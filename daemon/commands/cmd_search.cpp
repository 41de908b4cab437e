// `imgsearchd search "text"` and `imgsearchd similar FILE|ID`: ask the
// running service when one answers (service_link.h), else query the index
// directly: the catalogue read-only, never the writer lock, so they work
// while an `index` runs. The output is the same either way. Queries the
// service's plain routes do not take (weighted terms, reranking, another
// model) are always answered here.
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
#include "daemon/commands/rerank_flags.h"
#include "daemon/commands/service_link.h"
#include "indexer/image/image_loader.h"
#include "indexer/search/query_engine.h"
#include "indexer/search/query_terms.h"
#include "indexer/session/model_session.h"
#include "store/data/data_dir.h"

namespace imgsearchd {

namespace fs = std::filesystem;

namespace {

struct QueryArguments {
  std::string query;  // the text, or the FILE|ID for similar
  std::string model;
  SearchOptions search;
  RerankFlags rerank;
  std::vector<std::string> add, subtract;  // search: more terms, rclip's syntax
  bool include_query_images = false;
  bool json = false;
  // -k and --min-score, to tell whether they were given (else search.k and
  // search.min_score of the configuration).
  CLI::Option* k_option = nullptr;
  CLI::Option* min_score_option = nullptr;
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
std::optional<ServiceLink> service_for_query(AppContext& context, QueryArguments& args, bool plain_query) {
  const Config& config = context.config();
  if (args.k_option && args.k_option->count() == 0) args.search.k = static_cast<size_t>(config.search.k);
  if (args.min_score_option && args.min_score_option->count() == 0)
    args.search.min_score = static_cast<float>(config.search.min_score);
  apply_rerank_flags(config, args.rerank, args.search);
  check_search_options(args.search, cli_option_names());
  context.apply_log_level(/*quiet=*/true);
  if (!args.model.empty() || !plain_query || args.search.rerank.active()) return std::nullopt;
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

QueryContext open_for_query(AppContext& context, QueryArguments& args) {
  const Config& config = context.config();
  if (config.store.backend == Config::Store::Backend::sqlite) require_catalog(config.data_dir);
  init_image_library("imgsearchd");
  QueryContext query;
  query.session = std::make_unique<ModelSession>(model_session_options(config, args.model));
  query.index = open_query_index(config.data_dir, catalog_location(config), *query.session);
  query.engine = std::make_unique<QueryEngine>(catalog_location(config), *query.index.index, *query.session);
  return query;
}

nlohmann::json hit_json(const Hit& hit) {
  const std::string path = hit.paths.empty() ? std::string() : hit.paths.front();
  nlohmann::json json = {{"id", std::to_string(hit.id)}, {"score", hit.score}, {"cosine", hit.cosine}, {"path", path},
                         {"paths", hit.paths}};
  nlohmann::json duplicates = nlohmann::json::array();
  for (const CollapsedHit& duplicate : hit.duplicates) {
    duplicates.push_back({{"id", std::to_string(duplicate.id)}, {"similarity", duplicate.similarity}, {"cosine", duplicate.cosine},
                          {"paths", duplicate.paths}});
  }
  json["duplicates"] = duplicates;
  return json;
}

// Ids are JSON strings, as in the API: they are 63-bit, beyond what
// JavaScript and jq hold exactly.
void print_page(const std::string& model, const SearchPage& page, const QueryArguments& args,
                nlohmann::json query) {
  nlohmann::json results = nlohmann::json::array();
  for (const Hit& hit : page.hits) {
    if (args.json) {
      results.push_back(hit_json(hit));
      continue;
    }
    const std::string path = hit.paths.empty() ? std::string() : hit.paths.front();
    std::printf("%.4f  %s\n", static_cast<double>(hit.score), path.c_str());
    for (const CollapsedHit& duplicate : hit.duplicates) {
      for (const std::string& copy : duplicate.paths) {
        std::printf("        = %s (similarity %.4f)\n", copy.c_str(), static_cast<double>(duplicate.similarity));
      }
    }
  }
  if (args.json) {
    const RerankOptions& rerank = args.search.rerank;
    nlohmann::json excluded_ids = nlohmann::json::array();
    for (VectorId id : page.excluded_ids) excluded_ids.push_back(std::to_string(id));
    nlohmann::json out = {{"query", std::move(query)}, {"model", model},
                          {"k", args.search.k}, {"offset", args.search.offset},
                          {"min_score", args.search.min_score},
                          {"collapse", rerank.collapse ? nlohmann::json(*rerank.collapse) : nlohmann::json()},
                          {"diversity", rerank.diversity},
                          {"normalise", score_normalisation_name(rerank.normalise)},
                          {"pool", rerank.active() ? nlohmann::json(std::max(args.search.pool, args.search.k))
                                                   : nlohmann::json()},
                          {"next_offset", page.next_offset ? nlohmann::json(*page.next_offset) : nlohmann::json()},
                          {"excluded", excluded_ids},
                          {"results", results}};
    std::cout << out.dump() << "\n";
  } else if (page.hits.empty()) {
    std::fprintf(stderr, "no results%s\n", args.search.min_score > -1.0f ? " at or above --min-score" : "");
  }
}

nlohmann::json term_json(const QueryTerm& term) {
  nlohmann::json json = {{"weight", term.weight}};
  if (term.kind == QueryTerm::Kind::text) json["text"] = term.text;
  if (term.kind == QueryTerm::Kind::image_file) json["image"] = fs::absolute(term.file).lexically_normal().string();
  return json;
}

// The query and the --add/--subtract terms. The query is a text, or an image
// when it names a file (rclip's rule); the other terms may carry a weight.
std::vector<QueryTerm> query_terms(const QueryArguments& args) {
  std::vector<QueryTerm> terms;
  if (names_an_image_file(args.query)) {
    terms.push_back(parse_cli_term(args.query));
  } else {
    terms.push_back(QueryTerm::of_text(args.query));
  }
  for (const std::string& term : args.add) terms.push_back(parse_cli_term(term, +1));
  for (const std::string& term : args.subtract) terms.push_back(parse_cli_term(term, -1));
  return terms;
}

void run_search(AppContext& app, QueryArguments& args) {
  const std::vector<QueryTerm> terms = query_terms(args);
  const bool plain_text = terms.size() == 1 && terms.front().kind == QueryTerm::Kind::text;
  if (std::optional<ServiceLink> service = service_for_query(app, args, plain_text)) {
    print_page(service_model(*service), service->client->search_text(args.query, args.search), args,
               {{"text", args.query}});
    return;
  }
  QueryContext context = open_for_query(app, args);
  const std::string model = context.session->name();
  if (plain_text) {
    print_page(model, context.engine->by_text(args.query, args.search), args, {{"text", args.query}});
    return;
  }
  nlohmann::json described = nlohmann::json::array();
  for (const QueryTerm& term : terms) described.push_back(term_json(term));
  print_page(model, context.engine->by_terms(terms, args.search, !args.include_query_images), args,
             {{"terms", described}});
}

// FILE|ID: an indexed id, an indexed path, or any image file.
// Through the service a file is sent as an upload (its content says whether
// it is indexed), so an indexed path must still be readable.
void run_similar(AppContext& app, QueryArguments& args) {
  const std::string& argument = args.query;
  const bool by_id = looks_like_image_id(argument) && !fs::exists(argument);
  std::optional<ServiceLink> service = service_for_query(app, args, /*plain_query=*/true);
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
  args.k_option = cmd->add_option("-k", args.search.k, "number of results (1 to 1000; default: config search.k, 10)");
  args.min_score_option = cmd->add_option("--min-score", args.search.min_score,
                                          "leave out results scoring below this (cosine similarity, -1 to 1; "
                                          "default: config search.min_score)");
  cmd->add_option("--offset", args.search.offset, "skip this many results first (paging)");
  cmd->add_option("-m,--model", args.model, "model name or weights file (default: config model.name)");
  cmd->add_flag("--json", args.json, "print the results as JSON");
  add_rerank_flags(cmd, args.rerank);
}

}  // namespace

void register_search_commands(CLI::App& app, AppContext& context) {
  auto search = std::make_shared<QueryArguments>();
  CLI::App* search_cmd = app.add_subcommand("search", "find indexed images matching a text");
  search_cmd->add_option("text", search->query, "what to look for, e.g. \"a red bicycle at night\"")->required();
  add_query_options(search_cmd, *search);
  search_cmd->add_option("-a,--add", search->add,
                         "another term added to the query: a text or an image path (./ref.jpg), "
                         "optionally weighted as W:term (e.g. 2:beach); repeatable");
  search_cmd->add_option("-s,--subtract", search->subtract,
                         "a term subtracted from the query (same syntax as --add); repeatable");
  search_cmd->add_flag("--include-query-images", search->include_query_images,
                       "keep indexed images used as terms in the results (left out by default)");
  search_cmd->callback([&context, search] { run_search(context, *search); });

  auto similar = std::make_shared<QueryArguments>();
  CLI::App* similar_cmd = app.add_subcommand("similar", "find indexed images like an image (itself left out)");
  similar_cmd->add_option("image", similar->query, "an indexed id, an indexed path, or any image file")->required();
  add_query_options(similar_cmd, *similar);
  similar_cmd->callback([&context, similar] { run_similar(context, *similar); });
}

}  // namespace imgsearchd
