// Detects a BLAS whose threads fight libtorch's. No libtorch here.
#pragma once

#include <string>

namespace imgsearchd {

// Empty when fine; otherwise what is wrong and how to fix it. OpenBLAS built
// with pthreads runs its own thread pool beside libtorch's OpenMP one, and on
// a machine with as many cores as threads the two make inference 5-10x slower
// (Debian's default for libopenblas.so.0 when both builds are installed).
std::string blas_threading_problem();

}  // namespace imgsearchd
