// Internal to the live indexer: a ClipModel that forwards to the real one
// and counts its image calls, so the service can report exactly how much
// model work each change cost (a rename must cost none), and times them
// (the model seconds per batch of the service's metrics).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

#include "indexer/live/live_indexer.h"
#include "indexer/model/clip_model.h"

namespace imgsearchd::live {

class CountingModel final : public ClipModel {
 public:
  explicit CountingModel(ClipModel& model) : model_(model) {}

  const ModelInfo& info() const override { return model_.info(); }
  std::vector<float> encode_images(const float* pixels, size_t n) override {
    const auto start = std::chrono::steady_clock::now();
    std::vector<float> embeddings = model_.encode_images(pixels, n);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      times_.add(seconds);
    }
    calls_.fetch_add(1);
    images_.fetch_add(n);
    return embeddings;
  }
  std::vector<float> encode_texts(const std::vector<std::vector<int32_t>>& tokens) override {
    return model_.encode_texts(tokens);
  }

  uint64_t calls() const { return calls_.load(); }
  uint64_t images() const { return images_.load(); }
  ModelBatchTimes times() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return times_;
  }

 private:
  ClipModel& model_;
  mutable std::mutex mutex_;
  ModelBatchTimes times_;
  std::atomic<uint64_t> calls_{0};
  std::atomic<uint64_t> images_{0};
};

}  // namespace imgsearchd::live
