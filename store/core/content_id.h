// An image's identity is its content: the XXH3-128 hash of the file's bytes.
// Paths are only aliases of a content. The public, stable id of an image (its
// FAISS vector id and the id the API hands out) is derived from that hash, so
// it survives re-indexing, renames and index rebuilds.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace imgsearchd {

struct ContentHash {
  uint64_t high = 0;
  uint64_t low = 0;

  bool operator==(const ContentHash& o) const { return high == o.high && low == o.low; }
  bool operator!=(const ContentHash& o) const { return !(*this == o); }

  // 32 lowercase hex digits, high word first (the same text `xxhsum -H2` prints).
  std::string hex() const {
    char text[33];
    std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(high),
                  static_cast<unsigned long long>(low));
    return text;
  }

  // The inverse of hex(): exactly 32 lowercase hex digits, or nothing.
  static std::optional<ContentHash> from_hex(const std::string& text) {
    if (text.size() != 32) return std::nullopt;
    ContentHash hash;
    for (size_t i = 0; i < 32; ++i) {
      const char c = text[i];
      uint64_t digit;
      if (c >= '0' && c <= '9') {
        digit = static_cast<uint64_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<uint64_t>(c - 'a' + 10);
      } else {
        return std::nullopt;
      }
      uint64_t& word = i < 16 ? hash.high : hash.low;
      word = (word << 4) | digit;
    }
    return hash;
  }
};

// FAISS ids are signed 64-bit; the top bit is cleared so ids are positive and
// print the same everywhere. Two contents colliding in 63 bits is a broken
// invariant the catalogue detects and refuses.
using VectorId = int64_t;
inline VectorId vector_id_for(const ContentHash& hash) {
  return static_cast<VectorId>(hash.high & 0x7fff'ffff'ffff'ffffULL);
}

// What the fast path compares: a file whose signature is unchanged is not read.
struct StatSignature {
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;

  bool operator==(const StatSignature& o) const {
    return device == o.device && inode == o.inode && size == o.size && mtime_ns == o.mtime_ns;
  }
  bool operator!=(const StatSignature& o) const { return !(*this == o); }
};

}  // namespace imgsearchd
