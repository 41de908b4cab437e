#include "indexer/search/query_engine.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <iterator>
#include <tuple>
#include <utility>

#include "indexer/image/image_loader.h"
#include "indexer/scan/content_hash.h"
#include "indexer/session/model_session.h"
#include "store/core/errors.h"
#include "store/data/data_dir.h"
#include "store/faiss/vector_index.h"

namespace imgsearchd {

namespace fs = std::filesystem;

void check_search_options(const SearchOptions& options, const SearchOptionNames& names) {
  if (options.k < 1 || options.k > kMaxResultsPerPage) {
    throw InvalidInput(std::string(names.k) + " must be between 1 and " + std::to_string(kMaxResultsPerPage) +
                       ", got " + std::to_string(options.k));
  }
  if (options.offset > kMaxResultOffset) {
    throw InvalidInput(std::string(names.offset) + " must be at most " + std::to_string(kMaxResultOffset) +
                       ", got " + std::to_string(options.offset));
  }
  if (!std::isfinite(options.min_score)) {
    throw InvalidInput(std::string(names.min_score) + " must be a number");
  }
  if (options.pool < 1 || options.pool > kMaxRerankPool) {
    throw InvalidInput(std::string(names.pool) + " must be between 1 and " + std::to_string(kMaxRerankPool) +
                       ", got " + std::to_string(options.pool));
  }
  check_rerank_options(options.rerank, names.collapse, names.diversity);
}

bool looks_like_image_id(const std::string& text) {
  return !text.empty() && text.size() <= 19 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

namespace {

std::string model_with_fingerprint(const CatalogModel& model) {
  return model.name + " (fingerprint " + model.fingerprint + ")";
}

// Why the catalogue has nothing for the session's model. Models are told
// apart by their fingerprints: a weights file with the name of an indexed
// model but other bytes is another model, and the message says so.
std::string not_indexed_with(const ModelSession& session, const std::vector<CatalogModel>& indexed) {
  std::string others;     // the catalogue's models of other names
  std::string same_name;  // the fingerprints of its models of this name
  for (const CatalogModel& candidate : indexed) {
    if (candidate.name == session.name()) {
      same_name += (same_name.empty() ? "" : ", ") + candidate.fingerprint;
    } else {
      others += (others.empty() ? "" : ", ") + model_with_fingerprint(candidate);
    }
  }
  std::string message = "nothing indexed yet with the model " + session.name() + " from " + session.weights().string() +
                        " (fingerprint " + session.info().fingerprint + ")";
  if (!same_name.empty()) {
    message += ": the catalogue's " + session.name() + " is another weights file of the same name (fingerprint " +
               same_name + "), and other weights make another model";
    if (!others.empty()) message += "; the catalogue also has " + others;
  } else {
    message += "; the catalogue has " + others;
  }
  return message + ". Run imgsearchd index DIR --model " + session.weights().string() +
         " to index with this one, or give --model the weights file the catalogue was indexed with";
}

}  // namespace

void require_catalog(const fs::path& data_dir) {
  if (!fs::exists(catalog_path(data_dir))) throw NotFound(kNothingIndexedYet);
}

QueryIndex open_query_index(const fs::path& data_dir, ModelSession& session) {
  return open_query_index(data_dir, catalog_path(data_dir), session);
}

QueryIndex open_query_index(const fs::path& data_dir, const CatalogLocation& location, ModelSession& session) {
  if (location.backend == CatalogLocation::Backend::sqlite && !fs::exists(location.sqlite_file)) {
    throw NotFound(kNothingIndexedYet);
  }
  const Catalog catalog = Catalog::open_read_only(location);
  if (catalog.counts().files_ok == 0) throw NotFound(kNothingIndexedYet);

  std::optional<ModelId> model;
  const std::vector<CatalogModel> indexed = catalog.models();
  for (const CatalogModel& candidate : indexed) {
    if (candidate.name == session.name() && candidate.fingerprint == session.info().fingerprint) model = candidate.id;
  }
  if (!model) throw NotFound(not_indexed_with(session, indexed));
  OpenedIndex opened = VectorIndex::open(vector_index_path(data_dir, *model), catalog, *model);
  if (opened.index.size() == 0) {
    throw NotFound(std::string(kNothingIndexedYet) + " (with the model " + session.name() + ")");
  }
  return QueryIndex{*model, std::make_unique<VectorIndex>(std::move(opened.index))};
}

// Read-only catalogue connections, one per query in flight: a Catalog is one
// SQLite connection and must be used by one thread at a time.
class QueryEngine::ReaderPool {
 public:
  explicit ReaderPool(CatalogLocation location) : location_(std::move(location)) {}

  class Lease {
   public:
    Lease(ReaderPool& pool, std::unique_ptr<Catalog> reader) : pool_(pool), reader_(std::move(reader)) {}
    ~Lease() { pool_.give_back(std::move(reader_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    const Catalog& operator*() const { return *reader_; }
    const Catalog* operator->() const { return reader_.get(); }

   private:
    ReaderPool& pool_;
    std::unique_ptr<Catalog> reader_;
  };

  Lease borrow() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        std::unique_ptr<Catalog> reader = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(reader));
      }
    }
    return Lease(*this, std::make_unique<Catalog>(Catalog::open_read_only(location_)));
  }

 private:
  void give_back(std::unique_ptr<Catalog> reader) {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(reader));
  }

