// Everything that turns images and text into embeddings, set up together:
// the CLIP model, its tokenizer and the preprocessing its weights call for.
// Commands, the indexer and (later) the HTTP API share one of these.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "indexer/model/clip_model.h"
#include "indexer/image/image_loader.h"
#include "indexer/tokenizer/tokenizer.h"

namespace imgsearchd {

struct ModelSessionOptions {
  std::string model;                  // a known name or a weights file path
  std::filesystem::path models_dir;   // where known names are looked up
  ModelOptions runtime;               // device, threads
  std::filesystem::path vocabulary;   // empty = the shipped vocabulary
  uint64_t max_pixels = kDefaultMaxPixels;
};

// The embedding of one image file, or why it has none.
struct ImageEmbedding {
  std::string file;
  std::vector<float> embedding;  // embed_dim L2-normalised floats; empty when failed
  std::string error;             // why the file could not be read; empty when ok
  bool ok() const { return error.empty(); }
};

class ModelSession {
 public:
  // Throws ModelError / TokenizerError with a message naming what is missing.
  explicit ModelSession(const ModelSessionOptions& options);

  const ModelInfo& info() const { return model_->info(); }
  const std::filesystem::path& weights() const { return weights_; }
  const PreprocessOptions& preprocess() const { return preprocess_; }
  // A short name for the catalogue and logs: the known name or the file stem.
  const std::string& name() const { return name_; }
  ClipModel& model() { return *model_; }

  // One L2-normalised embedding per text.
  std::vector<float> embed_texts(const std::vector<std::string>& texts);

  // One result per file, in the order given: files decoded one by one and
  // embedded in batches of `batch_size`. A file that cannot be read is a
  // result with its reason, not an exception.
  std::vector<ImageEmbedding> embed_image_files(const std::vector<std::string>& files, size_t batch_size);

 private:
  std::filesystem::path weights_;
  std::string name_;
  std::unique_ptr<ClipModel> model_;
  std::unique_ptr<ClipTokenizer> tokenizer_;
  PreprocessOptions preprocess_;
};

}  // namespace imgsearchd
