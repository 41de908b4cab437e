// The vector index: a FAISS IndexIDMap2 over a flat inner-product index of
// L2-normalised vectors (so scores are cosine similarities), or with
// IndexKind::ivf an IndexIVFFlat over the same vectors, keyed by the
// stable vector ids of store/content_id.h. It holds exactly the live
// contents of one model and is a cache of the catalogue: its file records
// the catalogue generation it reflects, and a file that is missing, stale
// or corrupt is rebuilt from the catalogue (with a log line saying why).
//
// It implements VectorStore (store/core/vector_store.h); callers outside
// store/ use it through that interface. The pipeline's loop:
//   auto [index, rebuilt, why] = VectorIndex::open(index_file, catalog, model);
//   for each batch: index.apply(catalog.commit(batch));
//   now and then, and at shutdown: index.checkpoint();  // saves to index_file
//
// Threads: every method may be called from any thread. Searches, reconstruct
// and save share a lock and run concurrently; apply, add and remove take it
// exclusively, and a waiting update goes before searches that arrive after
// it (a search waits for at most one batch's update, an update is never
// starved by searches). Call save from the thread that applies commits, so
// no update waits behind a save (searches arriving then would wait too).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/catalog/catalog.h"
#include "store/core/content_id.h"
#include "store/core/vector_store.h"

namespace imgsearchd {

// How vectors are searched (config: search.index).
//
// flat: exact; every query scores every vector (about 1 ms per 10k vectors of
//   dimension 512 on one core).
// ivf: FAISS IndexIVFFlat, approximate: k-means splits the vectors into
//   `nlist` lists and a query scores only the `nprobe` lists nearest to it.
//   Chosen over HNSW because the live service removes vectors as files go:
//   IVF removes them for real (FAISS's HNSW cannot; it would need tombstones
//   filtered at every search and rebuilds as they pile up), it keeps vectors
//   uncompressed (reconstruct stays exact, scores are exact cosines), it
//   answers range searches (near-duplicates then probe nprobe lists instead of
//   scanning everything), and it costs no memory beyond the vectors.
//   IVF must be trained: below the training threshold (39 vectors per list,
//   and at least kIvfMinVectors with the automatic nlist) the index stays
//   flat, and turns into IVF on the commit that crosses the threshold.
enum class IndexKind : uint32_t { flat = 1, ivf = 2 };

const char* index_kind_name(IndexKind kind);

// With the automatic nlist, an ivf index stays flat below this many vectors
// (a flat search over them takes about a millisecond).
inline constexpr size_t kIvfMinVectors = 10'000;

struct IndexOptions {
  IndexKind kind = IndexKind::flat;
  // ivf only. Lists (k-means centroids); 0 = automatic: about sqrt(vectors)
  // at training time, retrained when open() finds the index has grown 4-fold
  // since (the next start of serve or index).
  size_t nlist = 0;
  // ivf only. Lists scanned per query: more finds more of the true nearest
  // neighbours and costs more (about nprobe / nlist of a flat search).
  size_t nprobe = 32;
};

struct OpenedIndex;

class VectorIndex final : public VectorStore {
 public:
  // An empty index of `dim`-dimensional vectors of `model`, at generation 0,
  // with no file (checkpoint() saves nothing until set_file()).
  VectorIndex(ModelId model, int dim, IndexOptions options = {});

  // Loads `file` if it was saved for this catalogue and model at the
  // catalogue's current generation with as many vectors as are live;
  // otherwise rebuilds from the catalogue, logs why (missing, stale,
  // corrupt) and, unless the catalogue was opened read-only, saves it. A
  // file that is merely behind a catalogue with a change log (PostgreSQL)
  // is loaded and caught up from the log instead, unless
  // Catalog::rebuild_reason says a rebuild is the way (far behind, or the
  // log pruned past it).
  // The index remembers `file`: checkpoint() saves there.
  // A catalogue opened read-only (a reader: search, status, duplicates
  // without the service) takes the kind and nprobe the file was saved with,
  // since it may not rewrite the file: `options` then only says what to
  // build when there is no usable file. A writer's ivf file whose automatic
  // lists are too few for the vectors it now holds is retrained.
  // Throws InvalidInput for an unknown model.
  static OpenedIndex open(const std::filesystem::path& file, const Catalog& catalog, ModelId model,
                          IndexOptions options = {});
  // Every live vector of `model`, at the catalogue's generation.
  static VectorIndex rebuild(const Catalog& catalog, ModelId model, IndexOptions options = {});

