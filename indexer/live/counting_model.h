// Internal to the live indexer: a ClipModel that forwards to the real one
// and counts its image calls, so the service can report exactly how much
// model work each change cost (a rename must cost none).
#pragma once

#include <atomic>
#include <cstdint>

#include "indexer/model/clip_model.h"

namespace imgsearchd::live {

class CountingModel final : public ClipModel {
 public:
  explicit CountingModel(ClipModel& model) : model_(model) {}

  const ModelInfo& info() const override { return model_.info(); }
  std::vector<float> encode_images(const float* pixels, size_t n) override {
    calls_.fetch_add(1);
    images_.fetch_add(n);
    return model_.encode_images(pixels, n);
  }
  std::vector<float> encode_texts(const std::vector<std::vector<int32_t>>& tokens) override {
    return model_.encode_texts(tokens);
  }

  uint64_t calls() const { return calls_.load(); }
  uint64_t images() const { return images_.load(); }

 private:
  ClipModel& model_;
  std::atomic<uint64_t> calls_{0};
  std::atomic<uint64_t> images_{0};
};

}  // namespace imgsearchd::live
