#include "store/faiss/vector_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/IDSelector.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <system_error>
#include <unordered_set>

#include "store/core/errors.h"
#include "store/core/normalise.h"
#include "store/core/store_error.h"
#include "store/faiss/vector_index_file.h"
#include "store/faiss/writer_preferring_mutex.h"

namespace imgsearchd {
namespace {

using FaissId = faiss::Index::idx_t;

// The flat shape: exact search. An ivf index starts this way too, until it
// holds enough vectors to train.
std::unique_ptr<faiss::Index> make_flat_index(int dim) {
  auto index = std::make_unique<faiss::IndexIDMap2>(new faiss::IndexFlatIP(dim));
  index->own_fields = true;
  return index;
}

void check_options(const IndexOptions& options) {
  if (options.kind != IndexKind::flat && options.kind != IndexKind::ivf) {
    throw InvalidInput("unknown vector index kind " + std::to_string(static_cast<uint32_t>(options.kind)));
  }
  if (options.kind == IndexKind::ivf && options.nprobe == 0) {
    throw InvalidInput("an ivf vector index needs nprobe of at least 1");
  }
}

// FAISS's k-means wants at least this many training vectors per list (it
// warns below).
constexpr size_t kMinVectorsPerList = 39;

// The lists an ivf index of n vectors gets: the configured number, or about
// sqrt(n). FAISS suggests 4 to 16 sqrt(n) for very large sets; sqrt(n) keeps
// training and assignment cheap on a small machine (1M vectors: 1000 lists,
// seconds of k-means) while nprobe = 32 still scans only 3% of the vectors.
size_t lists_for(const IndexOptions& options, size_t n) {
  if (options.nlist > 0) return options.nlist;
  return std::max<size_t>(1, static_cast<size_t>(std::lround(std::sqrt(static_cast<double>(n)))));
}

// Whether an ivf index of n vectors has enough to train its lists.
bool can_train(const IndexOptions& options, size_t n) {
  if (options.nlist == 0 && n < kIvfMinVectors) return false;
  return n >= kMinVectorsPerList * lists_for(options, n);
}

std::string dims_message(size_t found, int dim) {
  return "has " + std::to_string(found) + " values, expected " + std::to_string(dim);
}

// The start of the reason for a file of an older generation. One that only
// misses later commits catches up from the change log of a shared
// PostgreSQL catalogue instead of being rebuilt.
constexpr const char* kBehind = "stale: it reflects catalogue generation ";

// Why a file with this header does not reflect the catalogue's current
// state for `model`; empty when it does.
std::string staleness(const index_file::Header& header, const Catalog& catalog, const CatalogModel& model,
                      IndexKind kind) {
  if (header.catalog_id != catalog.catalog_id()) return "stale: it was saved for another catalogue";
  if (header.model != model.id) {
    return "stale: it holds model " + std::to_string(header.model) + ", not model " + std::to_string(model.id);
  }
  if (header.kind != kind) {
    return std::string("stale: it is an index of kind ") + index_kind_name(header.kind) + ", not " +
           index_kind_name(kind);
  }
  if (header.dim != static_cast<uint32_t>(model.dim)) {
    return "stale: its vectors have dimension " + std::to_string(header.dim) + ", not " + std::to_string(model.dim);
  }
  const uint64_t generation = catalog.generation();
  if (header.generation != generation) {
    return kBehind + std::to_string(header.generation) +
           ", the catalogue is at generation " + std::to_string(generation);
  }
  const uint64_t live = catalog.live_count(model.id);
  if (header.count != live) {
    return "stale: it holds " + std::to_string(header.count) + " vectors, the catalogue has " + std::to_string(live) +
           " live";
  }
  return {};
}

// Why a trained IVF index should be trained again: its lists are not the
// configured number, or (automatic lists) it has grown 4-fold since it was
// trained, so its lists hold 4 times the vectors they were made for. Empty
// when it is fine as it is.
std::string retrain_reason(const faiss::IndexIVFFlat& ivf, const IndexOptions& options) {
  const auto n = static_cast<size_t>(ivf.ntotal);
  if (options.nlist > 0 && ivf.nlist != options.nlist) {
    return "stale: its IVF has " + std::to_string(ivf.nlist) + " lists, not the " + std::to_string(options.nlist) +
           " asked for";
  }
  if (options.nlist == 0 && lists_for(options, n) >= 2 * ivf.nlist) {
    return "stale: its IVF has " + std::to_string(ivf.nlist) + " lists, too few for " + std::to_string(n) +
           " vectors (it has grown 4-fold since it was trained)";
  }
  return {};
}

}  // namespace

// A rebuilt index saved to its file, unless the catalogue is read-only.
static void save_quietly(const VectorIndex& index, const Catalog& catalog) {
  if (catalog.read_only()) return;
  try {
    index.save(index.file());
  } catch (const StoreError& e) {
    // The index in memory is complete; only the cache file is missing.
    spdlog::error("{}", e.what());
  }
}

struct VectorIndex::Impl {
  Impl(ModelId model_in, int dim_in, IndexOptions options_in)
      : model(model_in), dim(dim_in), options(options_in), index(make_flat_index(dim_in)) {
    take(index.get());
  }

