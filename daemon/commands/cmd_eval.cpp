// `imgsearchd eval DATASET.json [--k 1,5,10,20] [--out results.json]`:
// offline evaluation of the index against queries with known answers
// (Recall@K, Precision@K, mAP, MRR), with the same options as search.
// `imgsearchd eval convert-coco captions.json`: a COCO caption file as an
// evaluation set (each caption a query, its image the ground truth).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "daemon/commands/app.h"
#include "daemon/commands/model_options.h"
#include "daemon/commands/rerank_flags.h"
#include "indexer/eval/coco_captions.h"
#include "indexer/eval/eval_dataset.h"
#include "indexer/eval/evaluator.h"
#include "indexer/image/image_loader.h"
#include "indexer/search/query_engine.h"
#include "indexer/session/model_session.h"
#include "store/core/errors.h"
#include "store/data/data_dir.h"

namespace imgsearchd {

namespace fs = std::filesystem;

namespace {

struct EvalArguments {
  fs::path dataset;
  std::string ks = "1,5,10,20";
  fs::path out;
  std::string model;
  float min_score = -1.0f;
  RerankFlags rerank;
};

struct ConvertArguments {
  fs::path captions;
  fs::path images;
  size_t captions_per_image = 0;
  fs::path out;
};

void write_json(const fs::path& file, const nlohmann::json& json) {
  std::ofstream out(file, std::ios::trunc);
  out << json.dump(1) << "\n";
  out.close();
  if (!out) throw InvalidInput("cannot write " + file.string());
}

// One row per query, then the overall means.
void print_table(const EvalReport& report) {
  std::printf("%-28s", "query");
  for (size_t k : report.ks) std::printf(" %8s", ("R@" + std::to_string(k)).c_str());
  for (size_t k : report.ks) std::printf(" %8s", ("P@" + std::to_string(k)).c_str());
  std::printf(" %8s %8s\n", "AP", "RR");
  auto row = [&](const std::string& name, const QueryMetrics& metrics, const char* note) {
    std::printf("%-28s", name.substr(0, 28).c_str());
    for (size_t k : report.ks) std::printf(" %8.4f", metrics.recall.at(k));
    for (size_t k : report.ks) std::printf(" %8.4f", metrics.precision.at(k));
    std::printf(" %8.4f %8.4f%s\n", metrics.average_precision, metrics.reciprocal_rank, note);
  };
  for (const QueryEvaluation& query : report.queries) {
    if (query.measured) {
      row(query.query_id, query.metrics, query.missing.empty() ? "" : "  (some ground truth not indexed)");
    } else {
      std::printf("%-28s not measured: %s\n", query.query_id.substr(0, 28).c_str(),
                  query.error.empty() ? "none of its ground truth is indexed" : query.error.c_str());
    }
  }
  row("overall (mean)", report.overall, "");
  std::printf("%zu queries, %zu measured, %zu failed; %zu ground-truth entries not in the index\n",
              report.queries.size(), report.measured, report.failed, report.missing_ground_truth);
  for (const QueryEvaluation& query : report.queries) {
    for (const std::string& missing : query.missing) {
      std::fprintf(stderr, "not in the index: %s (ground truth of %s)\n", missing.c_str(), query.query_id.c_str());
    }
  }
}

void run_eval(AppContext& app, EvalArguments& args) {
  const Config& config = app.config();
  EvalOptions options;
  options.ks = parse_ks(args.ks);
  options.search.min_score = args.min_score;
  apply_rerank_flags(config, args.rerank, options.search);
  options.search.k = options.ks.back();
  check_search_options(options.search, cli_option_names());
  const EvalDataset dataset = read_eval_dataset(args.dataset);

  app.apply_log_level(/*quiet=*/true);
  if (config.store.backend == Config::Store::Backend::sqlite && !fs::exists(catalog_path(config.data_dir))) {
    throw NotFound(kNothingIndexedYet);
  }
  init_image_library("imgsearchd");
  ModelSession session(model_session_options(config, args.model));
  const QueryIndex opened = open_query_index(config.data_dir, catalog_location(config), session);
  QueryEngine engine(catalog_location(config), *opened.index, session);
  const Catalog catalog = Catalog::open_read_only(catalog_location(config));
  const EvalReport report = evaluate(engine, *opened.index, catalog, dataset, options);

  print_table(report);
  if (!args.out.empty()) {
    nlohmann::json json = eval_report_json(report);
    const RerankOptions& rerank = options.search.rerank;
    json["dataset"] = fs::absolute(args.dataset).lexically_normal().string();
    json["model"] = {{"name", session.name()}, {"weights", session.weights().string()},
                     {"fingerprint", session.info().fingerprint}, {"indexed_images", opened.index->size()}};
    json["options"] = {{"k", options.search.k},
                       {"min_score", options.search.min_score},
                       {"collapse", rerank.collapse ? nlohmann::json(*rerank.collapse) : nlohmann::json()},
                       {"diversity", rerank.diversity},
                       {"normalise", score_normalisation_name(rerank.normalise)},
                       {"pool", rerank.active() ? nlohmann::json(std::max(options.search.pool, options.search.k))
                                                : nlohmann::json()}};
    write_json(args.out, json);
  }
}

void run_convert(const ConvertArguments& args) {
  CocoConversion options;
  options.images_dir = args.images;
  options.captions_per_image = args.captions_per_image;
  const nlohmann::json dataset = convert_coco_captions(args.captions, options);
  if (args.out.empty()) {
    std::cout << dataset.dump(1) << "\n";
  } else {
    write_json(args.out, dataset);
    std::fprintf(stderr, "%zu queries written to %s\n", dataset["queries"].size(), args.out.c_str());
  }
}

}  // namespace

void register_eval_command(CLI::App& app, AppContext& context) {
  auto args = std::make_shared<EvalArguments>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "measure retrieval quality on an evaluation set (Recall@K, Precision@K, mAP, MRR)");
  cmd->add_option("dataset", args->dataset,
                  "evaluation set: {\"queries\": [{\"query_id\", \"text\"|\"image\"|\"id\", \"ground_truth\"}]}");
  cmd->add_option("--k", args->ks, "cut-offs, comma-separated")->capture_default_str();
  cmd->add_option("--out", args->out, "also write every figure as JSON to this file");
  cmd->add_option("--min-score", args->min_score, "leave out results scoring below this (cosine similarity)");
  cmd->add_option("-m,--model", args->model, "model name or weights file (default: config model.name)");
  add_rerank_flags(cmd, args->rerank);

  auto convert = std::make_shared<ConvertArguments>();
  CLI::App* convert_cmd =
      cmd->add_subcommand("convert-coco", "turn a COCO caption file into an evaluation set (printed, or --out)");
  convert_cmd->add_option("captions", convert->captions, "captions.json (COCO's layout or one entry per image)")
      ->required();
  convert_cmd->add_option("--images", convert->images, "folder holding the images (default: the caption file's)");
  convert_cmd->add_option("--captions-per-image", convert->captions_per_image, "at most this many (0 = all)");
  convert_cmd->add_option("--out", convert->out, "write the set to this file instead of printing it");
  convert_cmd->callback([convert] { run_convert(*convert); });

  cmd->callback([&context, args, cmd, convert_cmd] {
    if (cmd->got_subcommand(convert_cmd)) return;
    if (args->dataset.empty()) throw InvalidInput("eval needs an evaluation set: imgsearchd eval DATASET.json");
    run_eval(context, *args);
  });
}

}  // namespace imgsearchd
