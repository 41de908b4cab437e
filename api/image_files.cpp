#include "api/image_files.h"

#include <vips/vips.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>
#include <thread>

#include "store/core/catalog_types.h"
#include "store/core/errors.h"

namespace imgsearchd::api {

namespace fs = std::filesystem;

ImageFormat format_of_bytes(const void* data, size_t size) {
  const auto* b = static_cast<const unsigned char*>(data);
  const auto starts = [&](size_t at, const char* magic, size_t length) {
    return size >= at + length && std::memcmp(b + at, magic, length) == 0;
  };
  if (starts(0, "\xFF\xD8\xFF", 3)) return {"jpeg", "image/jpeg"};
  if (starts(0, "\x89PNG\r\n\x1A\n", 8)) return {"png", "image/png"};
  if (starts(0, "RIFF", 4) && starts(8, "WEBP", 4)) return {"webp", "image/webp"};
  if (starts(0, "GIF87a", 6) || starts(0, "GIF89a", 6)) return {"gif", "image/gif"};
  if (starts(0, "II*\0", 4) || starts(0, "MM\0*", 4)) return {"tiff", "image/tiff"};
  if (starts(0, "BM", 2)) return {"bmp", "image/bmp"};
  if (starts(0, "\xFF\x0A", 2) || starts(0, "\0\0\0\x0CJXL \r\n\x87\n", 12)) return {"jxl", "image/jxl"};
  if (starts(4, "ftyp", 4)) {
    if (starts(8, "avif", 4) || starts(8, "avis", 4)) return {"avif", "image/avif"};
    if (starts(8, "heic", 4) || starts(8, "heix", 4) || starts(8, "mif1", 4) || starts(8, "msf1", 4))
      return {"heif", "image/heif"};
  }
  return {"unknown", "application/octet-stream"};
}

ImageFormat format_of_file(const fs::path& file) {
  char head[32] = {};
  std::ifstream in(file, std::ios::binary);
  in.read(head, sizeof head);
  return format_of_bytes(head, static_cast<size_t>(in.gcount()));
}

namespace {

// Dimensions from the header alone (libvips opens lazily), as displayed.
std::optional<ImageInfo> probe(const fs::path& file) {
  std::error_code error;
  const uintmax_t bytes = fs::file_size(file, error);
  if (error) return std::nullopt;
  // A source takes the name as it is: vips_image_new_from_file() would read
  // "[options]" out of a name like "a[shrink=8].jpg".
  VipsSource* source = vips_source_new_from_file(file.c_str());
  VipsImage* image = source != nullptr ? vips_image_new_from_source(source, "", nullptr) : nullptr;
  if (source != nullptr) g_object_unref(source);
  if (image == nullptr) {
    vips_error_clear();
    return std::nullopt;
  }
  ImageInfo info;
  info.width = vips_image_get_width(image);
  info.height = vips_image_get_height(image);
  int orientation = 1;
  if (vips_image_get_typeof(image, VIPS_META_ORIENTATION) != 0 &&
      vips_image_get_int(image, VIPS_META_ORIENTATION, &orientation) == 0 && orientation >= 5 && orientation <= 8) {
    std::swap(info.width, info.height);
  }
  g_object_unref(image);
  info.bytes = bytes;
  info.format = format_of_file(file);
  return info;
}

}  // namespace

std::optional<ImageInfo> ImageInfoCache::get(VectorId id, const std::vector<std::string>& paths) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = cached_.find(id);
    if (found != cached_.end()) return found->second;
  }
  for (const std::string& path : paths) {
    if (parse_foreign_path(path)) continue;  // another service's file, not on this machine
    if (std::optional<ImageInfo> info = probe(path)) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_.size() >= capacity_) cached_.clear();  // rare: a cache of headers, cheap to refill
      cached_.emplace(id, *info);
      return info;
    }
  }
  return std::nullopt;
}

std::string Thumbnails::make(const fs::path& source, int size, const std::string& format) {
  VipsImage* thumbnail = nullptr;
  // Shrink-on-load, EXIF orientation applied, never enlarged; the name is
  // taken as it is (see probe).
  VipsSource* input = vips_source_new_from_file(source.c_str());
  const int made = input == nullptr ? -1
                                    : vips_thumbnail_source(input, &thumbnail, size, "height", size, "size",
                                                            VIPS_SIZE_DOWN, nullptr);
  if (input != nullptr) g_object_unref(input);
  if (made != 0) {
    std::string why = vips_error_buffer();
    vips_error_clear();
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    throw InvalidInput("cannot make a thumbnail of " + source.string() + ": " + why);
  }
  void* buffer = nullptr;
  size_t length = 0;
  const int failed = format == "webp"
                         ? vips_webpsave_buffer(thumbnail, &buffer, &length, "Q", 80, "strip", TRUE, nullptr)
                         : vips_jpegsave_buffer(thumbnail, &buffer, &length, "Q", 80, "strip", TRUE, nullptr);
  g_object_unref(thumbnail);
  if (failed != 0) {
    std::string why = vips_error_buffer();
    vips_error_clear();
    throw InternalError("cannot encode a " + format + " thumbnail of " + source.string() + ": " + why);
  }
  std::string bytes(static_cast<const char*>(buffer), length);
  g_free(buffer);
  return bytes;
}

std::string Thumbnails::get(VectorId id, const fs::path& source, int size, const std::string& format) {
  if (cache_dir_.empty()) return make(source, size, format);
  const fs::path cached = cache_dir_ / (std::to_string(id) + "-" + std::to_string(size) + "." + format);
  {
    std::ifstream in(cached, std::ios::binary);
    if (in) return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::string bytes = make(source, size, format);
  static std::atomic<uint64_t> counter{0};
  std::error_code error;
  fs::create_directories(cache_dir_, error);
  const fs::path temporary =
      cached.string() + ".tmp" + std::to_string(std::hash<std::thread::id>()(std::this_thread::get_id())) + "-" +
      std::to_string(counter++);
  {
    std::ofstream out(temporary, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      fs::remove(temporary, error);
      return bytes;  // an unwritable cache only costs time
    }
  }
  fs::rename(temporary, cached, error);
  if (error) fs::remove(temporary, error);
  return bytes;
}

}  // namespace imgsearchd::api
