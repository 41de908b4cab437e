// Internal to imgsearchd_api: the near-duplicate search of the whole index
// as a background job (POST /api/duplicates starts it, GET /api/duplicates
// follows it), so that a search that takes minutes at 100k images never
// holds one of the request threads. One job at a time; the last one's
// result is kept until the next starts.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "store/core/catalog_types.h"

namespace imgsearchd {
class QueryEngine;
}

namespace imgsearchd::api {

class DuplicatesJob {
 public:
  // `before_work`: called on the job's thread before it starts (tests hold a
  // job there); optional.
  explicit DuplicatesJob(std::function<void()> before_work = {}) : before_work_(std::move(before_work)) {}
  ~DuplicatesJob();  // stops the job in flight and joins it

  struct Started {
    nlohmann::json job;  // the job's document, as current() gives it
    bool is_new = false;  // false: the same search was already running
  };
  // Starts a search at `min_score` over the engine's index, with a reader of
  // its own on `catalog`. While one runs, asking for the same
  // min_score gives that one; another min_score throws Busy.
  Started start(std::shared_ptr<QueryEngine> engine, const CatalogLocation& catalog, float min_score);

  // The last job: {"job", "state" (running, done, failed), "min_score",
  // "images_done", "images_total", "seconds", and "result" once done or
  // "error" ({"code", "type", "message"}) if it failed}; nullopt before the
  // first.
  std::optional<nlohmann::json> current() const;

  // Ends the job in flight at its next batch of images and joins it.
  void stop();

 private:
  using Clock = std::chrono::steady_clock;
  void run(std::shared_ptr<QueryEngine> engine, CatalogLocation catalog, float min_score);
  nlohmann::json document_locked() const;

  const std::function<void()> before_work_;
  mutable std::mutex mutex_;
  uint64_t id_ = 0;  // 0 = no job yet
  std::string state_;
  float min_score_ = 0;
  uint64_t done_ = 0, total_ = 0;
  Clock::time_point started_, ended_;
  nlohmann::json result_, error_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace imgsearchd::api
