// What a data folder holds, as `imgsearchd status` prints it and the HTTP API
// will serialise it: the catalogue's generation and counts, each model with
// the state of its vector index, and the files that failed with their
// reasons. Reads the catalogue read-only and loads no model, so it is quick
// and works while an indexer writes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "store/catalog/catalog.h"

namespace imgsearchd {

// The vector index of one model: loaded as it is, or what a query or the next
// `index` run will rebuild from the catalogue.
struct IndexStatus {
  std::filesystem::path file;
  uint64_t vectors = 0;
  uint64_t generation = 0;
  bool current = false;      // the file is up to date with the catalogue
  std::string stale_reason;  // why it would be rebuilt ("missing", "stale: ..."); empty when current
};

struct ModelStatus {
  CatalogModel model;       // id, name, fingerprint, dimension
  uint64_t embeddings = 0;  // orphaned contents included
  uint64_t live = 0;        // searchable: what the vector index holds
  IndexStatus index;
};

// What the catalogue holds; only read when it exists.
struct CatalogStatus {
  uint64_t generation = 0;
  CatalogCounts counts;
  std::vector<ModelStatus> models;
  std::vector<FailedFile> failed_files;  // retried when they change
};

struct StoreStatus {
  std::filesystem::path data_dir;
  std::filesystem::path catalog_file;
  std::optional<CatalogStatus> catalog;  // empty: no catalogue yet, or it cannot be reached
  // Not empty when a PostgreSQL catalogue cannot be reached: what it said
  // (naming the database, never a password).
  std::string catalog_problem;

  // True when at least one file is indexed.
  bool indexed() const { return catalog && catalog->counts.files_ok > 0; }
};

// Throws StoreError when the catalogue exists but cannot be read.
StoreStatus read_store_status(const std::filesystem::path& data_dir);
// The same with the catalogue at `catalog` (store.backend: postgresql keeps
// it in a database; catalog_file then names it as "postgresql:<dsn>"). A
// PostgreSQL catalogue that cannot be reached is catalog_problem, not an
// exception: the running service's own status is still worth showing.
StoreStatus read_store_status(const std::filesystem::path& data_dir, const CatalogLocation& catalog);

}  // namespace imgsearchd
