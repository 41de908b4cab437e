#include "indexer/image/decode_budget.h"

#include <algorithm>
#include <utility>

namespace imgsearchd {
namespace {

// libvips' own buffers, the decoder's structures, the file's header: a
// constant that also keeps every estimate above zero.
constexpr double kFixedBytes = 1 << 20;

}  // namespace

uint64_t decode_memory_estimate(const DecodeShape& shape) {
  const double pixels = static_cast<double>(shape.width) * static_cast<double>(shape.height);
  const double bands = std::max(shape.bands, 1);
  const double sample = std::max(shape.bytes_per_sample, 1);
  const double scale = std::clamp(shape.load_scale, 0.0, 1.0);
  // The decoded (shrunk) image, if a decoder or libvips' sequential buffer
  // held all of it: an upper bound for what flows to the resize.
  const double decoded = pixels * scale * scale * bands * sample;
  const double row = static_cast<double>(shape.width) * bands * sample;
  double bytes = kFixedBytes;
  switch (shape.format) {
    case DecodeShape::Format::jpeg:
      bytes += decoded;
      if (shape.progressive) {
        // libjpeg keeps every scan's coefficients for the whole image until
        // the last scan: 64 16-bit coefficients per 8x8 block, per component,
        // at full resolution whatever the DCT scaling (chroma at its own
        // sampling).
        const double chroma = (bands - 1) / std::max(shape.chroma_divisor, 1);
        bytes += 2.0 * pixels * (1.0 + chroma);
      } else {
        bytes += 16.0 * row;  // one MCU row at full width
      }
      break;
    case DecodeShape::Format::png:
      // Interlaced (Adam7) PNGs are decoded whole; others row by row, but
      // the compressed stream is buffered (a 12 MP PNG of 15 MB measured
      // 13 MB above an idle process).
      bytes += static_cast<double>(shape.file_bytes) + (shape.progressive ? pixels * bands * sample : 64.0 * row);
      break;
    case DecodeShape::Format::webp:
      // The file is read whole; the decoder writes the scaled image into a
      // frame of its own (RGBA) and keeps a few full-width rows.
      bytes += static_cast<double>(shape.file_bytes) + pixels * scale * scale * 4.0 + 32.0 * row;
      break;
    case DecodeShape::Format::heif:
      // libheif decodes the whole image: libde265's frame buffers for the
      // grid's tiles, the YUV planes they are assembled into and the
      // interleaved RGB(A) those are converted to (a 12 MP HEIC measured
      // 98 MB above an idle process: 8.2 bytes per pixel).
      bytes += static_cast<double>(shape.file_bytes) + pixels * sample * (5.5 + bands);
      break;
    case DecodeShape::Format::other:
      // TIFF, GIF, BMP via ImageMagick...: assume the whole image, twice
      // (the library's copy and libvips').
      bytes += static_cast<double>(shape.file_bytes) + 2.0 * pixels * bands * sample;
      break;
  }
  return static_cast<uint64_t>(bytes);
}

DecodeBudget::Lease::Lease(Lease&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DecodeBudget::Lease& DecodeBudget::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

DecodeBudget::Lease::~Lease() { release(); }

void DecodeBudget::Lease::release() {
  if (budget_ != nullptr) budget_->give_back(bytes_);
  budget_ = nullptr;
  bytes_ = 0;
}

DecodeBudget::DecodeBudget(uint64_t capacity) : capacity_(capacity) {}

DecodeBudget::Lease DecodeBudget::acquire(uint64_t bytes) {
  std::unique_lock<std::mutex> lock(mutex_);
  const uint64_t ticket = next_ticket_++;
  changed_.wait(lock, [&] {
    if (ticket != serving_ticket_) return false;  // someone asked earlier
    return capacity_ == 0 || in_use_ == 0 || in_use_ + bytes <= capacity_;
  });
  in_use_ += bytes;
  ++serving_ticket_;
  lock.unlock();
  changed_.notify_all();  // the next in line may fit too
  return Lease(this, bytes);
}

void DecodeBudget::give_back(uint64_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    in_use_ -= bytes;
  }
  changed_.notify_all();
}

uint64_t DecodeBudget::in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_use_;
}

size_t DecodeBudget::waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<size_t>(next_ticket_ - serving_ticket_);
}

}  // namespace imgsearchd
