// The catalogue: the source of truth for what is indexed. Everything else
// (the FAISS index) is derived from it. Two backends (store/core/
// catalog_backend.h): an SQLite database (WAL mode) in the data folder, the
// default, and a PostgreSQL database that several services share
// (store/postgresql/; README "Several machines").
//
//   files       path -> stat signature, state (ok | failed), content or error
//   contents    vector id (derived from the content hash) -> hash, size
//   embeddings  (model, vector id) -> L2-normalised float32 vector
//   models      (name, fingerprint) -> model id, dimension
//
// Paths are aliases of a content; a content is "live" for a model when at
// least one ok file points at it and it has an embedding for that model.
// Live contents are exactly what the vector index of that model holds.
// A content that loses its last path leaves the index but keeps its rows
// (contents, embeddings) as a cache: if it comes back it costs no model time.
//
// Threads: a Catalog is one database connection; use each object from one
// thread at a time. The process has one writer (Catalog::open), which alone
// commits; any number of readers (Catalog::open_read_only), one per thread,
// query concurrently with it and see the last completed commit (WAL).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/core/catalog_types.h"
#include "store/core/change_listener.h"
#include "store/core/content_id.h"
#include "store/core/store_error.h"
#include "store/core/vector_store.h"

namespace imgsearchd {

class CatalogBackend;

// How Catalog::apply_commit or catch_up brought a vector store to the
// catalogue's generation.
enum class StoreUpdate {
  current,        // it was current already
  applied,        // the commit, or the change log since its generation
  rebuilt,        // reloaded from every live vector (see Catalog::rebuild_reason)
  no_change_log,  // catch_up only: there is nothing to follow (SQLite)
};

class Catalog {
 public:
  // The newest schema version this build writes and understands (SQLite).
  static int latest_schema_version();

  // The writer. SQLite: creates the database (and its parent folder) if
  // missing, sets WAL mode and migrates an older schema; throws StoreError
  // naming the file if it is not an SQLite database, is corrupt, or was
  // written by a newer imgsearchd. PostgreSQL: connects, creates or
  // migrates the schema; throws StoreError naming the database if it cannot
  // be reached, InvalidInput if the dsn holds a password.
  static Catalog open(const CatalogLocation& location);
  // A reader on its own connection. The database must exist at the latest
  // schema version (open it with open() first). Writes throw StoreError.
  static Catalog open_read_only(const CatalogLocation& location);
  // Another reader of this catalogue, on its own connection (for a worker
  // thread). Same conditions as open_read_only. Safe to call from any thread
  // while this object is in use on another: it reads only the location.
  Catalog open_reader() const;

  Catalog(Catalog&&) noexcept;
  Catalog& operator=(Catalog&&) noexcept;
  ~Catalog();

  const CatalogLocation& location() const;
  // The SQLite file, or "postgresql:<dsn>": what error messages name.
  const std::filesystem::path& file() const;
  bool read_only() const;
  // Random, made when the database is created: tells index files of another
  // catalogue apart.
  std::string catalog_id() const;
  // Bumped by every commit (of any service sharing the database). The
  // vector index file records the generation it reflects; a different one
  // means the file is stale.
  uint64_t generation() const;

  // ---- Models ----
  // The id of the model (name, fingerprint), created if new. Throws
  // InvalidInput if it is known with another dimension.
  ModelId model(const std::string& name, const std::string& fingerprint, int dim);
  std::optional<CatalogModel> find_model(ModelId id) const;
  std::vector<CatalogModel> models() const;

  // ---- What the pipeline reads before it works ----
  // These see only this service's own files (its source, see
  // CatalogLocation): they are what its scans reconcile.
  //
  // Every known file under `root` (a folder; empty means all), with
  // has_embedding computed for `model`. One query.
  std::unordered_map<std::string, KnownFile> known_files(ModelId model, const std::string& root = {}) const;
  // The paths under `root` (empty means all), sorted.
  std::vector<std::string> paths_under(const std::string& root) const;
  // One path's entry, as known_files would give it.
  std::optional<KnownFile> known_file(ModelId model, const std::string& path) const;
  // A file the catalogue holds with exactly this stat signature (device,
  // inode, size, mtime): the old path of a file renamed or moved, whose
  // content a new path can take without reading the file. An ok file is
  // preferred to a failed one, then the first path. Uses an index on
  // (device, inode).
  std::optional<FileRecord> file_with_signature(const StatSignature& signature) const;
  // The content with this hash, if known (from any source), and whether it
  // has an embedding for `model`.
  std::optional<ContentStatus> find_content(const ContentHash& hash, ModelId model) const;

