// Internal to store/postgresql: the backend class. pg_catalog.cpp holds
// opening and the queries, pg_commit.cpp the batch write, pg_schema.cpp the
// schema and its migrations, pg_rows.cpp the bulk copy of `store migrate`.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/core/catalog_backend.h"
#include "store/core/store_error.h"
#include "store/postgresql/pg_connection.h"

namespace imgsearchd {

class PgCatalog final : public CatalogBackend {
 public:
  PgCatalog(const CatalogLocation& location, bool read_only);

  const CatalogLocation& location() const override { return location_; }
  const std::filesystem::path& file() const override { return name_; }
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
  std::optional<TouchedContents> touched_since(uint64_t generation, ModelId model) override;
  std::optional<uint64_t> touched_count_since(uint64_t generation) override;
  uint64_t prune_change_log() override;
  std::unique_ptr<ChangeListener> change_listener() const override;
  void advertise(const std::string& address) override;
  std::optional<std::string> source_address(const std::string& source) override;
  CatalogRows dump() override;
  void load(const CatalogRows& rows) override;

  // For pg_schema.cpp.
  pg::Connection& connection() { return db_; }

 private:
  // Runs `work`, turning libpq's errors into a StoreError naming the
  // database and what was being done. A connection that broke since the
  // last operation is re-established first (never inside a transaction:
  // `work` runs whole or fails whole).
  template <class Work>
  auto guarded(const char* operation, Work&& work) -> decltype(work()) {
    try {
      if (db_.broken()) db_.reset();
      return work();
    } catch (const pg::PgError& e) {
      rollback_quietly();
      throw_store_error(operation, e);
    } catch (...) {
      rollback_quietly();
      throw;
    }
  }
  [[noreturn]] void throw_store_error(const char* operation, const pg::PgError& e) const;
  void rollback_quietly();
  void require_writable(const char* operation) const;
  std::optional<CatalogModel> model_info(ModelId id);
  uint64_t read_generation();
  // A path of another source as paths_of shows it.
  std::string shown_path(const std::string& source, const std::string& path) const;
  FileRecord read_file_record(const pg::Result& result, int row, int first_column);
  // Inside a transaction: whether the change log still holds every commit
  // after `generation`.
  bool change_log_reaches(uint64_t generation);

  CatalogLocation location_;
  std::filesystem::path name_;  // "postgresql:<dsn>", for messages
  bool read_only_;
  pg::Connection db_;
  std::unordered_map<ModelId, CatalogModel> model_cache_;
};

// ---- Row conversions ----
ContentHash pg_parse_hash(const std::string& hex, const std::filesystem::path& name);
StatSignature pg_read_signature(const pg::Result& result, int row, int first_column);
std::vector<pg::Param> signature_params(const StatSignature& signature);
void pg_read_vector(const pg::Result& result, int row, int column, int dim, std::vector<float>& out,
                    const std::filesystem::path& name);
pg::Param vector_param(const std::vector<float>& vector);

namespace pg_schema {
int latest_version();
// Creates or migrates the schema in one transaction, under an advisory lock
// (two services starting at once cannot both create it).
void migrate(pg::Connection& db, const std::filesystem::path& name);
// Throws StoreError unless the schema is at latest_version().
void require_latest(pg::Connection& db, const std::filesystem::path& name);
}  // namespace pg_schema

}  // namespace imgsearchd