  const CatalogLocation location_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Catalog>> idle_;
};

QueryEngine::QueryEngine(CatalogLocation catalog_file, const VectorStore& index, ModelSession& session)
    : index_(index), session_(session), readers_(std::make_unique<ReaderPool>(std::move(catalog_file))) {}

QueryEngine::~QueryEngine() = default;

ModelId QueryEngine::model() const { return index_.model(); }

std::vector<float> QueryEngine::text_embedding(const std::string& text) {
  if (std::optional<std::vector<float>> cached = text_cache_.find(model(), text)) return std::move(*cached);
  std::vector<float> embedding = session_.embed_texts({text});
  text_cache_.put(model(), text, embedding);
  return embedding;
}

std::vector<std::string> QueryEngine::paths_of(VectorId id) { return readers_->borrow()->paths_of(id); }

std::string QueryEngine::catalogue_problem() {
  try {
    readers_->borrow()->generation();
    return {};
  } catch (const StoreError& e) {
    return e.what();
  }
}

std::vector<std::vector<std::string>> QueryEngine::resolve_paths(const std::vector<VectorId>& ids,
                                                                 std::string& problem) {
  std::vector<std::vector<std::string>> paths;
  paths.reserve(ids.size());
  try {
    const ReaderPool::Lease reader = readers_->borrow();
    for (VectorId id : ids) {
      paths.push_back(reader->paths_of(id));
      known_paths_.remember(id, paths.back());
    }
    return paths;
  } catch (const StoreError& e) {
    // The index still answers; the paths are the last known ones.
    problem = e.what();
  }
  paths.clear();
  for (VectorId id : ids) paths.push_back(known_paths_.find(id).value_or(std::vector<std::string>{}));
  return paths;
}

namespace {

bool is_excluded(VectorId id, const std::vector<VectorId>& exclude) {
  return std::find(exclude.begin(), exclude.end(), id) != exclude.end();
}

}  // namespace

SearchPage QueryEngine::page_of(const std::vector<float>& query, const SearchOptions& options,
                                const std::vector<VectorId>& exclude) {
  check_search_options(options);
  if (query.size() != static_cast<size_t>(index_.dim())) {
    throw InvalidInput("the query embedding has " + std::to_string(query.size()) + " values; the model's have " +
                       std::to_string(index_.dim()));
  }
  if (options.rerank.active()) return reranked_page_of(query, options, exclude);
  // One more than the page tells whether another page follows.
  const size_t wanted = options.offset + options.k + 1 + exclude.size();
  std::vector<SearchHit> hits = index_.search(query, wanted);
  hits.erase(std::remove_if(hits.begin(), hits.end(), [&](const SearchHit& hit) { return is_excluded(hit.id, exclude); }),
             hits.end());
  // Hits come best first, so those under min_score are all at the end.
  hits.erase(std::remove_if(hits.begin(), hits.end(),
                            [&](const SearchHit& hit) { return hit.score < options.min_score; }),
             hits.end());
  SearchPage page;
  if (!exclude.empty()) page.excluded = exclude.front();
  page.excluded_ids = exclude;
  std::vector<VectorId> shown;
  for (size_t i = options.offset; i < hits.size() && shown.size() < options.k; ++i) shown.push_back(hits[i].id);
  std::vector<std::vector<std::string>> paths = resolve_paths(shown, page.catalogue_problem);
  for (size_t i = 0; i < shown.size(); ++i) {
    const SearchHit& hit = hits[options.offset + i];
    page.hits.push_back(Hit{hit.id, hit.score, std::move(paths[i]), hit.score, {}});
  }
  if (hits.size() > options.offset + options.k) page.next_offset = options.offset + options.k;
  return page;
}

