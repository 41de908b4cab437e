// A memory budget for decoders running side by side. Decoding a large photo
// holds far more memory than its result: a progressive JPEG keeps the whole
// image's DCT coefficients (about 3 bytes per pixel at 4:2:0, whatever the
// shrink-on-load), HEIF its full-size planes. Several of them decoding at once
// on a many-core machine would add up to gigabytes; with a budget, a decode
// whose estimate (from the header, before any pixel is decoded) does not fit
// waits until earlier ones are done instead.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

namespace imgsearchd {

// What the header says about an image, for estimating its decode memory.
struct DecodeShape {
  enum class Format { jpeg, png, webp, heif, other };
  Format format = Format::other;
  uint64_t width = 0;   // as stored, before any shrink-on-load
  uint64_t height = 0;
  int bands = 3;                 // colour channels (JPEG: components)
  int bytes_per_sample = 1;      // 2 for 16-bit
  bool progressive = false;      // JPEG with several scans, or interlaced PNG
  int chroma_divisor = 1;        // JPEG: pixels per chroma sample (1 for 4:4:4, 2 for 4:2:2, 4 for 4:2:0)
  double load_scale = 1.0;       // shrink-on-load: decoded width / stored width
  uint64_t file_bytes = 0;       // read into memory whole by some decoders
};

// The most memory decoding `shape` holds at once, in bytes: an estimate, on
// the high side, of what the decoder library allocates (see the .cpp for each
// format). Deterministic: the same shape gives the same number.
uint64_t decode_memory_estimate(const DecodeShape& shape);

// Shares `capacity` bytes between decoders in the order they ask (first come,
// first served, so a large image is not starved by small ones). A request
// larger than the whole budget runs once nothing else holds any: it then
// runs alone. Thread-safe.
class DecodeBudget {
 public:
  // Returns what it holds when destroyed (movable, not copyable).
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    uint64_t bytes() const { return bytes_; }
    void release();

   private:
    friend class DecodeBudget;
    Lease(DecodeBudget* budget, uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    DecodeBudget* budget_ = nullptr;
    uint64_t bytes_ = 0;
  };

  // capacity 0: no limit (acquire never waits).
  explicit DecodeBudget(uint64_t capacity);
  DecodeBudget(const DecodeBudget&) = delete;
  DecodeBudget& operator=(const DecodeBudget&) = delete;

  // Waits until `bytes` fit beside what is held (or nothing is held), and
  // holds them until the lease ends.
  Lease acquire(uint64_t bytes);

  uint64_t capacity() const { return capacity_; }
  uint64_t in_use() const;
  // Callers inside acquire() that have not got their bytes yet.
  size_t waiting() const;

 private:
  void give_back(uint64_t bytes);

  const uint64_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t in_use_ = 0;
  uint64_t next_ticket_ = 0;     // handed to the next caller of acquire()
  uint64_t serving_ticket_ = 0;  // the caller whose turn it is
};

}  // namespace imgsearchd
