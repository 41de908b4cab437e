// The vector store: the vectors of one model's live contents, searched by
// similarity. It is a cache of the catalogue (the source of truth), kept
// current by applying what each catalogue commit changed, and saved now and
// then so a restart need not rebuild it. store/faiss/ holds the embedded
// implementation (FAISS, in process, with its own file); other backends go
// behind the same interface, so nothing outside store/ changes with them.
//
// The writer's loop:
//   for each batch: store.apply(catalog.commit(batch));
//   now and then, and at shutdown: store.checkpoint();
//
// Threads: every method may be called from any thread; an implementation
// lets searches run while it is not applying a commit, and applies a commit
// without starving behind searches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "store/core/content_id.h"

namespace imgsearchd {

// A model as the catalogue numbers it. 0 is no model (see kNoModel in
// store/catalog/catalog.h): files are catalogued and hashed, nothing is embedded.
using ModelId = int64_t;

struct LiveVector {
  VectorId id = 0;
  std::vector<float> vector;  // normalised, as stored
};

// What one catalogue commit changed for the vector store of its model.
struct VectorChanges {
  uint64_t generation = 0;              // the catalogue's generation after the commit
  ModelId model = 0;                    // the commit's model
  std::vector<LiveVector> became_live;  // add these (sorted by id)
  std::vector<VectorId> orphaned;       // remove these: no path points at them any more (sorted)
  // The generation these changes start from. Unset: generation - 1 (one
  // commit). Set: a catch-up over several commits (Catalog::apply_commit,
  // Catalog::catch_up), e.g. those of other services sharing the catalogue.
  std::optional<uint64_t> since;
};

// Visits every live (id, vector) of the store's model in one snapshot of
// the catalogue and returns that snapshot's generation
// (Catalog::for_each_live_embedding).
using LiveVectorReader =
    std::function<uint64_t(const std::function<void(VectorId, const std::vector<float>&)>& visit)>;

struct SearchHit {
  VectorId id = 0;
  float score = 0;  // inner product of normalised vectors: cosine similarity in [-1, 1]
};

class VectorStore {
 public:
  virtual ~VectorStore() = default;

  virtual ModelId model() const = 0;
  virtual int dim() const = 0;
  // The catalogue generation the store reflects.
  virtual uint64_t generation() const = 0;
  virtual size_t size() const = 0;

  // Makes room for `vectors` vectors in all, before a writer adds them (the
  // indexing pipeline knows how many files it is about to embed, at most):
  // the arrays then grow once, instead of doubling as they fill, which at
  // each doubling holds the old array and its copy and leaves up to half of
  // the new one unused. Room that is never filled costs address space only.
  // Never shrinks; changes no result.
  virtual void reserve(size_t vectors) = 0;

  // Applies one commit (removes the orphaned ids, adds those that became
  // live) and takes its generation. Throws InvalidInput, changing
  // nothing, if it is for another model or is not the commit right after
  // generation() (one was missed: the store must be opened again).
  virtual void apply(const VectorChanges& commit) = 0;
  // Replaces everything the store holds with the vectors `read_live`
  // visits, and takes their generation: a rebuild in place, for a store too
  // far behind to catch up (Catalog::catch_up). Searches meanwhile see the
  // old contents.
  virtual void reload(const LiveVectorReader& read_live) = 0;

  // The k nearest vectors to `query` (normalised first), best first. Throws
  // InvalidInput for a query of the wrong dimension, zero or not finite.
  virtual std::vector<SearchHit> search(const std::vector<float>& query, size_t k) const = 0;
  virtual bool contains(VectorId id) const = 0;
  // The stored vector of `id` (for "images like this indexed one").
  virtual std::optional<std::vector<float>> reconstruct(VectorId id) const = 0;
  // Every stored id, sorted.
  virtual std::vector<VectorId> ids() const = 0;
  // Every stored vector scoring at least `min_score` against each of the
  // `queries` (n * dim() values, each normalised first): one list per query,
  // best first (equal scores by id). One batch, so near-duplicate finding
  // pays one matrix product per batch rather than a search per query.
  virtual std::vector<std::vector<SearchHit>> range_search(const std::vector<float>& queries,
                                                           float min_score) const = 0;

  // Makes what was applied so far durable where the store keeps it (the
  // FAISS index saves its file atomically), so a restart loads it instead of
  // rebuilding. Throws StoreError naming what could not be written.
  virtual void checkpoint() = 0;
};

}  // namespace imgsearchd
