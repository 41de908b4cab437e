// COCO-style caption files as evaluation sets: each caption a text query,
// its image the ground truth. Reads both COCO's own layout
//   {"images": [{"id", "file_name"}], "annotations": [{"image_id", "caption"}]}
// and the per-image layout of ../shared/testdata/coco-val/captions.json
//   {"images": [{"file", "captions": [...]}]}.
#pragma once

#include <cstddef>
#include <filesystem>

#include <nlohmann/json.hpp>

namespace imgsearchd {

struct CocoConversion {
  // Where the images are; empty = the caption file's folder. Ground truth
  // paths are absolute under it.
  std::filesystem::path images_dir;
  size_t captions_per_image = 0;  // 0 = all
};

// The evaluation set (indexer/eval/eval_dataset.h), query ids
// "<file stem>#<n>". Throws NotFound when the file cannot be read and
// InvalidInput naming the file and the entry when it is not a caption file.
nlohmann::json convert_coco_captions(const std::filesystem::path& captions_file, const CocoConversion& options = {});

}  // namespace imgsearchd