// The pool is the nearest max(pool, k) candidates whatever the offset, so
// every page is cut from the same reranked list.
SearchPage QueryEngine::reranked_page_of(const std::vector<float>& query, const SearchOptions& options,
                                         const std::vector<VectorId>& exclude) {
  const size_t pool_size = std::max(options.pool, options.k);
  std::vector<SearchHit> hits = index_.search(query, pool_size + exclude.size());
  std::vector<Candidate> pool;
  pool.reserve(pool_size);
  for (const SearchHit& hit : hits) {
    if (pool.size() == pool_size || hit.score < options.min_score) break;
    if (is_excluded(hit.id, exclude)) continue;
    std::optional<std::vector<float>> vector = index_.reconstruct(hit.id);
    if (!vector) continue;  // removed since the search
    pool.push_back(Candidate{hit.id, hit.score, std::move(*vector)});
  }
  const std::vector<RankedCandidate> ranked = rerank(pool, options.rerank, options.offset + options.k);

  SearchPage page;
  if (!exclude.empty()) page.excluded = exclude.front();
  page.excluded_ids = exclude;
  // Every id shown (the hits and the duplicates under them), resolved at once.
  const size_t end = std::min(ranked.size(), options.offset + options.k);
  std::vector<VectorId> shown;
  for (size_t i = options.offset; i < end; ++i) {
    shown.push_back(pool[ranked[i].candidate].id);
    for (const CollapsedMember& member : ranked[i].members) shown.push_back(pool[member.candidate].id);
  }
  std::vector<std::vector<std::string>> paths = resolve_paths(shown, page.catalogue_problem);
  size_t next = 0;
  for (size_t i = options.offset; i < end; ++i) {
    const Candidate& chosen = pool[ranked[i].candidate];
    Hit hit{chosen.id, ranked[i].score, std::move(paths[next++]), chosen.cosine, {}};
    for (const CollapsedMember& member : ranked[i].members) {
      const Candidate& duplicate = pool[member.candidate];
      hit.duplicates.push_back(CollapsedHit{duplicate.id, member.similarity, duplicate.cosine, std::move(paths[next++])});
    }
    page.hits.push_back(std::move(hit));
  }
  if (ranked.size() > options.offset + options.k) page.next_offset = options.offset + options.k;
  return page;
}

SearchPage QueryEngine::by_text(const std::string& text, const SearchOptions& options) {
  check_search_options(options);
  return page_of(text_embedding(text), options, {});
}

SearchPage QueryEngine::by_embedding(const std::vector<float>& embedding, const SearchOptions& options,
                                     std::optional<VectorId> exclude) {
  return page_of(embedding, options, exclude ? std::vector<VectorId>{*exclude} : std::vector<VectorId>{});
}

SearchPage QueryEngine::by_id(VectorId id, const SearchOptions& options) {
  check_search_options(options);
  std::optional<std::vector<float>> vector = index_.reconstruct(id);
  if (!vector) throw NotFound("no indexed image has the id " + std::to_string(id));
  return page_of(*vector, options, {id});
}

// The embedding of an image given as bytes whose content id is `id`: the
// stored one for known content, else the model's.
std::vector<float> QueryEngine::image_embedding(VectorId id, const void* data, size_t size, const std::string& name) {
  if (std::optional<std::vector<float>> live = index_.reconstruct(id)) return std::move(*live);
  if (std::optional<std::vector<float>> stored = readers_->borrow()->embedding(id, index_.model()))
    return std::move(*stored);
  ImageLoadResult loaded = load_image_for_clip(data, size, session_.preprocess(), name);
  if (!loaded.ok()) throw InvalidInput("cannot search by this image: " + loaded.error);
  std::lock_guard<std::mutex> lock(image_model_mutex_);
  return session_.model().encode_images(loaded.image->chw.data(), 1);
}

