// The catalogue's value types, shared by the Catalog facade
// (store/catalog/catalog.h) and its backends (store/core/catalog_backend.h):
// SQLite (store/catalog) and PostgreSQL (store/postgresql). See catalog.h
// for what the catalogue is.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/core/content_id.h"
#include "store/core/vector_store.h"

namespace imgsearchd {

// Where a catalogue lives and who this service is in it.
struct CatalogLocation {
  enum class Backend { sqlite, postgresql };
  Backend backend = Backend::sqlite;
  std::filesystem::path sqlite_file;  // sqlite: the database file
  // postgresql: a libpq connection string (keywords or a URI) without a
  // password; the password comes from password_file or libpq's own
  // PGPASSFILE / ~/.pgpass, read when connecting.
  std::string dsn;
  std::filesystem::path password_file;
  // postgresql: the stable id of this service's files (store.postgresql.source,
  // by default the host name). The files of other sources are shown to this
  // service as "<source>:<path>" and never reconciled by it. SQLite has one
  // source and ignores it.
  std::string source;

  CatalogLocation() = default;
  // An SQLite file (every caller that names a file means SQLite).
  CatalogLocation(std::filesystem::path file) : sqlite_file(std::move(file)) {}  // NOLINT: implicit on purpose
  static CatalogLocation postgresql(std::string dsn, std::string source, std::filesystem::path password_file = {}) {
    CatalogLocation location;
    location.backend = Backend::postgresql;
    location.dsn = std::move(dsn);
    location.source = std::move(source);
    location.password_file = std::move(password_file);
    return location;
  }
};

// A path of another source as the catalogue shows it to this service
// (paths_of, search hits): "<source>:<path>". This service's own paths are
// absolute and shown as they are; a source never holds ':' (checked when the
// catalogue is opened), so the first ':' of a foreign path ends its source.
struct SourcePath {
  std::string source;
  std::string path;  // as that source sees it (absolute)
};
inline std::string foreign_path_text(const std::string& source, const std::string& path) {
  return source + ":" + path;
}
// The parts of a path paths_of gave; nullopt for this service's own paths.
inline std::optional<SourcePath> parse_foreign_path(const std::string& shown) {
  if (shown.empty() || shown.front() == '/') return std::nullopt;
  const size_t colon = shown.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  return SourcePath{shown.substr(0, colon), shown.substr(colon + 1)};
}

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

// What the change log says about the contents some commits touched: those
// live now for the model asked about (with their vectors), and the others.
struct TouchedContents {
  uint64_t generation = 0;  // the catalogue's generation these reflect
  std::vector<LiveVector> live;      // sorted by id
  std::vector<VectorId> not_live;    // sorted
};

// Everything a catalogue holds for one source, for `store migrate` (a
// bulk copy into an empty catalogue, without re-embedding anything).
struct CatalogRows {
  struct Content {
    ContentHash hash;
    uint64_t size = 0;
  };
  struct Embedding {
    ModelId model = 0;
    VectorId id = 0;
    std::vector<float> vector;  // normalised, as stored
  };
  uint64_t generation = 0;
  std::vector<CatalogModel> models;
  std::vector<Content> contents;  // every content, orphaned ones included
  std::vector<Embedding> embeddings;
  std::vector<FileRecord> files;  // this source's files, ok and failed
};

}  // namespace imgsearchd