  // Points `flat` or `ivf` at the shape `index` has (exactly one is set).
  void take(faiss::Index* shape) {
    flat = dynamic_cast<faiss::IndexIDMap2*>(shape);
    ivf = dynamic_cast<faiss::IndexIVFFlat*>(shape);
    IMGSEARCHD_CHECK(flat || ivf, "a vector index is IndexIDMap2 over a flat index or IndexIVFFlat");
    if (ivf) ivf->nprobe = std::min(options.nprobe, ivf->nlist);
  }

  bool has(FaissId id) const { return flat ? flat->rev_map.count(id) > 0 : ivf->direct_map.hashtable.count(id) > 0; }

  // Callers hold `mutex` exclusively. Checks everything before changing anything.
  void add_locked(const std::vector<FaissId>& ids, std::vector<float>& flat_vectors) {
    const size_t n = ids.size();
    std::unordered_set<FaissId> seen;
    std::vector<FaissId> replaced;
    for (size_t i = 0; i < n; ++i) {
      if (!seen.insert(ids[i]).second) {
        throw InvalidInput("vector id " + std::to_string(ids[i]) + " is added twice in one call");
      }
      if (!normalise_l2(&flat_vectors[i * dim], dim)) {
        throw InvalidInput("the vector of id " + std::to_string(ids[i]) + " is zero or not finite");
      }
      if (has(ids[i])) replaced.push_back(ids[i]);
    }
    remove_locked(replaced);
    if (n > 0) index->add_with_ids(static_cast<FaissId>(n), flat_vectors.data(), ids.data());
  }

  void remove_locked(const std::vector<FaissId>& ids) {
    if (ids.empty()) return;
    if (flat) {
      faiss::IDSelectorBatch selector(ids.size(), ids.data());
      flat->remove_ids(selector);
    } else {
      // The IVF id table removes only through an explicit list of ids; absent ones are skipped.
      faiss::IDSelectorArray selector(ids.size(), ids.data());
      ivf->remove_ids(selector);
    }
  }

  // Callers hold `mutex` exclusively. Nothing when there is room already.
  void reserve_locked(size_t vectors) {
    if (vectors <= capacity_locked()) return;
    // Room for what was asked, and at least twice what is held: the live
    // service reserves a few more for each set of changes, and each of those
    // must not copy every vector (growing by doubling copies each one once).
    vectors = std::max(vectors, 2 * static_cast<size_t>(index->ntotal));
    if (flat) {
      auto* storage = static_cast<faiss::IndexFlat*>(flat->index);
      storage->codes.reserve(vectors * storage->code_size);
      flat->id_map.reserve(vectors);
      flat->rev_map.reserve(vectors);
    } else {
      ivf->direct_map.hashtable.reserve(vectors);
    }
  }

  size_t capacity_locked() const {
    if (flat) {
      const auto* storage = static_cast<const faiss::IndexFlat*>(flat->index);
      return std::min(storage->codes.capacity() / storage->code_size, flat->id_map.capacity());
    }
    const auto& table = ivf->direct_map.hashtable;
    return static_cast<size_t>(static_cast<float>(table.bucket_count()) * table.max_load_factor());
  }