SearchPage QueryEngine::by_image_bytes(const void* data, size_t size, const std::string& name,
                                       const SearchOptions& options) {
  check_search_options(options);
  if (size == 0) throw InvalidInput(name + " is empty: an image is needed");
  const VectorId id = vector_id_for(hash_bytes(data, size));
  return page_of(image_embedding(id, data, size, name), options, {id});
}

std::pair<VectorId, std::vector<float>> QueryEngine::file_embedding(const fs::path& file) {
  const std::string path = fs::absolute(file).lexically_normal().string();
  if (std::optional<VectorId> id = readers_->borrow()->vector_id_of(path)) {
    if (std::optional<std::vector<float>> vector = index_.reconstruct(*id)) return {*id, std::move(*vector)};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NotFound(file.string() + " is neither an indexed id nor a readable image file");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) throw InvalidInput(file.string() + " is empty: an image is needed");
  const VectorId id = vector_id_for(hash_bytes(bytes.data(), bytes.size()));
  return {id, image_embedding(id, bytes.data(), bytes.size(), file.string())};
}

SearchPage QueryEngine::by_image_file(const fs::path& file, const SearchOptions& options) {
  check_search_options(options);
  auto [id, vector] = file_embedding(file);
  return page_of(vector, options, {id});
}

namespace {

// Scales to unit length; false for a zero or non-finite vector.
bool normalise(std::vector<float>& vector) {
  double sum = 0;
  for (float value : vector) sum += static_cast<double>(value) * value;
  if (!std::isfinite(sum) || sum <= 1e-12) return false;
  const double norm = std::sqrt(sum);
  for (float& value : vector) value = static_cast<float>(value / norm);
  return true;
}

}  // namespace

QueryEngine::CombinedQuery QueryEngine::combine_terms(const std::vector<QueryTerm>& terms) {
  check_query_terms(terms);
  CombinedQuery combined;
  combined.vector.assign(static_cast<size_t>(index_.dim()), 0.0f);
  for (size_t i = 0; i < terms.size(); ++i) {
    const QueryTerm& term = terms[i];
    std::vector<float> embedding;
    std::optional<VectorId> image;
    switch (term.kind) {
      case QueryTerm::Kind::text: embedding = text_embedding(term.text); break;
      case QueryTerm::Kind::id: {
        std::optional<std::vector<float>> vector = index_.reconstruct(term.id);
        if (!vector) throw NotFound("no indexed image has the id " + std::to_string(term.id));
        embedding = std::move(*vector);
        image = term.id;
        break;
      }
      case QueryTerm::Kind::image_file: std::tie(image, embedding) = file_embedding(term.file); break;
      case QueryTerm::Kind::image_bytes: {
        const std::string name = term.text.empty() ? "the uploaded image" : term.text;
        if (term.bytes.empty()) throw InvalidInput(name + " is empty: an image is needed");
        image = vector_id_for(hash_bytes(term.bytes.data(), term.bytes.size()));
        embedding = image_embedding(*image, term.bytes.data(), term.bytes.size(), name);
        break;
      }
    }
    IMGSEARCHD_CHECK(embedding.size() == combined.vector.size(), "a term's embedding has the wrong dimension");
    if (!normalise(embedding)) throw InvalidInput("query term " + std::to_string(i + 1) + " has a zero embedding");
    for (size_t j = 0; j < embedding.size(); ++j) combined.vector[j] += term.weight * embedding[j];
    if (image && index_.contains(*image) && !is_excluded(*image, combined.indexed_images)) {
      combined.indexed_images.push_back(*image);
    }
  }
  if (!normalise(combined.vector)) {
    throw InvalidInput("the query terms cancel out: their weighted sum is zero; change a weight or a term");
  }
  return combined;
}

SearchPage QueryEngine::by_terms(const std::vector<QueryTerm>& terms, const SearchOptions& options,
                                 bool exclude_term_images) {
  check_search_options(options);
  CombinedQuery combined = combine_terms(terms);
  return page_of(combined.vector, options, exclude_term_images ? combined.indexed_images : std::vector<VectorId>{});
}

}  // namespace imgsearchd
