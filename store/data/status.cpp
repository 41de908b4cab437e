#include "store/data/status.h"

#include <utility>

#include "store/data/data_dir.h"
#include "store/faiss/vector_index.h"

namespace imgsearchd {

namespace fs = std::filesystem;

namespace {

uint64_t count_of(const std::map<ModelId, uint64_t>& counts, ModelId model) {
  const auto found = counts.find(model);
  return found == counts.end() ? 0 : found->second;
}

IndexStatus index_status(const fs::path& file, const Catalog& catalog, ModelId model) {
  const OpenedIndex opened = VectorIndex::open(file, catalog, model);
  IndexStatus status;
  status.file = file;
  status.vectors = opened.index.size();
  status.generation = opened.index.generation();
  status.current = !opened.rebuilt;
  status.stale_reason = opened.reason;
  return status;
}

CatalogStatus read_catalog_status(const fs::path& data_dir, const CatalogLocation& location) {
  const Catalog catalog = Catalog::open_read_only(location);
  CatalogStatus held;
  held.generation = catalog.generation();
  held.counts = catalog.counts();
  for (const CatalogModel& model : catalog.models()) {
    ModelStatus entry;
    entry.model = model;
    entry.embeddings = count_of(held.counts.embeddings, model.id);
    entry.live = count_of(held.counts.live, model.id);
    entry.index = index_status(vector_index_path(data_dir, model.id), catalog, model.id);
    held.models.push_back(std::move(entry));
  }
  held.failed_files = catalog.failed_files();
  return held;
}

}  // namespace

StoreStatus read_store_status(const fs::path& data_dir) { return read_store_status(data_dir, catalog_path(data_dir)); }

StoreStatus read_store_status(const fs::path& data_dir, const CatalogLocation& location) {
  StoreStatus status;
  status.data_dir = data_dir;
  const bool sqlite = location.backend == CatalogLocation::Backend::sqlite;
  status.catalog_file = sqlite ? location.sqlite_file : fs::path("postgresql:" + location.dsn);
  if (sqlite && !fs::exists(status.catalog_file)) return status;

  try {
    status.catalog = read_catalog_status(data_dir, location);
  } catch (const StoreError& e) {
    if (sqlite) throw;  // the file itself is unreadable or corrupt: that is the answer
    status.catalog_problem = e.what();
  }
  return status;
}

}  // namespace imgsearchd
