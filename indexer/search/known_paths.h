// The paths search hits last resolved to, per vector id: what a search
// answers with while the catalogue cannot be reached (a shared PostgreSQL
// database that is down or away). Bounded: past `capacity` ids, arbitrary
// old entries make room. Safe to use from many threads.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/core/content_id.h"

namespace imgsearchd {

class KnownPaths {
 public:
  explicit KnownPaths(size_t capacity = 200'000) : capacity_(capacity) {}

  void remember(VectorId id, const std::vector<std::string>& paths) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = paths_.find(id);
    if (found != paths_.end()) {
      found->second = paths;
      return;
    }
    if (paths_.size() >= capacity_ && !paths_.empty()) paths_.erase(paths_.begin());
    paths_.emplace(id, paths);
  }

  // The paths last remembered for `id`, or nothing when never seen.
  std::optional<std::vector<std::string>> find(VectorId id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = paths_.find(id);
    if (found == paths_.end()) return std::nullopt;
    return found->second;
  }

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<VectorId, std::vector<std::string>> paths_;
};

}  // namespace imgsearchd