  VectorIndex(VectorIndex&&) noexcept;
  VectorIndex& operator=(VectorIndex&&) noexcept;
  ~VectorIndex() override;

  ModelId model() const override;
  int dim() const override;
  IndexKind kind() const;
  const IndexOptions& options() const;
  // The lists an ivf index was trained with; 0 while it searches flat (kind
  // flat, or ivf below its training threshold).
  size_t trained_lists() const;
  // ivf: the lists scanned per query from now on (at least 1; capped at the
  // lists there are). Nothing else changes, so a benchmark can sweep it.
  void set_nprobe(size_t nprobe);
  // The catalogue generation this index reflects.
  uint64_t generation() const override;
  size_t size() const override;

  // The file checkpoint() saves to (empty: none).
  const std::filesystem::path& file() const;
  void set_file(const std::filesystem::path& file);

  // Flat: the vectors, their ids and the id lookup get room for `vectors` in
  // all (IndexFlat's codes, IndexIDMap2's id_map and rev_map), and for at
  // least twice what it holds, so that many small reservations cost what
  // growing by doubling does. ivf, trained: the id lookup only (the lists are
  // many small arrays, each growing on its own). Nothing when there is room
  // already.
  void reserve(size_t vectors) override;
  // The vectors the flat arrays have room for without growing (an ivf index
  // once trained: its id lookup's). For tests of reserve().
  size_t capacity() const;

  // Applies what a commit changed (removes the orphaned ids, adds those that
  // became live) and takes its generation. Throws InvalidInput,
  // changing nothing, if the commit is for another model or is not the one
  // right after this index's generation (a commit was missed: the index
  // must be opened again).
  void apply(const VectorChanges& commit) override;

  // Replaces the vectors with those `read_live` visits and takes their
  // generation (Catalog::catch_up, for an index too far behind to catch up
  // from the change log). Searches see the old vectors until it is done.
  void reload(const LiveVectorReader& read_live) override;

  // Low-level updates; they leave the generation as it is. Adding an id
  // already present replaces its vector; removing an absent id does nothing.
  // Vectors must have dim() values; they are normalised.
  void add(const std::vector<LiveVector>& vectors);
  void remove(const std::vector<VectorId>& ids);

  // The k nearest vectors to `query` (normalised first), best first.
  std::vector<SearchHit> search(const std::vector<float>& query, size_t k) const override;
  // Every stored vector scoring at least `min_score` against each of the
  // `queries` (n * dim() values, each normalised first): one list per query,
  // best first (equal scores by id). The queries run as one batch, so a
  // caller with many (near-duplicate finding) pays one matrix product per
  // batch rather than a search per query.
  std::vector<std::vector<SearchHit>> range_search(const std::vector<float>& queries, float min_score) const override;
  bool contains(VectorId id) const override;
  // The stored vector of `id` (for "images like this indexed one").
  std::optional<std::vector<float>> reconstruct(VectorId id) const override;
  std::vector<VectorId> ids() const override;  // sorted

  // Writes the index with its generation, model and catalogue id atomically:
  // a temporary file, fsync, rename over `file`, fsync of the folder. A
  // crash at any moment leaves the old file or the new one. Throws
  // StoreError naming the file.
  void save(const std::filesystem::path& file) const;
  // save(file()) if the index has a file; nothing otherwise (an index made
  // in memory has nowhere to go).
  void checkpoint() override;

 private:
  struct Impl;
  // An index of `read_live`'s vectors, at its generation, with no file;
  // room for `expected_size` vectors is reserved first.
  static VectorIndex build(ModelId model, int dim, const IndexOptions& options, size_t expected_size,
                           const LiveVectorReader& read_live);
  std::unique_ptr<Impl> impl_;
};

struct OpenedIndex {
  VectorIndex index;
  bool rebuilt = false;
  // Why it was rebuilt ("missing", "stale: ...", "corrupt: ..."; a file
  // behind a shared catalogue: "stale: ...; <why not caught up>"); empty
  // when loaded.
  std::string reason;
  // Loaded, then caught up from the change log (a shared catalogue's).
  bool caught_up = false;
};

}  // namespace imgsearchd
