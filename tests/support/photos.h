// Helpers shared by the indexing tests: a fresh folder per test, real photos
// copied from the shared test data, and file operations a user would do.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace imgsearchd::test {

namespace fs = std::filesystem;

inline const fs::path kSharedData = fs::path(IMGSEARCHD_SHARED_DIR) / "testdata";

// An empty folder for this test, under the build's test work folder.
inline fs::path fresh_dir(const std::string& area = "indexing") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  std::replace(name.begin(), name.end(), '/', '_');
  const fs::path dir = fs::path(IMGSEARCHD_TEST_WORK_DIR) / area / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The COCO photographs, sorted by name.
inline std::vector<fs::path> coco_photos() {
  std::vector<fs::path> photos;
  for (const auto& entry : fs::directory_iterator(kSharedData / "coco-val")) {
    if (entry.path().extension() == ".jpg") photos.push_back(entry.path());
  }
  std::sort(photos.begin(), photos.end());
  return photos;
}

// Copies the first `count` COCO photos into `folder` (made if missing) as
// photo-00.jpg, photo-01.jpg, ...; returns their new paths.
inline std::vector<fs::path> copy_photos(const fs::path& folder, size_t count, size_t first = 0) {
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

inline std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
}

// Different bytes, same picture: a JPEG decoder ignores what follows the
// end-of-image marker, so the file hashes as new content and still decodes.
inline void append_bytes(const fs::path& file, const std::string& bytes = "modified") {
  std::ofstream out(file, std::ios::binary | std::ios::app);
  out << bytes;
}

}  // namespace imgsearchd::test