  // An ivf index still flat becomes IVF once it holds enough vectors: k-means
  // over them (FAISS's fixed seed, so the same vectors give the same lists),
  // then every vector moves to its list. Callers hold `mutex` exclusively
  // (or nobody else sees the index yet).
  void train_if_ready_locked() {
    if (options.kind != IndexKind::ivf || !flat) return;
    const auto n = static_cast<size_t>(flat->ntotal);
    if (!can_train(options, n)) return;
    const size_t nlist = lists_for(options, n);
    const auto* storage = static_cast<const faiss::IndexFlat*>(flat->index);
    const float* vectors = storage->get_xb();

    auto trained = std::make_unique<faiss::IndexIVFFlat>(new faiss::IndexFlatIP(dim), static_cast<size_t>(dim), nlist,
                                                         faiss::METRIC_INNER_PRODUCT);
    trained->own_fields = true;
    trained->cp.spherical = true;  // centroids on the unit sphere, like the vectors
    trained->cp.niter = 10;
    // k-means on at most 64 vectors per list (FAISS samples them with its
    // fixed seed): enough for good lists, and training stays seconds at 1M.
    trained->cp.max_points_per_centroid = 64;
    trained->train(static_cast<FaissId>(n), vectors);
    trained->set_direct_map_type(faiss::DirectMap::Hashtable);
    constexpr size_t kChunk = 65536;
    for (size_t start = 0; start < n; start += kChunk) {
      const size_t count = std::min(kChunk, n - start);
      trained->add_with_ids(static_cast<FaissId>(count), vectors + start * static_cast<size_t>(dim),
                            flat->id_map.data() + start);
    }
    spdlog::info("vector index of model {}: trained IVF with {} lists on {} vectors (nprobe {})", model, nlist, n,
                 std::min(options.nprobe, nlist));
    index = std::move(trained);
    take(index.get());
  }

  // For log lines: "flat", "ivf, 316 lists, nprobe 32", "ivf, searched flat until ...".
  std::string describe() const {
    if (ivf) return "ivf, " + std::to_string(ivf->nlist) + " lists, nprobe " + std::to_string(ivf->nprobe);
    if (options.kind == IndexKind::ivf) return "ivf, searched flat until it has enough vectors to train";
    return "flat";
  }

