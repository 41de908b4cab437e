// Internal to store/catalog: the SQLite catalogue (WAL mode, one file in the
// data folder), one connection per object. catalog_sqlite.cpp holds opening
// and the queries, catalog_sqlite_commit.cpp the batch write,
// catalog_sqlite_rows.cpp the bulk copy of `store migrate`.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/core/catalog_backend.h"
#include "store/core/store_error.h"

namespace imgsearchd {

// The newest SQLite schema version this build writes and understands.
int sqlite_schema_version();

class SqliteCatalog final : public CatalogBackend {
 public:
  // The writer: creates the file (and its folder), sets WAL mode, migrates.
  static std::unique_ptr<CatalogBackend> open(const std::filesystem::path& file);
  // A reader of an existing catalogue at the latest schema version.
  static std::unique_ptr<CatalogBackend> open_read_only(const std::filesystem::path& file);

  SqliteCatalog(const std::filesystem::path& file, bool read_only, int open_flags);

  const CatalogLocation& location() const override { return location_; }
  const std::filesystem::path& file() const override { return file_; }
  bool read_only() const override { return read_only_; }
  std::unique_ptr<CatalogBackend> open_reader() const override;

  std::string catalog_id() override;
  uint64_t generation() override;
  ModelId model(const std::string& name, const std::string& fingerprint, int dim) override;
  std::optional<CatalogModel> find_model(ModelId id) override;
  std::vector<CatalogModel> models() override;
  std::unordered_map<std::string, KnownFile> known_files(ModelId model, const std::string& root) override;
  std::vector<std::string> paths_under(const std::string& root) override;
  std::optional<KnownFile> known_file(ModelId model, const std::string& path) override;
  std::optional<FileRecord> file_with_signature(const StatSignature& signature) override;
  std::optional<ContentStatus> find_content(const ContentHash& hash, ModelId model) override;
  CommitResult commit(const Batch& batch, const CatalogModel& model,
                      const std::vector<std::vector<float>>& embeddings) override;
  uint64_t purge_orphaned_contents() override;
  std::vector<std::string> paths_of(VectorId id) override;
  std::optional<VectorId> vector_id_of(const std::string& path) override;
  std::optional<FileRecord> file(const std::string& path) override;
  std::optional<std::vector<float>> embedding(VectorId id, ModelId model) override;
  uint64_t for_each_live_embedding(ModelId model,
                                   const std::function<void(VectorId, const std::vector<float>&)>& visit) override;
  uint64_t live_count(ModelId model) override;
  CatalogCounts counts() override;
  std::vector<FailedFile> failed_files() override;
  // No change log: one writer, whose own index applies every commit.
  std::optional<TouchedContents> touched_since(uint64_t, ModelId) override { return std::nullopt; }
  std::optional<uint64_t> touched_count_since(uint64_t) override { return std::nullopt; }
  uint64_t prune_change_log() override { return 0; }
  std::unique_ptr<ChangeListener> change_listener() const override;
  // One source: no other service to point to.
  void advertise(const std::string&) override {}
  std::optional<std::string> source_address(const std::string&) override { return std::nullopt; }
  CatalogRows dump() override;
  void load(const CatalogRows& rows) override;

 private:
  // Runs `work`, turning SQLite's exceptions into a StoreError that names
  // the database file and what was being done.
  template <class Work>
  auto guarded(const char* operation, Work&& work) -> decltype(work()) {
    try {
      return work();
    } catch (const SQLite::Exception& e) {
      throw_store_error(operation, e);
    }
  }
  [[noreturn]] void throw_store_error(const char* operation, const SQLite::Exception& e) const;

  // Throws StoreError if this connection was opened read-only.
  void require_writable(const char* operation) const;
  std::optional<CatalogModel> model_info(ModelId id);
  uint64_t read_generation();

  CatalogLocation location_;
  std::filesystem::path file_;
  bool read_only_;
  SQLite::Database db_;
  // Models are never changed once created, so their rows can be cached.
  std::unordered_map<ModelId, CatalogModel> model_cache_;
};

// ---- Row conversions ----
ContentHash parse_hash(const std::string& hex, const std::filesystem::path& file);
void bind_signature(SQLite::Statement& statement, int first_index, const StatSignature& signature);
StatSignature read_signature(const SQLite::Statement& statement, int first_column);
// An embedding blob as floats; throws StoreError if its size is not dim floats.
void read_vector(const SQLite::Column& column, int dim, std::vector<float>& out, const std::filesystem::path& file);
void bind_vector(SQLite::Statement& statement, int index, const std::vector<float>& vector);

}  // namespace imgsearchd
