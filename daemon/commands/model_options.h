// Turns the configuration into the options a ModelSession is built from, so
// every command loads the model the same way.
#pragma once

#include <string>

#include "daemon/config/config.h"
#include "indexer/session/model_session.h"

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

}  // namespace imgsearchd
