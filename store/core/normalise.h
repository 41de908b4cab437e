// Internal to store/: L2 normalisation, the same for the catalogue and the
// vector index, so a vector normalised twice comes out the same both ways.
#pragma once

#include <cmath>
#include <cstddef>

namespace imgsearchd {

// Scales `values` to unit length (the sum in double precision). Returns
// false, changing nothing, if the vector is zero or not finite.
inline bool normalise_l2(float* values, size_t count) {
  double sum = 0;
  for (size_t i = 0; i < count; ++i) sum += static_cast<double>(values[i]) * values[i];
  if (!std::isfinite(sum) || sum == 0) return false;
  const double norm = std::sqrt(sum);
  for (size_t i = 0; i < count; ++i) values[i] = static_cast<float>(values[i] / norm);
  return true;
}

}  // namespace imgsearchd
