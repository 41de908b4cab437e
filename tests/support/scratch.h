// Scratch folders for tests: one fresh folder per test under the build's test
// work folder, and a world-traversable one under /tmp for tests that drop
// privileges (the build tree may sit below a folder only its owner can enter).
#pragma once

#include <filesystem>
#include <string>

namespace imgsearchd::test {

// The build's test work folder (IMGSEARCHD_TEST_WORK_DIR).
std::filesystem::path work_dir();

// The project's shared test data: ../shared/testdata.
std::filesystem::path shared_testdata();

// An empty folder for the running test: <work dir>/<area>/<suite>.<test>
// ('/' in parameterised names becomes '_'), emptied if it was there.
std::filesystem::path fresh_dir(const std::string& area);

// A folder `nobody` can reach: a mkdtemp under /tmp (world-traversable
// whatever the checkout's parents are), mode 0755, removed with everything
// in it when this object goes.
class WorldScratch {
 public:
  WorldScratch();
  ~WorldScratch();
  WorldScratch(const WorldScratch&) = delete;
  WorldScratch& operator=(const WorldScratch&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace imgsearchd::test
