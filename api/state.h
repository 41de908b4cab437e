// Internal to imgsearchd_api: what every handler shares.
#pragma once

#include <memory>
#include <string>

#include "api/catalog_readers.h"
#include "api/duplicates_job.h"
#include "api/image_files.h"
#include "api/server.h"

namespace imgsearchd::api {

struct ApiState {
  ApiState(ApiOptions options_, ApiContext context_)
      : options(std::move(options_)),
        context(std::move(context_)),
        metrics(context.metrics ? context.metrics : std::make_shared<MetricsRegistry>()),
        readers(context.catalog_file),
        thumbnails(options.thumbnail_dir),
        duplicates(options.testing.before_duplicates_search) {}

  // The query engine, or Unavailable with the service's reason.
  std::shared_ptr<QueryEngine> engine() const;

  const ApiOptions options;
  const ApiContext context;
  const std::shared_ptr<MetricsRegistry> metrics;
  CatalogReaders readers;
  ImageInfoCache image_info;
  Thumbnails thumbnails;
  DuplicatesJob duplicates;
};

}  // namespace imgsearchd::api
