#include "tests/support/scratch.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <system_error>

namespace imgsearchd::test {

namespace fs = std::filesystem;

fs::path work_dir() { return IMGSEARCHD_TEST_WORK_DIR; }

fs::path shared_testdata() { return fs::path(IMGSEARCHD_SHARED_DIR) / "testdata"; }

fs::path fresh_dir(const std::string& area) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  std::replace(name.begin(), name.end(), '/', '_');
  const fs::path dir = work_dir() / area / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

WorldScratch::WorldScratch() {
  std::string pattern = "/tmp/imgsearchd-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "cannot make a scratch folder under /tmp: " << std::generic_category().message(errno);
    return;
  }
  path_ = pattern;
  fs::permissions(path_, fs::perms(0755));
}

WorldScratch::~WorldScratch() {
  if (path_.empty()) return;
  // Folders a test left without permissions would stop the removal (of a
  // non-root owner): give them back first.
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(path_, fs::directory_options::skip_permission_denied, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (it->is_directory(error) && !it->is_symlink(error)) fs::permissions(it->path(), fs::perms::owner_all, error);
  }
  fs::remove_all(path_, error);
}

}  // namespace imgsearchd::test
