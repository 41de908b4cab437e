// Offline evaluation: runs every query of an evaluation set through the
// query engine, with the same options a search takes (rerank, min_score),
// and measures the results against the ground truth (indexer/eval/metrics.h).
//
//   EvalReport report = evaluate(engine, index, catalog, read_eval_dataset(file), {.ks = {1, 5, 10}});
//   std::cout << eval_report_json(report).dump(1);
//
// Ground truth that is not in the index is reported (per query and in
// total), not silently dropped: the metrics of a query count only the
// ground truth the index holds, and a query with none of it in the index
// is listed as not measured and left out of the overall means.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "indexer/eval/eval_dataset.h"
#include "indexer/eval/metrics.h"
#include "indexer/search/query_engine.h"

namespace imgsearchd {

struct EvalOptions {
  std::vector<size_t> ks = {1, 5, 10, 20};
  SearchOptions search;  // k is max(ks) and offset 0; the rest applies as given
};

struct QueryEvaluation {
  std::string query_id;
  std::string kind;                  // text, image, id
  std::vector<VectorId> relevant;    // the ground truth found in the index, distinct
  std::vector<std::string> missing;  // ground-truth entries not in the index
  std::vector<ScoredResult> retrieved;
  std::string error;                 // why the query could not run (then not measured)
  bool measured = false;             // ran, and some ground truth is in the index
  QueryMetrics metrics;              // when measured
};

struct EvalReport {
  std::vector<size_t> ks;            // sorted, distinct
  std::vector<QueryEvaluation> queries;
  QueryMetrics overall;              // means over the measured queries
  size_t measured = 0;
  size_t missing_ground_truth = 0;   // entries, over all queries
  size_t failed = 0;                 // queries that could not run
};

EvalReport evaluate(QueryEngine& engine, const VectorStore& index, const Catalog& catalog, const EvalDataset& dataset,
                    const EvalOptions& options);

// "1,5,10,20" -> {1, 5, 10, 20}. Throws InvalidInput naming `name`.
std::vector<size_t> parse_ks(const std::string& text, const std::string& name = "--k");

// {"overall": {"recall@K", "precision@K", "map", "mrr"}, "queries": [...],
//  "query_count", "measured_queries", "failed_queries", "missing_ground_truth", "ks"}
nlohmann::json eval_report_json(const EvalReport& report);

}  // namespace imgsearchd
