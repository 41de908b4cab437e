// `imgsearchd search "text"` and `imgsearchd similar FILE|ID`: query the
// index directly (no service needed). They open the catalogue read-only and
// never take the writer lock, so they work while an `index` runs.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/app.h"
#include "daemon/data_dir.h"
#include "daemon/model_options.h"
#include "indexer/content_hash.h"
#include "indexer/image_loader.h"
#include "indexer/model_session.h"
#include "store/catalog.h"
#include "store/vector_index.h"

namespace imgsearchd {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxK = 1000;

struct QueryArguments {
  std::string query;  // the text, or the FILE|ID for similar
  std::string model;
  size_t k = 10;
  size_t offset = 0;
  float min_score = -1.0f;
  bool json = false;
};

// What a query needs, opened in the order that gives the cheapest clear
// error: the catalogue (is anything indexed?), then the model.
struct QueryContext {
  Catalog catalog;
  std::unique_ptr<ModelSession> session;
  ModelId model = 0;
  std::unique_ptr<VectorIndex> index;
};

QueryContext open_for_query(AppContext& context, const std::string& model_override) {
  const Config& config = context.config();
  context.apply_log_level(/*quiet=*/true);
  const fs::path catalog_file = catalog_path(config.data_dir);
  if (!fs::exists(catalog_file)) throw std::runtime_error(kNothingIndexedYet);
  Catalog catalog = Catalog::open_read_only(catalog_file);
  if (catalog.counts().files_ok == 0) throw std::runtime_error(kNothingIndexedYet);

  init_image_library("imgsearchd");
  auto session = std::make_unique<ModelSession>(model_session_options(config, model_override));
  std::optional<ModelId> model;
  std::string known;
  for (const CatalogModel& candidate : catalog.models()) {
    if (candidate.name == session->name() && candidate.fingerprint == session->info().fingerprint) model = candidate.id;
    known += (known.empty() ? "" : ", ") + candidate.name;
  }
  if (!model) {
    throw std::runtime_error("nothing indexed yet with the model " + session->name() + " (the catalogue has " +
                             known + "): run imgsearchd index DIR with this model, or choose one with --model");
  }
  OpenedIndex opened = VectorIndex::open(vector_index_path(config.data_dir, *model), catalog, *model);
  if (opened.index.size() == 0) {
    throw std::runtime_error(std::string(kNothingIndexedYet) + " (with the model " + session->name() + ")");
  }
  return QueryContext{std::move(catalog), std::move(session), *model,
                      std::make_unique<VectorIndex>(std::move(opened.index))};
}

void check_arguments(const QueryArguments& args) {
  if (args.k < 1 || args.k > kMaxK) {
    throw std::runtime_error("-k must be between 1 and " + std::to_string(kMaxK) + ", got " + std::to_string(args.k));
  }
}

// Hits [offset, offset + k) by score, without `exclude`, at or above min_score.
std::vector<SearchHit> page_of_hits(const VectorIndex& index, const std::vector<float>& query,
                                    const QueryArguments& args, std::optional<VectorId> exclude) {
  std::vector<SearchHit> hits = index.search(query, args.offset + args.k + (exclude ? 1 : 0));
  if (exclude) {
    hits.erase(std::remove_if(hits.begin(), hits.end(), [&](const SearchHit& hit) { return hit.id == *exclude; }),
               hits.end());
  }
  std::vector<SearchHit> page;
  for (size_t i = args.offset; i < hits.size() && page.size() < args.k; ++i) {
    if (hits[i].score >= args.min_score) page.push_back(hits[i]);
  }
  return page;
}

void print_hits(const QueryContext& context, const std::vector<SearchHit>& hits, const QueryArguments& args,
                nlohmann::json query) {
  nlohmann::json results = nlohmann::json::array();
  for (const SearchHit& hit : hits) {
    const std::vector<std::string> paths = context.catalog.paths_of(hit.id);
    const std::string path = paths.empty() ? std::string() : paths.front();
    if (args.json) {
      results.push_back({{"id", hit.id}, {"score", hit.score}, {"path", path}, {"paths", paths}});
    } else {
      std::printf("%.4f  %s\n", static_cast<double>(hit.score), path.c_str());
    }
  }
  if (args.json) {
    nlohmann::json out = {{"query", std::move(query)}, {"model", context.session->name()}, {"k", args.k},
                          {"offset", args.offset}, {"min_score", args.min_score}, {"results", results}};
    std::cout << out.dump() << "\n";
  } else if (hits.empty()) {
    std::fprintf(stderr, "no results%s\n", args.min_score > -1.0f ? " at or above --min-score" : "");
  }
}

void run_search(AppContext& app, const QueryArguments& args) {
  check_arguments(args);
  QueryContext context = open_for_query(app, args.model);
  const std::vector<float> query = context.session->embed_texts({args.query});
  print_hits(context, page_of_hits(*context.index, query, args, std::nullopt), args, {{"text", args.query}});
}

bool is_id(const std::string& text) {
  return !text.empty() && text.size() <= 19 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// The query vector of FILE|ID and the id to leave out of the results.
struct ImageQuery {
  std::vector<float> vector;
  std::optional<VectorId> exclude;
  nlohmann::json description;
};

ImageQuery image_query(QueryContext& context, const std::string& argument) {
  // An indexed id.
  if (is_id(argument)) {
    const VectorId id = std::stoll(argument);
    if (std::optional<std::vector<float>> vector = context.index->reconstruct(id))
      return {std::move(*vector), id, {{"id", id}}};
    if (!fs::exists(argument)) throw std::runtime_error("no indexed image has the id " + argument);
  }
  const std::string path = fs::absolute(argument).lexically_normal().string();
  // An indexed path.
  if (std::optional<VectorId> id = context.catalog.vector_id_of(path)) {
    if (std::optional<std::vector<float>> vector = context.index->reconstruct(*id))
      return {std::move(*vector), *id, {{"id", *id}, {"path", path}}};
  }
  // Any image file: known content uses its stored embedding; new content is embedded now.
  FileHashResult hashed = hash_file(path);
  if (!hashed.ok()) {
    throw std::runtime_error(argument + " is neither an indexed id nor a readable image file: " + hashed.message);
  }
  const ContentHash hash = hashed.file->hash;
  const VectorId id = vector_id_for(hash);
  nlohmann::json description = {{"path", path}, {"id", id}};
  if (std::optional<std::vector<float>> stored = context.catalog.embedding(id, context.model))
    return {std::move(*stored), id, std::move(description)};
  ImageLoadResult loaded = load_image_for_clip(path, context.session->preprocess());
  if (!loaded.ok()) throw std::runtime_error("cannot search by this image: " + loaded.error);
  return {context.session->model().encode_images(loaded.image->chw.data(), 1), id, std::move(description)};
}

void run_similar(AppContext& app, const QueryArguments& args) {
  check_arguments(args);
  QueryContext context = open_for_query(app, args.model);
  ImageQuery query = image_query(context, args.query);
  print_hits(context, page_of_hits(*context.index, query.vector, args, query.exclude), args,
             std::move(query.description));
}

void add_query_options(CLI::App* cmd, QueryArguments& args) {
  cmd->add_option("-k", args.k, "number of results (1 to 1000)")->capture_default_str();
  cmd->add_option("--min-score", args.min_score, "leave out results scoring below this (cosine similarity, -1 to 1)");
  cmd->add_option("--offset", args.offset, "skip this many results first (paging)");
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
