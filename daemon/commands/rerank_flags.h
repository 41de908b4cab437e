// The rerank flags every query command takes (search, similar, eval) and the
// configuration defaults under them (search: in config.yaml), so the CLI,
// like the API, reranks the same way everywhere.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "daemon/config/config.h"
#include "indexer/search/query_engine.h"
#include "store/core/errors.h"

namespace imgsearchd {

struct RerankFlags {
  std::optional<float> collapse;   // --collapse SIM (0 = off)
  std::optional<float> diversity;  // --diversity W
  std::optional<std::string> normalise;
  std::optional<size_t> pool;
};

inline void add_rerank_flags(CLI::App* cmd, RerankFlags& flags) {
  cmd->add_option("--collapse", flags.collapse,
                  "collapse near-duplicates at this cosine similarity, listing them under the result kept "
                  "(e.g. 0.94; 0 = off; default: config search.collapse)");
  cmd->add_option("--diversity", flags.diversity,
                  "maximal-marginal-relevance weight: 0 = pure relevance .. 1 = most diverse "
                  "(default: config search.diversity)");
  cmd->add_option("--normalise", flags.normalise,
                  "score normalisation: none or minmax (the raw cosine is always reported too)");
  cmd->add_option("--pool", flags.pool, "candidates reranked (1 to 10000; default: config search.pool)");
}

// The configuration's defaults, overridden by the flags given.
inline void apply_rerank_flags(const Config& config, const RerankFlags& flags, SearchOptions& options) {
  const float collapse = flags.collapse.value_or(static_cast<float>(config.search.collapse));
  options.rerank.collapse = collapse == 0 ? std::nullopt : std::optional<float>(collapse);
  options.rerank.diversity = flags.diversity.value_or(static_cast<float>(config.search.diversity));
  const std::string normalise = flags.normalise.value_or(config.search.normalise);
  const std::optional<ScoreNormalisation> parsed = score_normalisation_from_name(normalise);
  if (!parsed) throw InvalidInput("--normalise must be none or minmax, got '" + normalise + "'");
  options.rerank.normalise = *parsed;
  options.pool = flags.pool.value_or(static_cast<size_t>(config.search.pool));
}

// The configuration's search defaults (search: in config.yaml) as a whole:
// what `serve` gives the API for options a request leaves out.
inline SearchOptions configured_search_defaults(const Config& config) {
  SearchOptions options;
  options.k = static_cast<size_t>(config.search.k);
  options.min_score = static_cast<float>(config.search.min_score);
  apply_rerank_flags(config, RerankFlags{}, options);
  return options;
}

// The names the flags have in messages.
inline SearchOptionNames cli_option_names() {
  SearchOptionNames names;
  names.k = "-k";
  names.offset = "--offset";
  names.min_score = "--min-score";
  names.collapse = "--collapse";
  names.diversity = "--diversity";
  names.pool = "--pool";
  return names;
}

}  // namespace imgsearchd
