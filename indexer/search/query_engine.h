// The query engine: turns a query (a text, an image, an indexed id, an
// embedding) into a page of hits with their paths. The command line uses it
// directly; the HTTP API uses the same engine inside the service.
//
//   QueryIndex opened = open_query_index(data_dir, session);  // or the service's live index
//   QueryEngine engine(catalog_file, opened.index, session);
//   SearchPage page = engine.by_text("a red bicycle at night", {.k = 20});
//
// Threads: every method may be called from many threads at once. Each
// concurrent query borrows its own read-only catalogue connection (SQLite
// WAL: it sees the last completed commit), the vector index serialises its
// own updates, and the model is safe to share.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "indexer/search/known_paths.h"
#include "indexer/search/query_terms.h"
#include "indexer/search/reranker.h"
#include "store/catalog/catalog.h"
#include "store/core/content_id.h"
#include "indexer/search/text_embedding_cache.h"
#include "store/core/vector_store.h"

namespace imgsearchd {

class ModelSession;

// Limits every front end applies the same way.
constexpr size_t kMaxResultsPerPage = 1000;  // k
constexpr size_t kMaxResultOffset = 100'000;  // offset
constexpr size_t kDefaultRerankPool = 200;    // pool
constexpr size_t kMaxRerankPool = 10'000;     // pool

struct SearchOptions {
  size_t k = 10;            // hits per page, 1 .. kMaxResultsPerPage
  size_t offset = 0;        // hits to skip first (paging), 0 .. kMaxResultOffset
  float min_score = -1.0f;  // leave out hits scoring below this (cosine similarity, -1 .. 1)
  // Collapsing, diversity, score normalisation (indexer/search/reranker.h).
  // When any is on, the nearest max(pool, k) candidates (those at or above
  // min_score, exclusions left out) are reranked and the pages are cut from
  // that one list: page 2 follows page 1 exactly, and the list ends with
  // the pool. With none on, results page on as deep as the index goes.
  RerankOptions rerank;
  size_t pool = kDefaultRerankPool;  // 1 .. kMaxRerankPool
};

// What each front end calls the options in its messages ("-k" on the
// command line, "k" in the API).
struct SearchOptionNames {
  const char* k = "k";
  const char* offset = "offset";
  const char* min_score = "min_score";
  const char* collapse = "collapse";
  const char* diversity = "diversity";
  const char* pool = "pool";
};

// Throws InvalidInput naming the parameter when an option is out of range
// (min_score need only be a number: above 1 simply matches nothing).
void check_search_options(const SearchOptions& options, const SearchOptionNames& names = {});

// A near-duplicate collapsed under a hit.
struct CollapsedHit {
  VectorId id = 0;
  float similarity = 0;            // cosine similarity to the hit it is listed under
  float cosine = 0;                // its own similarity to the query
  std::vector<std::string> paths;  // sorted
};

struct Hit {
  VectorId id = 0;
  float score = 0;                 // the cosine similarity, normalised when asked (SearchOptions::rerank)
  std::vector<std::string> paths;  // every indexed copy, sorted; empty if the last one went meanwhile
  float cosine = 0;                // the raw cosine similarity to the query, always
  std::vector<CollapsedHit> duplicates;  // near-duplicates collapsed under this hit (collapse on)
};

struct SearchPage {
  std::vector<Hit> hits;
  // Where the next page starts, or nothing when this page is the last.
  std::optional<size_t> next_offset;
  // The query image's own id, left out of the hits (image queries).
  std::optional<VectorId> excluded;
  // Every id left out: the query image, or the indexed images used as terms.
  std::vector<VectorId> excluded_ids;
  // Not empty when the catalogue could not be reached (what it said, naming
  // the database): the hits come from the index as always, with the paths
  // they last resolved to (empty for a hit not seen since the service
  // started).
  std::string catalogue_problem;
};

// The vector index a query uses when no service shares its own: the data
// folder's index file for the session's model, rebuilt from the catalogue
// if stale.
struct QueryIndex {
  ModelId model = 0;
  std::unique_ptr<VectorStore> index;
};

// Throws NotFound (nothing indexed yet) when the data folder has no
// catalogue: the check that costs nothing, made before a model is loaded.
void require_catalog(const std::filesystem::path& data_dir);

// Opens the catalogue read-only and the index of `session`'s model. Throws
// NotFound when nothing is indexed yet, or nothing with this model: the
// message names this model's weights file and fingerprint, the models the
// catalogue has with theirs (one name with other weights is another model),
// and what to run.
QueryIndex open_query_index(const std::filesystem::path& data_dir, ModelSession& session);
// The same with the catalogue at `catalog` (store.backend), the index file in data_dir.
QueryIndex open_query_index(const std::filesystem::path& data_dir, const CatalogLocation& catalog,
                            ModelSession& session);

class QueryEngine {
 public:
  // `catalog_file`: the catalogue readers are opened on. `index` and
  // `session` must outlive the engine.
  QueryEngine(CatalogLocation catalog_file, const VectorStore& index, ModelSession& session);
  ~QueryEngine();
  QueryEngine(const QueryEngine&) = delete;
  QueryEngine& operator=(const QueryEngine&) = delete;

