// What a catalogue backend implements: the storage behind the Catalog facade
// (store/catalog/catalog.h), which checks the caller's input and forwards.
// Two backends: SQLite in the data folder (store/catalog/catalog_sqlite.h)
// and a PostgreSQL database shared by several services (store/postgresql/).
// Each method has the meaning of the Catalog method of the same name; the
// facade has already checked what it documents as InvalidInput.
//
// A backend is one connection: one thread at a time. Its errors are
// StoreError naming file() (the database file, or the PostgreSQL database).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/core/catalog_types.h"
#include "store/core/change_listener.h"

namespace imgsearchd {

class CatalogBackend {
 public:
  virtual ~CatalogBackend() = default;

  virtual const CatalogLocation& location() const = 0;
  // What error messages name: the SQLite file, or "postgresql:<dsn>".
  virtual const std::filesystem::path& file() const = 0;
  virtual bool read_only() const = 0;
  // Another connection to the same catalogue, read-only. Safe to call from
  // any thread: it reads only the location.
  virtual std::unique_ptr<CatalogBackend> open_reader() const = 0;

  virtual std::string catalog_id() = 0;
  virtual uint64_t generation() = 0;

  // `name` is not empty and `dim` is positive.
  virtual ModelId model(const std::string& name, const std::string& fingerprint, int dim) = 0;
  virtual std::optional<CatalogModel> find_model(ModelId id) = 0;
  virtual std::vector<CatalogModel> models() = 0;

  // This source's files only (they are what this service reconciles).
  virtual std::unordered_map<std::string, KnownFile> known_files(ModelId model, const std::string& root) = 0;
  virtual std::vector<std::string> paths_under(const std::string& root) = 0;
  virtual std::optional<KnownFile> known_file(ModelId model, const std::string& path) = 0;
  virtual std::optional<FileRecord> file_with_signature(const StatSignature& signature) = 0;
  virtual std::optional<ContentStatus> find_content(const ContentHash& hash, ModelId model) = 0;

  // `batch` is valid for `model` (kNoModel: CatalogModel{0, "", "", 0}), and
  // `embeddings[i]` is batch.indexed[i]'s embedding normalised (or empty).
  // Paths are this source's. All or nothing.
  virtual CommitResult commit(const Batch& batch, const CatalogModel& model,
                              const std::vector<std::vector<float>>& embeddings) = 0;
  virtual uint64_t purge_orphaned_contents() = 0;

  // Every source's files: a foreign one as "<source>:<path>".
  virtual std::vector<std::string> paths_of(VectorId id) = 0;
  // This source's files.
  virtual std::optional<VectorId> vector_id_of(const std::string& path) = 0;
  virtual std::optional<FileRecord> file(const std::string& path) = 0;
  virtual std::optional<std::vector<float>> embedding(VectorId id, ModelId model) = 0;
  // Live means: an ok file of any source points at the content.
  virtual uint64_t for_each_live_embedding(ModelId model,
                                           const std::function<void(VectorId, const std::vector<float>&)>& visit) = 0;
  virtual uint64_t live_count(ModelId model) = 0;
  // Files of every source; contents, embeddings and live counts are shared.
  virtual CatalogCounts counts() = 0;
  // This source's failed files.
  virtual std::vector<FailedFile> failed_files() = 0;

  // The contents touched by the commits after `generation` (up to now, in
  // one snapshot), for `model`; nullopt where the change log no longer
  // reaches back to `generation` (pruned past it) or there is none (SQLite:
  // one writer, whose index never misses a commit).
  virtual std::optional<TouchedContents> touched_since(uint64_t generation, ModelId model) = 0;
  // How many distinct contents the commits after `generation` touched (one
  // snapshot); nullopt as for touched_since.
  virtual std::optional<uint64_t> touched_count_since(uint64_t generation) = 0;
  // Deletes the change log entries no replica would use (PostgreSQL: see
  // postgres_catalog.h); returns how many. SQLite has none.
  virtual uint64_t prune_change_log() = 0;
  // Announcements of commits, on a connection of the listener's own (made
  // at its first wait). Safe to call from any thread: it reads only the
  // location.
  virtual std::unique_ptr<ChangeListener> change_listener() const = 0;

  // ---- Where each source's service can be reached (PostgreSQL) ----
  // Records this source's API address as others should use it (empty:
  // none) and now as its last start. SQLite: nothing to record (one source).
  virtual void advertise(const std::string& address) = 0;
  // The address `source` advertised; nullopt when it gave none, is unknown,
  // or (SQLite) there is no other source.
  virtual std::optional<std::string> source_address(const std::string& source) = 0;

  // ---- store migrate ----
  // Everything this source sees (its files; every content and embedding).
  virtual CatalogRows dump() = 0;
  // Copies `rows` in one transaction into this catalogue, which must have no
  // files, contents or models yet (throws InvalidInput naming file()
  // otherwise). Files become this source's. Bumps the generation.
  virtual void load(const CatalogRows& rows) = 0;
};

}  // namespace imgsearchd
