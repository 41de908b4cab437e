#include "api/catalog_readers.h"

#include "store/core/errors.h"

namespace imgsearchd::api {

CatalogReaders::Lease CatalogReaders::borrow() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<Catalog> reader = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(reader));
    }
  }
  const std::filesystem::path& file = location_.sqlite_file;
  if (location_.backend == CatalogLocation::Backend::sqlite && (file.empty() || !std::filesystem::exists(file))) {
    throw Unavailable("the catalogue " + file.string() + " does not exist yet");
  }
  return Lease(*this, std::make_unique<Catalog>(Catalog::open_read_only(location_)));
}

void CatalogReaders::give_back(std::unique_ptr<Catalog> reader) {
  if (!reader) return;
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(reader));
}

}  // namespace imgsearchd::api
