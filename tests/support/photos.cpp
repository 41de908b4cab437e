#include "tests/support/photos.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace imgsearchd::test {

std::vector<fs::path> coco_photos() {
  std::vector<fs::path> photos;
  for (const auto& entry : fs::directory_iterator(kSharedData / "coco-val")) {
    if (entry.path().extension() == ".jpg") photos.push_back(entry.path());
  }
  std::sort(photos.begin(), photos.end());
  return photos;
}

std::vector<fs::path> copy_photos(const fs::path& folder, size_t count, size_t first) {
  const std::vector<fs::path> photos = coco_photos();
  EXPECT_GE(photos.size(), first + count) << "not enough photos in " << (kSharedData / "coco-val");
  fs::create_directories(folder);
  std::vector<fs::path> copies;
  for (size_t i = first; i < first + count && i < photos.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "photo-%02zu.jpg", i);
    fs::copy_file(photos[i], folder / name, fs::copy_options::overwrite_existing);
    copies.push_back(folder / name);
  }
  return copies;
}

fs::path indexing_model(int seed) {
  return work_dir() / "indexing-models" / ("seed" + std::to_string(seed)) / "small" / "f32" /
         "open_clip_model.safetensors";
}

}  // namespace imgsearchd::test
