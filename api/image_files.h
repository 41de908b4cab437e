// Internal to imgsearchd_api: what the API tells about an image file and how
// it serves it. Formats come from the file's first bytes (never from its
// name), dimensions from its header through libvips (after EXIF
// orientation), and thumbnails are made with libvips shrink-on-load.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/core/content_id.h"

namespace imgsearchd::api {

struct ImageFormat {
  std::string name;  // "jpeg", "png", "webp", "gif", "tiff", "heif", "avif", "jxl", "bmp", or "unknown"
  std::string mime;  // "image/jpeg", ..., "application/octet-stream"
};
ImageFormat format_of_bytes(const void* data, size_t size);
ImageFormat format_of_file(const std::filesystem::path& file);

struct ImageInfo {
  int width = 0;
  int height = 0;
  uint64_t bytes = 0;
  ImageFormat format;
};

// Header reads, cached by id: an id is its content, so what it says never
// changes. The first path that can be read answers.
class ImageInfoCache {
 public:
  explicit ImageInfoCache(size_t capacity = 200'000) : capacity_(capacity) {}
  std::optional<ImageInfo> get(VectorId id, const std::vector<std::string>& paths);

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::unordered_map<VectorId, ImageInfo> cached_;
};

// Thumbnails of at most size x size pixels, as JPEG or WebP. With a cache
// folder, each is made once and kept as <folder>/<id>-<size>.<format>
// (written to a temporary file and renamed, so readers never see half).
class Thumbnails {
 public:
  explicit Thumbnails(std::filesystem::path cache_dir) : cache_dir_(std::move(cache_dir)) {}
  // Throws InvalidInput when the file cannot be made into a thumbnail.
  std::string get(VectorId id, const std::filesystem::path& source, int size, const std::string& format);

 private:
  std::string make(const std::filesystem::path& source, int size, const std::string& format);
  const std::filesystem::path cache_dir_;
};

}  // namespace imgsearchd::api
