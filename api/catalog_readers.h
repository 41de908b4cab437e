// Internal to imgsearchd_api: read-only catalogue connections for image
// metadata, one per request in flight (a Catalog is one SQLite connection,
// used by one thread at a time), kept for reuse.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "store/catalog/catalog.h"

namespace imgsearchd::api {

class CatalogReaders {
 public:
  explicit CatalogReaders(CatalogLocation location) : location_(std::move(location)) {}

  class Lease {
   public:
    Lease(CatalogReaders& pool, std::unique_ptr<Catalog> reader) : pool_(pool), reader_(std::move(reader)) {}
    ~Lease() { pool_.give_back(std::move(reader_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    const Catalog* operator->() const { return reader_.get(); }
    const Catalog& operator*() const { return *reader_; }

   private:
    CatalogReaders& pool_;
    std::unique_ptr<Catalog> reader_;
  };

  // Throws Unavailable when there is no catalogue yet.
  Lease borrow();

 private:
  void give_back(std::unique_ptr<Catalog> reader);

  const CatalogLocation location_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Catalog>> idle_;
};

}  // namespace imgsearchd::api
