// Image decoding and CLIP preprocessing with libvips: EXIF orientation, RGB
// from any mode, shrink-on-load, short side to the model's resolution with
// antialiased bicubic, centre crop, CLIP mean/std normalisation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "indexer/image/decode_budget.h"

namespace imgsearchd {

// CLIP's normalisation, per RGB channel (OpenAI's values): the recipe's
// default, and every model's unless its weights or manifest say otherwise.
inline constexpr std::array<float, 3> kClipMean{0.48145466f, 0.4578275f, 0.40821073f};
inline constexpr std::array<float, 3> kClipStd{0.26862954f, 0.26130258f, 0.27577711f};

// Images with more pixels than this (width x height, read from the header
// before decoding) are refused as possible decompression bombs: Pillow's
// default limit, and the default of images.max_pixels.
inline constexpr uint64_t kDefaultMaxPixels = 178'956'970;

struct PreprocessOptions {
  int resolution = 224;  // square side the model takes
  std::array<float, 3> mean = kClipMean;
  std::array<float, 3> std = kClipStd;
  uint64_t max_pixels = kDefaultMaxPixels;  // decompression-bomb guard
};

// An image ready for the model: 3 x resolution x resolution floats, channel
// major (CHW), normalised.
struct PreprocessedImage {
  std::vector<float> chw;
  int source_width = 0;   // after EXIF orientation
  int source_height = 0;
};

// Expected failures (corrupt file, not an image, bomb) are values, not
// exceptions: `error` names the file and says what was wrong.
struct ImageLoadResult {
  std::optional<PreprocessedImage> image;
  std::string error;
  bool ok() const { return image.has_value(); }
};

// Initialises libvips (safe to call more than once; the loaders below call it
// themselves). Call it early from main() with argv[0]. It also sets libvips
// up for a decode pool: no operation cache, one libvips worker per decode
// (unless VIPS_CONCURRENCY is set), and libvips warnings kept for error
// messages instead of printed.
void init_image_library(const char* argv0);

// Decodes and preprocesses one image. Safe to call from many threads at once.
// Reads JPEG, PNG, WebP, GIF (first frame), TIFF (first page), HEIF/AVIF,
// JPEG XL and, through ImageMagick, BMP and similar; anything else libvips
// could open (PDF, SVG, CSV...) is refused as not a photo. A file and the
// same bytes in memory give identical results.
// With a `budget`, the decode waits, once the header is read and before any
// pixel is decoded, until its memory estimate (decode_memory_estimate) fits,
// and holds it until the decoder's memory is freed.
// Throws InvalidInput for bad options (resolution or std <= 0).
ImageLoadResult load_image_for_clip(const std::filesystem::path& file, const PreprocessOptions& options,
                                    DecodeBudget* budget = nullptr);
ImageLoadResult load_image_for_clip(const void* data, size_t size, const PreprocessOptions& options,
                                    const std::string& name_for_errors, DecodeBudget* budget = nullptr);

// What decoding `file` would hold at its peak (decode_memory_estimate of its
// header, with the shrink-on-load the loader would use), for `options`.
// Empty for a file whose header cannot be read.
std::optional<uint64_t> decode_memory_estimate(const std::filesystem::path& file, const PreprocessOptions& options);

// The centre crop before normalisation, as 8-bit RGB, row major (HWC):
// what tests compare with Pillow, and what thumbnails can reuse.
struct RgbCrop {
  std::vector<uint8_t> hwc;
  int size = 0;
  std::string error;  // empty on success
  int source_width = 0;   // after EXIF orientation
  int source_height = 0;
};
// `budget` as for load_image_for_clip.
RgbCrop load_rgb_crop(const std::filesystem::path& file, const PreprocessOptions& options,
                      DecodeBudget* budget = nullptr);
RgbCrop load_rgb_crop(const void* data, size_t size, const PreprocessOptions& options,
                      const std::string& name_for_errors);

// ToTensor + Normalize of a crop: writes 3 x size x size floats (CHW) to
// `chw`. load_image_for_clip's result is exactly this of load_rgb_crop's, so
// a caller can keep images as bytes (a quarter of the memory) until the model
// takes them.
void normalise_crop(const uint8_t* hwc, int size, const PreprocessOptions& options, float* chw);

}  // namespace imgsearchd