  // ---- The one write: a batch in one transaction ----
  // All or nothing: on any exception nothing of the batch is recorded.
  // Caller errors (unknown model, wrong embedding length, non-finite or
  // zero embedding, a path twice) throw InvalidInput before
  // anything is written. The batch's paths are this service's.
  CommitResult commit(const Batch& batch);

  // Removes contents no file points at, with their embeddings (the cache of
  // gone images). Returns how many. Changes nothing live.
  uint64_t purge_orphaned_contents();

  // ---- Queries ----
  // Ok files with this content, sorted: this service's paths as they are,
  // another service's as "<source>:<path>" (PostgreSQL only).
  std::vector<std::string> paths_of(VectorId id) const;
  std::optional<VectorId> vector_id_of(const std::string& path) const;  // this service's path
  std::optional<FileRecord> file(const std::string& path) const;        // this service's path
  std::optional<std::vector<float>> embedding(VectorId id, ModelId model) const;
  // Calls `visit` for every live (id, vector) of `model`, in id order, in one
  // read transaction, and returns the generation of that snapshot. Live: an
  // ok file of any service points at the content.
  uint64_t for_each_live_embedding(ModelId model,
                                   const std::function<void(VectorId, const std::vector<float>&)>& visit) const;
  uint64_t live_count(ModelId model) const;
  // Files of every service; contents and embeddings are shared by all.
  CatalogCounts counts() const;
  std::vector<FailedFile> failed_files() const;  // this service's, sorted by path

  // ---- Keeping a vector store current ----
  // Applies `commit` (this catalogue's last commit) to `store`. When other
  // services committed since the store's generation (a shared PostgreSQL
  // catalogue), it brings the store to the commit's generation as catch_up
  // does instead. Throws InvalidInput, changing nothing, when the store
  // cannot be brought up to date (SQLite: a commit was missed; it must be
  // opened again).
  StoreUpdate apply_commit(VectorStore& store, const VectorChanges& commit) const;
  // Brings `store` to the catalogue's generation (other services' commits):
  // from the change log, or by reloading every live vector when
  // rebuild_reason says so. no_change_log without one (SQLite: there are no
  // other writers).
  StoreUpdate catch_up(VectorStore& store) const;
  // Why a vector store of `model` at `generation` holding `size` vectors
  // is better rebuilt than caught up from the change log; empty when the
  // change log is the way. The rule: rebuild when the log no longer reaches
  // back to `generation` (pruned past it, or there is none), or when it
  // names more contents than half of `size` and half of the catalogue's
  // live vectors (a catch-up reads each named content's vector, about twice
  // as slowly per vector as a rebuild reads every live one: README
  // "Several machines").
  std::string rebuild_reason(uint64_t generation, uint64_t size, ModelId model) const;
  // Whether catch_up can work: PostgreSQL keeps a change log, SQLite has
  // one writer and needs none.
  bool has_change_log() const;
  // Deletes the change log entries no replica would use, and returns how
  // many (PostgreSQL: the newest entries are kept, as many as half the live
  // contents; commits do this every 64 generations). SQLite has no log.
  uint64_t prune_change_log();
  // Announcements of every commit of every service sharing the catalogue
  // (store/core/change_listener.h), on a connection of the listener's own.
  // Safe to call from any thread, like open_reader.
  std::unique_ptr<ChangeListener> change_listener() const;

  // ---- Where the other services are (README "Several machines") ----
  // Files and thumbnails are served by the service that holds the path; the
  // others point to it. advertise records where this service's API can be
  // reached by the others (store.postgresql.advertise_url; empty: nowhere,
  // the others name it alone) and when it started; the writer calls it at
  // start. SQLite has one source: nothing is recorded.
  void advertise(const std::string& address);
  // The address `source` advertised (e.g. "http://nas.lan:7860"), or
  // nullopt when it gave none or is unknown (always, on SQLite).
  std::optional<std::string> source_address(const std::string& source) const;

  // ---- store migrate: a bulk copy, nothing re-embedded ----
  // Everything this service sees: its files, every content and embedding.
  CatalogRows dump() const;
  // Copies `rows` into this catalogue in one transaction. It must be empty
  // (no models, contents or files): InvalidInput otherwise.
  void load(const CatalogRows& rows);

 private:
  explicit Catalog(std::unique_ptr<CatalogBackend> backend);
  std::unique_ptr<CatalogBackend> backend_;
};

}  // namespace imgsearchd