  ModelId model() const;
  // The vector index it searches (for the near-duplicate finder).
  const VectorStore& index() const { return index_; }

  // Text -> images.
  SearchPage by_text(const std::string& text, const SearchOptions& options);
  // A query vector of the model's dimension (normalised here); `exclude` is left out.
  SearchPage by_embedding(const std::vector<float>& embedding, const SearchOptions& options,
                          std::optional<VectorId> exclude = std::nullopt);
  // Images like an indexed image, itself left out. Throws NotFound for an unknown id.
  SearchPage by_id(VectorId id, const SearchOptions& options);
  // Images like an image given as bytes (an upload). Known content uses its
  // stored embedding and is left out of the results; new content is
  // embedded now. Throws InvalidInput naming `name` when the bytes are not
  // an image.
  SearchPage by_image_bytes(const void* data, size_t size, const std::string& name, const SearchOptions& options);
  // Images like a file: an indexed path, or any image file. Left out like by_image_bytes.
  SearchPage by_image_file(const std::filesystem::path& file, const SearchOptions& options);
  // Weighted terms combined in embedding space (indexer/search/query_terms.h).
  // Indexed images used as terms (ids, or files and uploads whose content is
  // indexed) are left out of the results unless `exclude_term_images` is
  // false. Throws InvalidInput for bad terms or terms that cancel out,
  // NotFound for an unknown id or a missing file.
  SearchPage by_terms(const std::vector<QueryTerm>& terms, const SearchOptions& options,
                      bool exclude_term_images = true);
  // The normalised query vector of `terms`, with the indexed images among them.
  struct CombinedQuery {
    std::vector<float> vector;
    std::vector<VectorId> indexed_images;
  };
  CombinedQuery combine_terms(const std::vector<QueryTerm>& terms);

  // The normalised embedding of a text (for callers that combine vectors),
  // from the LRU cache of recent texts when it is there.
  std::vector<float> text_embedding(const std::string& text);
  // How often text_embedding was answered from the cache.
  TextEmbeddingCache::Stats text_cache_stats() const { return text_cache_.stats(); }

  // Paths of an indexed image (sorted), empty when unknown.
  std::vector<std::string> paths_of(VectorId id);
  // Empty when the catalogue answers; else what it said (naming the
  // database, never a password). One cheap query.
  std::string catalogue_problem();

 private:
  class ReaderPool;
  SearchPage page_of(const std::vector<float>& query, const SearchOptions& options,
                     const std::vector<VectorId>& exclude);
  SearchPage reranked_page_of(const std::vector<float>& query, const SearchOptions& options,
                              const std::vector<VectorId>& exclude);
  // The paths of each of `ids`, from the catalogue; when it cannot be
  // reached, the last known ones, and `problem` says why.
  std::vector<std::vector<std::string>> resolve_paths(const std::vector<VectorId>& ids, std::string& problem);
  std::vector<float> image_embedding(VectorId id, const void* data, size_t size, const std::string& name);
  // The content id and embedding of an image file: an indexed path, or any image file.
  std::pair<VectorId, std::vector<float>> file_embedding(const std::filesystem::path& file);

  const VectorStore& index_;
  ModelSession& session_;
  std::unique_ptr<ReaderPool> readers_;
  KnownPaths known_paths_;
  TextEmbeddingCache text_cache_;
  // Image-tower calls from concurrent searches run one at a time: each uses
  // every model thread already, and several at once on the same cores
  // interfered (4 concurrent uploads: 1.2 q/s against 16.2 for one client).
  std::mutex image_model_mutex_;
};

// True for text that reads as an image id (decimal digits, at most 19).
bool looks_like_image_id(const std::string& text);

}  // namespace imgsearchd
