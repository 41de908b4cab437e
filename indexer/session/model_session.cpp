#include "indexer/session/model_session.h"

#include <algorithm>

#include "indexer/weights/model_registry.h"

namespace imgsearchd {

ModelSession::ModelSession(const ModelSessionOptions& options) {
  weights_ = resolve_model_path(options.model, models_dir_or_default(options.models_dir));
  const KnownModel* known = find_known_model(options.model);
  name_ = known ? known->name : weights_.stem().string();
  model_ = ClipModel::load(weights_, options.runtime);
  const ModelInfo& info = model_->info();
  // The configuration's vocabulary wins, then the model's manifest, then the shipped one.
  std::filesystem::path vocabulary = options.vocabulary;
  if (vocabulary.empty()) vocabulary = info.vocabulary;
  if (vocabulary.empty()) vocabulary = ClipTokenizer::default_vocabulary_path();
  tokenizer_ = std::make_unique<ClipTokenizer>(vocabulary);

  preprocess_.resolution = info.image_resolution;
  preprocess_.mean = info.mean;
  preprocess_.std = info.std;
  preprocess_.max_pixels = options.max_pixels;
}

std::vector<float> ModelSession::embed_texts(const std::vector<std::string>& texts) {
  std::vector<std::vector<int32_t>> tokens;
  tokens.reserve(texts.size());
  for (const auto& text : texts) tokens.push_back(tokenizer_->tokenize(text, info().context_length));
  return model_->encode_texts(tokens);
}

std::vector<ImageEmbedding> ModelSession::embed_image_files(const std::vector<std::string>& files,
                                                            size_t batch_size) {
  const size_t dim = static_cast<size_t>(info().embed_dim);
  std::vector<ImageEmbedding> results;
  results.reserve(files.size());
  std::vector<float> pixels;
  std::vector<size_t> batch;  // indexes into results waiting for the model
  auto flush = [&] {
    if (batch.empty()) return;
    const std::vector<float> embeddings = model_->encode_images(pixels.data(), batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      results[batch[i]].embedding.assign(embeddings.begin() + i * dim, embeddings.begin() + (i + 1) * dim);
    }
    pixels.clear();
    batch.clear();
  };
  for (const std::string& file : files) {
    ImageLoadResult loaded = load_image_for_clip(file, preprocess_);
    if (!loaded.ok()) {
      results.push_back(ImageEmbedding{file, {}, loaded.error.empty() ? "cannot be read" : loaded.error});
      continue;
    }
    results.push_back(ImageEmbedding{file, {}, {}});
    pixels.insert(pixels.end(), loaded.image->chw.begin(), loaded.image->chw.end());
    batch.push_back(results.size() - 1);
    if (batch.size() >= std::max<size_t>(batch_size, 1)) flush();
  }
  flush();
  return results;
}

}  // namespace imgsearchd
