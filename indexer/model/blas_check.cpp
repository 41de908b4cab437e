#include "indexer/model/blas_check.h"

#include <dlfcn.h>

namespace imgsearchd {

std::string blas_threading_problem() {
  // OpenBLAS's own report of how it was built: 0 sequential, 1 pthreads, 2 OpenMP.
  using GetParallel = int (*)();
  const auto get_parallel = reinterpret_cast<GetParallel>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
  if (get_parallel == nullptr || get_parallel() != 1) return "";
  return "the loaded OpenBLAS uses pthreads while libtorch uses OpenMP; their thread pools compete and inference "
         "runs several times slower. Select the OpenMP build: update-alternatives --set "
         "libopenblas.so.0-$(dpkg-architecture -qDEB_HOST_MULTIARCH) "
         "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/openblas-openmp/libopenblas.so.0 "
         "(scripts/setup.sh does this)";
}

}  // namespace imgsearchd
