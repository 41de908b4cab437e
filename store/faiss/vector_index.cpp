#include "store/faiss/vector_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
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

std::unique_ptr<faiss::IndexIDMap2> make_faiss_index(int dim, IndexKind kind) {
  if (kind != IndexKind::flat) throw InvalidInput("unknown vector index kind");
  auto index = std::make_unique<faiss::IndexIDMap2>(new faiss::IndexFlatIP(dim));
  index->own_fields = true;
  return index;
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
  if (header.kind != kind) return "stale: it is another kind of index";
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

}  // namespace

struct VectorIndex::Impl {
  Impl(ModelId model_in, int dim_in, IndexKind kind_in)
      : model(model_in), dim(dim_in), kind(kind_in), index(make_faiss_index(dim_in, kind_in)) {}

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
      if (index->rev_map.count(ids[i])) replaced.push_back(ids[i]);
    }
    remove_locked(replaced);
    if (n > 0) index->add_with_ids(static_cast<FaissId>(n), flat_vectors.data(), ids.data());
  }

  void remove_locked(const std::vector<FaissId>& ids) {
    if (ids.empty()) return;
    faiss::IDSelectorBatch selector(ids.size(), ids.data());
    index->remove_ids(selector);
  }

  ModelId model;
  int dim;
  IndexKind kind;
  uint64_t generation = 0;
  std::string catalog_id;  // of the catalogue it was built from; recorded in the file
  std::filesystem::path file;  // where checkpoint() saves; set once, before the index is shared
  std::unique_ptr<faiss::IndexIDMap2> index;
  mutable WriterPreferringMutex mutex;  // searches shared, updates exclusive
  mutable std::mutex save_mutex;    // one save at a time (they share the temporary file)
};

VectorIndex::VectorIndex(ModelId model, int dim, IndexKind kind) {
  if (dim <= 0) throw InvalidInput("a vector index needs a positive dimension, got " + std::to_string(dim));
  impl_ = std::make_unique<Impl>(model, dim, kind);
}

VectorIndex::VectorIndex(VectorIndex&&) noexcept = default;
VectorIndex& VectorIndex::operator=(VectorIndex&&) noexcept = default;
VectorIndex::~VectorIndex() = default;

ModelId VectorIndex::model() const { return impl_->model; }
int VectorIndex::dim() const { return impl_->dim; }
IndexKind VectorIndex::kind() const { return impl_->kind; }

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

VectorIndex VectorIndex::rebuild(const Catalog& catalog, ModelId model, IndexKind kind) {
  const std::optional<CatalogModel> info = catalog.find_model(model);
  if (!info) throw InvalidInput("cannot build a vector index for unknown model id " + std::to_string(model));
  VectorIndex built(model, info->dim, kind);
  Impl& impl = *built.impl_;
  std::unique_lock lock(impl.mutex);  // nobody else can see it yet; add_locked expects it

  // Added in chunks to bound the extra memory.
  constexpr size_t kChunk = 4096;
  std::vector<FaissId> ids;
  std::vector<float> vectors;
  auto flush = [&] {
    impl.add_locked(ids, vectors);
    ids.clear();
    vectors.clear();
  };
  impl.generation = catalog.for_each_live_embedding(model, [&](VectorId id, const std::vector<float>& vector) {
    ids.push_back(id);
    vectors.insert(vectors.end(), vector.begin(), vector.end());
    if (ids.size() == kChunk) flush();
  });
  flush();
  impl.catalog_id = catalog.catalog_id();
  lock.unlock();
  return built;
}

OpenedIndex VectorIndex::open(const std::filesystem::path& file, const Catalog& catalog, ModelId model,
                              IndexKind kind) {
  const std::optional<CatalogModel> info = catalog.find_model(model);
  if (!info) throw InvalidInput("cannot open a vector index for unknown model id " + std::to_string(model));

  std::string reason;
  std::error_code error;
  if (!std::filesystem::exists(file, error)) {
    reason = "missing";
  } else {
    try {
      const index_file::Header header = index_file::read_header(file);
      reason = staleness(header, catalog, *info, kind);
      const bool behind = catalog.has_change_log() && reason.rfind(kBehind, 0) == 0 &&
                          header.generation < catalog.generation();
      if (reason.empty() || behind) {
        VectorIndex loaded(model, info->dim, kind);
        loaded.impl_->index = index_file::read_index(file, header);
        loaded.impl_->generation = header.generation;
        loaded.impl_->catalog_id = header.catalog_id;
        loaded.impl_->file = file;
        if (behind) {
          // Other services' commits (or ours before a crash): the change
          // log says what they touched. Without one it is rebuilt below.
          if (catalog.catch_up(loaded)) {
            spdlog::info("vector index {}: caught up from catalogue generation {} to {}: {} vectors", file.string(),
                         header.generation, loaded.generation(), loaded.size());
            return OpenedIndex{std::move(loaded), false, {}};
          }
        } else {
          spdlog::info("vector index {}: loaded {} vectors of model {} at catalogue generation {}", file.string(),
                       header.count, model, header.generation);
          return OpenedIndex{std::move(loaded), false, {}};
        }
      }
    } catch (const index_file::Corrupt& e) {
      reason = std::string("corrupt: ") + e.what();
    }
  }

  VectorIndex rebuilt = rebuild(catalog, model, kind);
  rebuilt.impl_->file = file;
  const auto level = reason.rfind("corrupt", 0) == 0 ? spdlog::level::warn : spdlog::level::info;
  spdlog::log(level, "vector index {}: {}; rebuilt from the catalogue: {} vectors of model {} at generation {}",
              file.string(), reason, rebuilt.size(), model, rebuilt.generation());
  if (!catalog.read_only()) {
    try {
      rebuilt.save(file);
    } catch (const StoreError& e) {
      // The index in memory is complete; only the cache file is missing.
      spdlog::error("{}", e.what());
    }
  }
  return OpenedIndex{std::move(rebuilt), true, reason};
}

// ---- Updates ----

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
  return impl_->index->rev_map.count(id) > 0;
}

std::optional<std::vector<float>> VectorIndex::reconstruct(VectorId id) const {
  std::shared_lock lock(impl_->mutex);
  if (!impl_->index->rev_map.count(id)) return std::nullopt;
  std::vector<float> vector(static_cast<size_t>(impl_->dim));
  impl_->index->reconstruct(id, vector.data());
  return vector;
}

std::vector<VectorId> VectorIndex::ids() const {
  std::vector<VectorId> ids;
  {
    std::shared_lock lock(impl_->mutex);
    ids.assign(impl_->index->id_map.begin(), impl_->index->id_map.end());
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
    header.kind = impl_->kind;
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
