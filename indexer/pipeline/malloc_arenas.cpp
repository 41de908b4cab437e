#include "indexer/pipeline/malloc_arenas.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace imgsearchd {

bool limit_malloc_arenas() {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr) return false;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.arena_max") != nullptr) return false;
  return mallopt(M_ARENA_MAX, kMallocArenas) == 1;
#else
  return false;
#endif
}

}  // namespace imgsearchd
