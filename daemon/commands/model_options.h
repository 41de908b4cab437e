// Turns the configuration into the options a ModelSession and an indexing
// run are built from, so every command loads the model and indexes the same way.
#pragma once

#include <string>

#include "daemon/config/config.h"
#include "indexer/pipeline/indexing_pipeline.h"
#include "indexer/session/model_session.h"
#include "store/faiss/vector_index.h"

namespace imgsearchd {

// model_override: --model from the command line; empty = config's model.name.
inline ModelSessionOptions model_session_options(const Config& config, const std::string& model_override) {
  ModelSessionOptions options;
  options.model = model_override.empty() ? config.model.name : model_override;
  options.models_dir = config.model.dir;
  options.runtime.device = config.model.device;
  options.runtime.threads = config.model.threads;
  options.runtime.precision = config.model.precision;
  options.vocabulary = config.model.vocabulary;
  options.max_pixels = config.images.max_pixels;
  return options;
}

// What a run indexes and how (the roots are the caller's: they differ per run).
inline IndexingOptions indexing_options(const Config& config) {
  IndexingOptions options;
  options.scan.extensions = config.indexer.extensions;
  options.scan.skip_hidden = config.indexer.skip_hidden;
  options.scan.skip_clutter = config.indexer.skip_clutter;
  options.scan.follow_symlinks = config.indexer.follow_symlinks;
  options.decode_threads = config.indexer.decode_threads;
  options.queue_size = static_cast<size_t>(config.indexer.queue_size);
  options.batch_size = static_cast<size_t>(config.model.batch_size);
  return options;
}

// The vector index the writer (index, serve) builds and keeps: search.index,
// search.nlist, search.nprobe. Readers take the kind of the saved file.
inline IndexOptions vector_index_options(const Config& config) {
  IndexOptions options;
  options.kind = config.search.index == "ivf" ? IndexKind::ivf : IndexKind::flat;
  options.nlist = static_cast<size_t>(config.search.nlist);
  options.nprobe = static_cast<size_t>(config.search.nprobe);
  return options;
}

}  // namespace imgsearchd
