// OpenMP's thread count for the calling thread, set for a scope and restored
// at its end. The count is a per-thread setting (what at::parallel_for and
// OpenBLAS read); unlike at::set_num_threads this leaves other threads and
// libtorch's pools alone. Used by a text query (one thread) and by the parts
// of a split image batch (their share each).
#pragma once

#include <omp.h>

namespace imgsearchd {

class OmpThreadsInScope {
 public:
  // `threads` <= 0: changes nothing.
  explicit OmpThreadsInScope(int threads) : previous_(threads > 0 ? omp_get_max_threads() : 0) {
    if (threads > 0) omp_set_num_threads(threads);
  }
  ~OmpThreadsInScope() {
    if (previous_ > 0) omp_set_num_threads(previous_);
  }
  OmpThreadsInScope(const OmpThreadsInScope&) = delete;
  OmpThreadsInScope& operator=(const OmpThreadsInScope&) = delete;
  // The count before the scope (0 where it changed nothing).
  int previous() const { return previous_; }

 private:
  int previous_;
};

}  // namespace imgsearchd
