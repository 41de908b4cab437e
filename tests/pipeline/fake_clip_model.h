// A stand-in ClipModel for the pipeline tests: the embedding of an image is
// derived from its pixels (the mean of each channel over a 2 x 2 grid, plus a
// fingerprint-dependent offset), so different photos get different vectors
// and the same picture always the same one. It counts the images it embeds:
// the tests assert "no model time" with that count.
#pragma once

#include <atomic>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "indexer/model/clip_model.h"
#include "indexer/image/image_loader.h"

namespace imgsearchd::test {

class FakeClipModel : public ClipModel {
 public:
  static constexpr int kResolution = 32;
  static constexpr int kDim = 16;

  explicit FakeClipModel(std::string fingerprint = "fake-1") {
    info_.format = "fake";
    info_.image_resolution = kResolution;
    info_.embed_dim = kDim;
    info_.fingerprint = std::move(fingerprint);
    offset_ = static_cast<float>(info_.fingerprint.size() % 7) * 0.01f +
              (info_.fingerprint.empty() ? 0.f : static_cast<float>(info_.fingerprint.back()) * 0.001f);
  }

  const ModelInfo& info() const override { return info_; }

  std::vector<float> encode_images(const float* pixels, size_t n) override {
    images_ += n;
    ++calls_;
    const size_t side = kResolution, plane = side * side;
    std::vector<float> out(n * kDim, 0.f);
    for (size_t i = 0; i < n; ++i) {
      const float* image = pixels + i * 3 * plane;
      float* vector = out.data() + i * kDim;
      for (size_t c = 0; c < 3; ++c) {
        for (size_t y = 0; y < side; ++y) {
          for (size_t x = 0; x < side; ++x) {
            const size_t cell = (y * 2 / side) * 2 + (x * 2 / side);
            vector[c * 4 + cell] += image[c * plane + y * side + x] / static_cast<float>(plane / 4);
          }
        }
      }
      for (int k = 12; k < kDim; ++k) vector[k] = 1.0f + offset_ * static_cast<float>(k);
      float norm = 0;
      for (int k = 0; k < kDim; ++k) norm += vector[k] * vector[k];
      norm = std::sqrt(norm);
      for (int k = 0; k < kDim; ++k) vector[k] /= norm;
    }
    return out;
  }

  std::vector<float> encode_texts(const std::vector<std::vector<int32_t>>&) override {
    throw std::logic_error("FakeClipModel has no text tower");
  }

  PreprocessOptions preprocess() const {
    PreprocessOptions options;
    options.resolution = kResolution;
    return options;
  }

  size_t images_embedded() const { return images_; }
  size_t calls() const { return calls_; }

 private:
  ModelInfo info_;
  float offset_ = 0;
  std::atomic<size_t> images_{0};
  std::atomic<size_t> calls_{0};
};

}  // namespace imgsearchd::test
