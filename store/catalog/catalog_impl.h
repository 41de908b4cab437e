// Internal to store/: the catalogue's connection and the row conversions that
// catalog.cpp (open, queries) and catalog_commit.cpp (the batch write) share.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/catalog/catalog.h"

namespace imgsearchd {

struct Catalog::Impl {
  Impl(const std::filesystem::path& file, bool read_only, int open_flags);

  std::filesystem::path file;
  bool read_only;
  SQLite::Database db;
  // Models are never changed once created, so their rows can be cached.
  std::unordered_map<ModelId, CatalogModel> model_cache;

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
  uint64_t generation();
};

// ---- Row conversions ----
ContentHash parse_hash(const std::string& hex, const std::filesystem::path& file);
void bind_signature(SQLite::Statement& statement, int first_index, const StatSignature& signature);
StatSignature read_signature(const SQLite::Statement& statement, int first_column);
// An embedding blob as floats; throws StoreError if its size is not dim floats.
void read_vector(const SQLite::Column& column, int dim, std::vector<float>& out, const std::filesystem::path& file);
void bind_vector(SQLite::Statement& statement, int index, const std::vector<float>& vector);

}  // namespace imgsearchd
