// Deterministic test data for the store tests (and the crash writer, which
// is not a gtest program): hashes, signatures, vectors, indexed files.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "store/catalog/catalog.h"
#include "store/core/content_id.h"

namespace imgsearchd::test {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A distinct content hash per seed.
inline ContentHash hash_of(uint64_t seed) { return ContentHash{splitmix64(seed * 2 + 1), splitmix64(seed * 2 + 2)}; }

inline StatSignature signature_of(uint64_t seed) {
  return StatSignature{1, 1000 + seed, 4096 + seed, static_cast<int64_t>(1'700'000'000'000'000'000LL + seed)};
}

// A deterministic vector with values in [-1, 1), not normalised.
inline std::vector<float> vector_of(uint64_t seed, int dim) {
  std::vector<float> v(static_cast<size_t>(dim));
  for (int i = 0; i < dim; ++i) {
    const uint64_t bits = splitmix64(seed * 1'000'003 + static_cast<uint64_t>(i));
    v[static_cast<size_t>(i)] = static_cast<float>(static_cast<double>(bits >> 11) / 9007199254740992.0 * 2 - 1);
  }
  return v;
}

inline std::vector<float> normalised(std::vector<float> v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(sum));
  return v;
}

inline IndexedFile indexed(const std::string& path, uint64_t content_seed, int dim, uint64_t signature_seed = 0) {
  return IndexedFile{path, signature_of(signature_seed ? signature_seed : content_seed), hash_of(content_seed),
                     dim > 0 ? vector_of(content_seed, dim) : std::vector<float>{}};
}

}  // namespace imgsearchd::test
