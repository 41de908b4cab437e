#include "indexer/session/model_session.h"

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

}  // namespace imgsearchd
