#include "indexer/eval/evaluator.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "indexer/scan/content_hash.h"
#include "store/core/errors.h"

namespace imgsearchd {

namespace fs = std::filesystem;

namespace {

// Ground-truth entries -> indexed ids: an id the index holds, an indexed
// path, or a file whose content the index holds (a copy elsewhere).
class GroundTruthResolver {
 public:
  GroundTruthResolver(const VectorStore& index, const Catalog& catalog) : index_(index), catalog_(catalog) {}

  std::optional<VectorId> resolve(const std::string& entry) {
    const auto known = cache_.find(entry);
    if (known != cache_.end()) return known->second;
    return cache_[entry] = look_up(entry);
  }

 private:
  std::optional<VectorId> look_up(const std::string& entry) const {
    if (looks_like_image_id(entry) && !fs::exists(entry)) {
      const VectorId id = std::stoll(entry);
      return index_.contains(id) ? std::optional<VectorId>(id) : std::nullopt;
    }
    if (std::optional<VectorId> id = catalog_.vector_id_of(entry)) {
      if (index_.contains(*id)) return id;
    }
    const FileHashResult hashed = hash_file(entry);
    if (!hashed.ok()) return std::nullopt;
    const VectorId id = vector_id_for(hashed.file->hash);
    return index_.contains(id) ? std::optional<VectorId>(id) : std::nullopt;
  }

  const VectorStore& index_;
  const Catalog& catalog_;
  std::map<std::string, std::optional<VectorId>> cache_;
};

SearchPage run_query(QueryEngine& engine, const EvalQuery& query, const SearchOptions& options) {
  switch (query.kind) {
    case EvalQuery::Kind::text: return engine.by_text(query.text, options);
    case EvalQuery::Kind::image: return engine.by_image_file(query.image, options);
    case EvalQuery::Kind::id: return engine.by_id(query.id, options);
  }
  return {};
}

nlohmann::json metrics_json(const QueryMetrics& metrics, const std::vector<size_t>& ks, const char* ap_name,
                            const char* rr_name) {
  nlohmann::json json = nlohmann::json::object();
  for (size_t k : ks) json["recall@" + std::to_string(k)] = metrics.recall.at(k);
  for (size_t k : ks) json["precision@" + std::to_string(k)] = metrics.precision.at(k);
  json[ap_name] = metrics.average_precision;
  json[rr_name] = metrics.reciprocal_rank;
  return json;
}

}  // namespace

std::vector<size_t> parse_ks(const std::string& text, const std::string& name) {
  std::set<size_t> ks;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    if (item.empty() || item.size() > 6 || item.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(item) < 1 || std::stoul(item) > kMaxResultsPerPage) {
      throw InvalidInput(name + " must be a comma-separated list of numbers from 1 to " +
                         std::to_string(kMaxResultsPerPage) + ", got '" + text + "'");
    }
    ks.insert(std::stoul(item));
    start = comma + 1;
  }
  return {ks.begin(), ks.end()};
}

EvalReport evaluate(QueryEngine& engine, const VectorStore& index, const Catalog& catalog, const EvalDataset& dataset,
                    const EvalOptions& options) {
  EvalReport report;
  std::set<size_t> distinct(options.ks.begin(), options.ks.end());
  report.ks.assign(distinct.begin(), distinct.end());
  if (report.ks.empty() || report.ks.front() == 0) throw InvalidInput("every K must be at least 1");
  SearchOptions search = options.search;
  search.k = report.ks.back();
  search.offset = 0;
  check_search_options(search);

  GroundTruthResolver resolver(index, catalog);
  std::vector<QueryMetrics> measured;
  for (const EvalQuery& query : dataset.queries) {
    QueryEvaluation evaluation;
    evaluation.query_id = query.query_id;
    evaluation.kind = query.kind_name();
    for (const std::string& entry : query.ground_truth) {
      if (std::optional<VectorId> id = resolver.resolve(entry)) {
        if (std::find(evaluation.relevant.begin(), evaluation.relevant.end(), *id) == evaluation.relevant.end()) {
          evaluation.relevant.push_back(*id);
        }
      } else {
        evaluation.missing.push_back(entry);
      }
    }
    report.missing_ground_truth += evaluation.missing.size();
    try {
      for (const Hit& hit : run_query(engine, query, search).hits) evaluation.retrieved.push_back({hit.id, hit.score});
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::internal) throw;
      evaluation.error = e.what();
      ++report.failed;
    }
    if (evaluation.error.empty() && !evaluation.relevant.empty()) {
      evaluation.measured = true;
      evaluation.metrics = compute_metrics(evaluation.retrieved, evaluation.relevant, report.ks);
      measured.push_back(evaluation.metrics);
    }
    report.queries.push_back(std::move(evaluation));
  }
  report.measured = measured.size();
  report.overall = mean_metrics(measured, report.ks);
  return report;
}

nlohmann::json eval_report_json(const EvalReport& report) {
  nlohmann::json queries = nlohmann::json::array();
  for (const QueryEvaluation& query : report.queries) {
    nlohmann::json entry = {{"query_id", query.query_id},  {"kind", query.kind},
                            {"ground_truth", query.relevant.size()}, {"missing", query.missing},
                            {"measured", query.measured}};
    if (query.measured) entry.update(metrics_json(query.metrics, report.ks, "ap", "rr"));
    if (!query.error.empty()) entry["error"] = query.error;
    nlohmann::json retrieved = nlohmann::json::array();
    for (const ScoredResult& result : query.retrieved) retrieved.push_back({{"id", result.id}, {"score", result.score}});
    entry["retrieved"] = retrieved;
    entry["relevant"] = query.relevant;
    queries.push_back(std::move(entry));
  }
  return {{"overall", metrics_json(report.overall, report.ks, "map", "mrr")},
          {"ks", report.ks},
          {"query_count", report.queries.size()},
          {"measured_queries", report.measured},
          {"failed_queries", report.failed},
          {"missing_ground_truth", report.missing_ground_truth},
          {"queries", queries}};
}

}  // namespace imgsearchd
