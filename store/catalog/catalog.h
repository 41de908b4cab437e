// The catalogue: an SQLite database (WAL mode) that is the source of truth for
// what is indexed. Everything else (the FAISS index) is derived from it.
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
// Threads: a Catalog is one SQLite connection; use each object from one
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

#include "store/core/content_id.h"
#include "store/core/store_error.h"
#include "store/core/vector_store.h"

namespace imgsearchd {

// Commits and lookups for no model: files are catalogued and hashed (their
// contents recorded), nothing is embedded and no vector store changes. Such
// files are not "settled" for any real model: known_files says
// has_embedding = false, so a later run with a model embeds them.
constexpr ModelId kNoModel = 0;

struct CatalogModel {
  ModelId id = 0;
  std::string name;
  std::string fingerprint;  // identifies the weights (e.g. their SHA-256)
  int dim = 0;
};

enum class FileState { ok, failed };

// What the scan fast path needs to know about a file it finds on disk.
struct KnownFile {
  StatSignature signature;  // as last recorded: unchanged means "do not read"
  FileState state = FileState::ok;
  std::optional<VectorId> vector_id;  // the file's content; set when ok
  bool has_embedding = false;         // that content has an embedding for the model asked about
};

// One file as the catalogue records it (for status pages and the API).
struct FileRecord {
  std::string path;
  StatSignature signature;
  FileState state = FileState::ok;
  std::optional<VectorId> vector_id;  // set when ok
  std::optional<ContentHash> hash;    // set when ok
  std::string error;                  // set when failed
};

// A content the catalogue knows, looked up by hash.
struct ContentStatus {
  VectorId vector_id = 0;
  bool has_embedding = false;  // for the model asked about
};

// ---- One batch of indexing work, committed in one transaction ----

// A file that was read and hashed. `embedding` is the model's output for its
// content, or empty when the content already has an embedding for the
// batch's model (a rename, a copy, a file coming back). A file whose content
// has no embedding for the model is recorded but not live (known_files says
// has_embedding = false, so the pipeline embeds it later).
struct IndexedFile {
  std::string path;
  StatSignature signature;
  ContentHash hash;
  std::vector<float> embedding;  // empty, or exactly the model's dim floats (normalised on commit)
};

// A file that could not be indexed. It is retried only when its signature
// changes (known_files returns it with state failed).
struct FailedFile {
  std::string path;
  StatSignature signature;
  std::string reason;
};

// Each path may appear at most once per batch (in one of the three lists).
struct Batch {
  ModelId model = 0;  // the model the embeddings come from; kNoModel: no embeddings at all
  std::vector<IndexedFile> indexed;
  std::vector<FailedFile> failed;
  std::vector<std::string> deleted;  // unknown paths are ignored
};

// What a commit changed: for the vector store of the batch's model (apply
// it right after the commit: VectorStore::apply takes exactly that), and
// what it refused. For kNoModel, became_live is empty.
struct CommitResult : VectorChanges {
  // Files refused because their content's 63-bit id collides with another
  // content's; they are recorded as failed files with a reason saying so.
  std::vector<FailedFile> refused;
};

struct CatalogCounts {
  uint64_t files_ok = 0;
  uint64_t files_failed = 0;
  uint64_t contents = 0;           // all known contents, orphaned ones included
  uint64_t orphaned_contents = 0;  // contents no file points at (kept as a cache)
  std::map<ModelId, uint64_t> embeddings;  // per model, orphaned contents included
  std::map<ModelId, uint64_t> live;        // per model: what its vector index holds
};

class Catalog {
 public:
  // The newest schema version this build writes and understands.
  static int latest_schema_version();

  // The writer: creates the database (and its parent folder) if missing,
  // sets WAL mode and migrates an older schema. Throws StoreError naming
  // the file if it is not an SQLite database, is corrupt, or was written by
  // a newer imgsearchd.
  static Catalog open(const std::filesystem::path& file);
  // A reader on its own connection. The database must exist at the latest
  // schema version (open it with open() first). Writes throw StoreError.
  static Catalog open_read_only(const std::filesystem::path& file);
  // Another reader of this catalogue, on its own connection (for a worker
  // thread). Same conditions as open_read_only. Safe to call from any thread
  // while this object is in use on another: it reads only the file's name.
  Catalog open_reader() const;

  Catalog(Catalog&&) noexcept;
  Catalog& operator=(Catalog&&) noexcept;
  ~Catalog();

  const std::filesystem::path& file() const;
  bool read_only() const;
  // Random, made when the database is created: tells index files of another
  // catalogue apart.
  std::string catalog_id() const;
  // Bumped by every commit. The vector index file records the generation it
  // reflects; a different one means the file is stale.
  uint64_t generation() const;

  // ---- Models ----
  // The id of the model (name, fingerprint), created if new. Throws
  // InvalidInput if it is known with another dimension.
  ModelId model(const std::string& name, const std::string& fingerprint, int dim);
  std::optional<CatalogModel> find_model(ModelId id) const;
  std::vector<CatalogModel> models() const;

  // ---- What the pipeline reads before it works ----
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
  // The content with this hash, if known, and whether it has an embedding
  // for `model`.
  std::optional<ContentStatus> find_content(const ContentHash& hash, ModelId model) const;

  // ---- The one write: a batch in one transaction ----
  // All or nothing: on any exception nothing of the batch is recorded.
  // Caller errors (unknown model, wrong embedding length, non-finite or
  // zero embedding, a path twice) throw InvalidInput before
  // anything is written.
  CommitResult commit(const Batch& batch);

  // Removes contents no file points at, with their embeddings (the cache of
  // gone images). Returns how many. Changes nothing live.
  uint64_t purge_orphaned_contents();

  // ---- Queries ----
  std::vector<std::string> paths_of(VectorId id) const;  // ok files with this content, sorted
  std::optional<VectorId> vector_id_of(const std::string& path) const;
  std::optional<FileRecord> file(const std::string& path) const;
  std::optional<std::vector<float>> embedding(VectorId id, ModelId model) const;
  // Calls `visit` for every live (id, vector) of `model`, in id order, in one
  // read transaction, and returns the generation of that snapshot.
  uint64_t for_each_live_embedding(ModelId model,
                                   const std::function<void(VectorId, const std::vector<float>&)>& visit) const;
  uint64_t live_count(ModelId model) const;
  CatalogCounts counts() const;
  std::vector<FailedFile> failed_files() const;  // sorted by path

 private:
  struct Impl;
  explicit Catalog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace imgsearchd
