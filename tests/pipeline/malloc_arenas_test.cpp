// imgsearchd limits glibc's malloc arenas (indexer/pipeline/malloc_arenas.h),
// unless the user chose a number in the environment: that choice stands.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "indexer/pipeline/malloc_arenas.h"

namespace imgsearchd {
namespace {

// Sets (or, with nullopt, removes) a variable for one scope, then restores it.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* before = std::getenv(name)) before_ = before;
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedVariable() {
    if (before_) {
      setenv(name_, before_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> before_;
};

#if defined(__GLIBC__)
TEST(MallocArenas, AreLimitedUnlessTheUserChoseInTheEnvironment) {
  {
    ScopedVariable arenas("MALLOC_ARENA_MAX", std::nullopt);
    ScopedVariable tunables("GLIBC_TUNABLES", std::nullopt);
    EXPECT_TRUE(limit_malloc_arenas());
  }
  {
    ScopedVariable arenas("MALLOC_ARENA_MAX", "8");
    ScopedVariable tunables("GLIBC_TUNABLES", std::nullopt);
    EXPECT_FALSE(limit_malloc_arenas()) << "MALLOC_ARENA_MAX is the user's";
  }
  {
    ScopedVariable arenas("MALLOC_ARENA_MAX", std::nullopt);
    ScopedVariable tunables("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=4");
    EXPECT_FALSE(limit_malloc_arenas()) << "the arena_max tunable is the user's";
  }
  {
    ScopedVariable arenas("MALLOC_ARENA_MAX", std::nullopt);
    ScopedVariable tunables("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0");
    EXPECT_TRUE(limit_malloc_arenas()) << "another tunable says nothing about arenas";
  }
}
#else
TEST(MallocArenas, AreLeftAloneWithoutGlibc) { EXPECT_FALSE(limit_malloc_arenas()); }
#endif

}  // namespace
}  // namespace imgsearchd
