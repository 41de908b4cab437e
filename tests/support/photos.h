// Photo sets for tests: copies of the shared test data's COCO photographs
// (../shared/testdata), and the indexing_models fixture's small random-weight
// CLIP models.
#pragma once

#include <cstddef>
#include <filesystem>
#include <vector>

#include "tests/support/files.h"
#include "tests/support/scratch.h"

namespace imgsearchd::test {

namespace fs = std::filesystem;

inline const fs::path kSharedData = fs::path(IMGSEARCHD_SHARED_DIR) / "testdata";

// The COCO photographs, sorted by name.
std::vector<fs::path> coco_photos();

// Copies COCO photos first .. first+count-1 into `folder` (made if missing)
// as photo-NN.jpg (NN = the photo's number); returns their new paths.
std::vector<fs::path> copy_photos(const fs::path& folder, size_t count, size_t first = 0);

// The weights the indexing_models fixture makes with `seed` (1 or 2): small
// random-weight CLIP models, safetensors.
fs::path indexing_model(int seed);

}  // namespace imgsearchd::test