  ModelId model;
  int dim;
  IndexOptions options;
  uint64_t generation = 0;
  std::string catalog_id;  // of the catalogue it was built from; recorded in the file
  std::filesystem::path file;  // where checkpoint() saves; set once, before the index is shared
  std::unique_ptr<faiss::Index> index;
  faiss::IndexIDMap2* flat = nullptr;  // `index` when it searches flat
  faiss::IndexIVFFlat* ivf = nullptr;  // `index` when it is a trained IVF
  mutable WriterPreferringMutex mutex;  // searches shared, updates exclusive
  mutable std::mutex save_mutex;    // one save at a time (they share the temporary file)
};

const char* index_kind_name(IndexKind kind) {
  switch (kind) {
    case IndexKind::flat: return "flat";
    case IndexKind::ivf: return "ivf";
  }
  return "unknown";
}


VectorIndex::VectorIndex(ModelId model, int dim, IndexOptions options) {
  if (dim <= 0) throw InvalidInput("a vector index needs a positive dimension, got " + std::to_string(dim));
  check_options(options);
  impl_ = std::make_unique<Impl>(model, dim, options);
}

VectorIndex::VectorIndex(VectorIndex&&) noexcept = default;
VectorIndex& VectorIndex::operator=(VectorIndex&&) noexcept = default;
VectorIndex::~VectorIndex() = default;

ModelId VectorIndex::model() const { return impl_->model; }
int VectorIndex::dim() const { return impl_->dim; }
IndexKind VectorIndex::kind() const { return impl_->options.kind; }
const IndexOptions& VectorIndex::options() const { return impl_->options; }

size_t VectorIndex::trained_lists() const {
  std::shared_lock lock(impl_->mutex);
  return impl_->ivf ? impl_->ivf->nlist : 0;
}

void VectorIndex::set_nprobe(size_t nprobe) {
  if (nprobe == 0) throw InvalidInput("an ivf vector index needs nprobe of at least 1");
  std::unique_lock lock(impl_->mutex);
  impl_->options.nprobe = nprobe;
  if (impl_->ivf) impl_->ivf->nprobe = std::min(nprobe, impl_->ivf->nlist);
}

const std::filesystem::path& VectorIndex::file() const { return impl_->file; }
void VectorIndex::set_file(const std::filesystem::path& file) { impl_->file = file; }

uint64_t VectorIndex::generation() const {
  std::shared_lock lock(impl_->mutex);
  return impl_->generation;
}

size_t VectorIndex::size() const {
  std::shared_lock lock(impl_->mutex);
  return static_cast<size_t>(impl_->index->ntotal);
}

// ---- Opening ----

VectorIndex VectorIndex::rebuild(const Catalog& catalog, ModelId model, IndexOptions options) {
  const std::optional<CatalogModel> info = catalog.find_model(model);
  if (!info) throw InvalidInput("cannot build a vector index for unknown model id " + std::to_string(model));
  VectorIndex built = build(model, info->dim, options, static_cast<size_t>(catalog.live_count(model)),
                            [&](const auto& visit) { return catalog.for_each_live_embedding(model, visit); });
  built.impl_->catalog_id = catalog.catalog_id();
  return built;
}

VectorIndex VectorIndex::build(ModelId model, int dim, const IndexOptions& options, size_t expected_size,
                               const LiveVectorReader& read_live) {
  VectorIndex built(model, dim, options);
  Impl& impl = *built.impl_;
  std::unique_lock lock(impl.mutex);  // nobody else can see it yet; add_locked expects it
  impl.reserve_locked(expected_size);

  // Added in chunks to bound the extra memory.
  constexpr size_t kChunk = 4096;
  std::vector<FaissId> ids;
  std::vector<float> vectors;
  auto flush = [&] {
    impl.add_locked(ids, vectors);
    ids.clear();
    vectors.clear();
  };
  impl.generation = read_live([&](VectorId id, const std::vector<float>& vector) {
    ids.push_back(id);
    vectors.insert(vectors.end(), vector.begin(), vector.end());
    if (ids.size() == kChunk) flush();
  });
  flush();
  impl.train_if_ready_locked();  // ivf: flat first, then trained on all of it
  lock.unlock();
  return built;
}

void VectorIndex::reload(const LiveVectorReader& read_live) {
  // Built beside the old index, which searches keep using until the swap.
  // Its current size as the first room: the catalogue's count is not known
  // here, and beyond it the arrays grow by doubling.
  VectorIndex fresh = build(impl_->model, impl_->dim, options(), size(), read_live);
  std::unique_lock lock(impl_->mutex);
  impl_->index = std::move(fresh.impl_->index);
  impl_->take(impl_->index.get());
  impl_->generation = fresh.impl_->generation;
}

OpenedIndex VectorIndex::open(const std::filesystem::path& file, const Catalog& catalog, ModelId model,
                              IndexOptions options) {
  check_options(options);
  const std::optional<CatalogModel> info = catalog.find_model(model);
  if (!info) throw InvalidInput("cannot open a vector index for unknown model id " + std::to_string(model));

  std::string reason;
  std::error_code error;
  if (!std::filesystem::exists(file, error)) {
    reason = "missing";
  } else {
    try {
      const index_file::Header header = index_file::read_header(file);
      // A reader cannot rewrite the file: it searches the index the writer saved.
      const bool known_kind = header.kind == IndexKind::flat || header.kind == IndexKind::ivf;
      if (catalog.read_only() && known_kind) options.kind = header.kind;
      reason = staleness(header, catalog, *info, options.kind);
      bool behind = catalog.has_change_log() && reason.rfind(kBehind, 0) == 0 &&
                    header.generation < catalog.generation();
      if (behind) {
        // Caught up from the change log, unless a rebuild is quicker or
        // the log no longer reaches back (Catalog::rebuild_reason).
        const std::string too_far = catalog.rebuild_reason(header.generation, header.count, model);
        if (!too_far.empty()) {
          reason += "; " + too_far;
          behind = false;
        }
      }
      if (reason.empty() || behind) {
        std::unique_ptr<faiss::Index> stored = index_file::read_index(file, header);
        const auto* stored_ivf = dynamic_cast<const faiss::IndexIVFFlat*>(stored.get());
        if (catalog.read_only() && stored_ivf) options.nprobe = stored_ivf->nprobe;
        std::string retrain;
        if (!catalog.read_only() && stored_ivf) retrain = retrain_reason(*stored_ivf, options);
        if (!retrain.empty()) reason = retrain;
        if (retrain.empty()) {
          VectorIndex loaded(model, info->dim, options);
          Impl& impl = *loaded.impl_;
          impl.index = std::move(stored);
          impl.take(impl.index.get());
          impl.train_if_ready_locked();  // an ivf file saved before it had enough vectors
          impl.generation = header.generation;
          impl.catalog_id = header.catalog_id;
          impl.file = file;
          if (!behind) {
            spdlog::info("vector index {}: loaded {} vectors of model {} at catalogue generation {} ({})",
                         file.string(), header.count, model, header.generation, impl.describe());
            return OpenedIndex{std::move(loaded), false, {}};
          }
          // Other services' commits (or ours before a crash): the change
          // log says what they touched. Without one it is rebuilt below.
          const StoreUpdate update = catalog.catch_up(loaded);
          if (update == StoreUpdate::applied) {
            spdlog::info("vector index {}: caught up from catalogue generation {} to {}: {} vectors", file.string(),
                         header.generation, loaded.generation(), loaded.size());
            return OpenedIndex{std::move(loaded), false, {}, true};
          }
          if (update == StoreUpdate::rebuilt) {  // the log was pruned since rebuild_reason looked
            save_quietly(loaded, catalog);
            return OpenedIndex{std::move(loaded), true, reason + "; the change log was pruned meanwhile"};
          }
        }
      }
    } catch (const index_file::Corrupt& e) {
      reason = std::string("corrupt: ") + e.what();
    }
  }

  VectorIndex rebuilt = rebuild(catalog, model, options);
  rebuilt.impl_->file = file;
  const auto level = reason.rfind("corrupt", 0) == 0 ? spdlog::level::warn : spdlog::level::info;
  spdlog::log(level, "vector index {}: {}; rebuilt from the catalogue: {} vectors of model {} at generation {} ({})",
              file.string(), reason, rebuilt.size(), model, rebuilt.generation(), rebuilt.impl_->describe());
  save_quietly(rebuilt, catalog);
  return OpenedIndex{std::move(rebuilt), true, reason};
}

// ---- Updates ----

void VectorIndex::reserve(size_t vectors) {
  std::unique_lock lock(impl_->mutex);
  impl_->reserve_locked(vectors);
}

size_t VectorIndex::capacity() const {
  std::shared_lock lock(impl_->mutex);
  return impl_->capacity_locked();
}

void VectorIndex::apply(const VectorChanges& commit) {
  if (commit.model != impl_->model) {
    throw InvalidInput("a commit for model " + std::to_string(commit.model) +
                                " cannot be applied to the vector index of model " + std::to_string(impl_->model));
  }
  std::vector<FaissId> ids;
  std::vector<float> vectors;
  for (const LiveVector& live : commit.became_live) {
    if (live.vector.size() != static_cast<size_t>(impl_->dim)) {
      throw InvalidInput("the vector of id " + std::to_string(live.id) + " " +
                                  dims_message(live.vector.size(), impl_->dim));
    }
    ids.push_back(live.id);
    vectors.insert(vectors.end(), live.vector.begin(), live.vector.end());
  }
  std::unique_lock lock(impl_->mutex);
  if (commit.since.value_or(commit.generation - 1) != impl_->generation) {
    throw InvalidInput("commit generation " + std::to_string(commit.generation) +
                                " does not follow the vector index's generation " +
                                std::to_string(impl_->generation) +
                                ": a commit was not applied; open the vector index again");
  }
  // Added first: it checks everything before it changes anything, and the
  // two lists never share an id.
  impl_->add_locked(ids, vectors);
  impl_->remove_locked(commit.orphaned);
  impl_->generation = commit.generation;
  // ivf: the commit that brings enough vectors trains it, once (about a
  // second at the threshold; searches wait for it like for any commit).
  impl_->train_if_ready_locked();
}

void VectorIndex::add(const std::vector<LiveVector>& vectors) {
  std::vector<FaissId> ids;
  std::vector<float> flat;
  flat.reserve(vectors.size() * static_cast<size_t>(impl_->dim));
  for (const LiveVector& live : vectors) {
    if (live.vector.size() != static_cast<size_t>(impl_->dim)) {
      throw InvalidInput("the vector of id " + std::to_string(live.id) + " " +
                                  dims_message(live.vector.size(), impl_->dim));
    }
    ids.push_back(live.id);
    flat.insert(flat.end(), live.vector.begin(), live.vector.end());
  }
  std::unique_lock lock(impl_->mutex);
  impl_->add_locked(ids, flat);
  impl_->train_if_ready_locked();
}

void VectorIndex::remove(const std::vector<VectorId>& ids) {
  std::unique_lock lock(impl_->mutex);
  impl_->remove_locked(ids);
}

// ---- Queries ----

std::vector<SearchHit> VectorIndex::search(const std::vector<float>& query, size_t k) const {
  if (query.size() != static_cast<size_t>(impl_->dim)) {
    throw InvalidInput("the query vector " + dims_message(query.size(), impl_->dim));
  }
  std::vector<float> normalised = query;
  if (!normalise_l2(normalised.data(), normalised.size())) {
    throw InvalidInput("the query vector is zero or not finite");
  }
  std::shared_lock lock(impl_->mutex);
  const auto n = static_cast<FaissId>(std::min<size_t>(k, static_cast<size_t>(impl_->index->ntotal)));
  if (n == 0) return {};
  std::vector<float> scores(static_cast<size_t>(n));
  std::vector<FaissId> labels(static_cast<size_t>(n));
  impl_->index->search(1, normalised.data(), n, scores.data(), labels.data());
  std::vector<SearchHit> hits;
  hits.reserve(static_cast<size_t>(n));
  for (FaissId i = 0; i < n; ++i) {
    if (labels[i] >= 0) hits.push_back({labels[i], scores[i]});
  }
  return hits;
}

std::vector<std::vector<SearchHit>> VectorIndex::range_search(const std::vector<float>& queries,
                                                             float min_score) const {
  const auto dim = static_cast<size_t>(impl_->dim);
  if (queries.size() % dim != 0) {
    throw std::invalid_argument("the range search queries have " + std::to_string(queries.size()) +
                                " values, not a multiple of the dimension " + std::to_string(dim));
  }
  if (!std::isfinite(min_score)) throw std::invalid_argument("the range search threshold is not a number");
  const size_t n = queries.size() / dim;
  std::vector<float> normalised = queries;
  for (size_t i = 0; i < n; ++i) {
    if (!normalise_l2(&normalised[i * dim], dim)) {
      throw std::invalid_argument("range search query " + std::to_string(i) + " is zero or not finite");
    }
  }
  std::vector<std::vector<SearchHit>> found(n);
  if (n == 0) return found;
  // FAISS keeps inner products strictly above the radius; "at least" is
  // the float just below.
  const float radius = std::nextafter(min_score, -std::numeric_limits<float>::infinity());
  faiss::RangeSearchResult result(static_cast<FaissId>(n));
  {
    std::shared_lock lock(impl_->mutex);
    if (impl_->index->ntotal == 0) return found;
    impl_->index->range_search(static_cast<FaissId>(n), normalised.data(), radius, &result);
  }
  for (size_t i = 0; i < n; ++i) {
    std::vector<SearchHit>& hits = found[i];
    for (size_t j = result.lims[i]; j < result.lims[i + 1]; ++j) hits.push_back({result.labels[j], result.distances[j]});
    std::sort(hits.begin(), hits.end(), [](const SearchHit& a, const SearchHit& b) {
      return a.score != b.score ? a.score > b.score : a.id < b.id;
    });
  }
  return found;
}

bool VectorIndex::contains(VectorId id) const {
  std::shared_lock lock(impl_->mutex);
  return impl_->has(id);
}

std::optional<std::vector<float>> VectorIndex::reconstruct(VectorId id) const {
  std::shared_lock lock(impl_->mutex);
  if (!impl_->has(id)) return std::nullopt;
  std::vector<float> vector(static_cast<size_t>(impl_->dim));
  impl_->index->reconstruct(id, vector.data());
  return vector;
}

std::vector<VectorId> VectorIndex::ids() const {
  std::vector<VectorId> ids;
  {
    std::shared_lock lock(impl_->mutex);
    if (impl_->flat) {
      ids.assign(impl_->flat->id_map.begin(), impl_->flat->id_map.end());
    } else {
      ids.reserve(impl_->ivf->direct_map.hashtable.size());
      for (const auto& entry : impl_->ivf->direct_map.hashtable) ids.push_back(entry.first);
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// ---- Saving ----

void VectorIndex::checkpoint() {
  if (!impl_->file.empty()) save(impl_->file);
}

void VectorIndex::save(const std::filesystem::path& file) const {
  std::lock_guard save_lock(impl_->save_mutex);
  index_file::AtomicWriter writer(file);
  {
    // Shared: searches go on while the bytes are written; updates wait.
    std::shared_lock lock(impl_->mutex);
    index_file::Header header;
    header.kind = impl_->options.kind;
    header.model = impl_->model;
    header.dim = static_cast<uint32_t>(impl_->dim);
    header.generation = impl_->generation;
    header.count = static_cast<uint64_t>(impl_->index->ntotal);
    header.catalog_id = impl_->catalog_id;
    writer.write(header, *impl_->index);
  }
  writer.commit();  // fsync and rename need no lock
  spdlog::debug("vector index {}: saved at catalogue generation {}", file.string(), generation());
}

}  // namespace imgsearchd
