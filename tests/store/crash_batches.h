// The work the crash writer does, batch by batch, and what the catalogue
// must hold after any number of those batches: new files, deletions,
// renames, contents coming back, failed files.
#pragma once

#include <map>
#include <set>
#include <string>

#include "store_test_data.h"

namespace imgsearchd::test {

constexpr int kCrashDim = 16;

inline std::string crash_path(uint64_t batch, uint64_t j) {
  return "/photos/b" + std::to_string(batch) + "_" + std::to_string(j) + ".jpg";
}

inline Batch crash_batch(uint64_t i, ModelId model) {
  Batch batch;
  batch.model = model;
  for (uint64_t j = 0; j < 3; ++j) batch.indexed.push_back(indexed(crash_path(i, j), i * 10 + j, kCrashDim));
  if (i >= 2) {
    batch.deleted.push_back(crash_path(i - 2, 0));  // gone: its content is orphaned
    batch.deleted.push_back(crash_path(i - 2, 1));  // renamed: known content, no embedding
    batch.indexed.push_back(indexed("/photos/moved/b" + std::to_string(i - 2) + ".jpg", (i - 2) * 10 + 1, 0));
  }
  if (i >= 4 && i % 3 == 0) {
    // Content orphaned two batches ago comes back under a new name.
    batch.indexed.push_back(indexed("/photos/back/b" + std::to_string(i) + ".jpg", (i - 4) * 10, 0));
  }
  if (i % 4 == 3) batch.failed.push_back({"/photos/bad" + std::to_string(i) + ".jpg", signature_of(900 + i), "corrupt"});
  return batch;
}

struct CrashState {
  std::map<std::string, ContentHash> ok;
  std::set<std::string> failed;
};

// What the catalogue holds after the first `n` batches.
inline CrashState crash_state(uint64_t n) {
  CrashState state;
  for (uint64_t i = 0; i < n; ++i) {
    const Batch batch = crash_batch(i, 0);
    for (const std::string& path : batch.deleted) {
      state.ok.erase(path);
      state.failed.erase(path);
    }
    for (const FailedFile& failed : batch.failed) {
      state.ok.erase(failed.path);
      state.failed.insert(failed.path);
    }
    for (const IndexedFile& file : batch.indexed) {
      state.ok[file.path] = file.hash;
      state.failed.erase(file.path);
    }
  }
  return state;
}

}  // namespace imgsearchd::test
