#include "api/duplicates_job.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "api/errors.h"
#include "api/json.h"
#include "indexer/search/duplicates.h"
#include "indexer/search/query_engine.h"
#include "store/catalog/catalog.h"
#include "store/core/errors.h"

namespace imgsearchd::api {

namespace {

// Thrown from the progress callback to end a job when the server stops.
struct JobStopped {};

nlohmann::json groups_json(float min_score, const std::vector<DuplicateGroup>& groups) {
  nlohmann::json listed = nlohmann::json::array();
  for (const DuplicateGroup& group : groups) {
    nlohmann::json members = nlohmann::json::array();
    for (const DuplicateMember& member : group.members) {
      members.push_back({{"id", id_text(member.id)}, {"similarity", member.similarity}, {"paths", member.paths}});
    }
    listed.push_back({{"images", group.members.size()}, {"paths", group.path_count()}, {"members", members}});
  }
  return {{"min_score", min_score}, {"group_count", groups.size()}, {"groups", listed}};
}

// The exception in flight as the API's error object {"code", "type", "message"}.
nlohmann::json current_error() {
  httplib::Response response;
  respond_current_exception(response);
  return nlohmann::json::parse(response.body, nullptr, false).value("error", nlohmann::json::object());
}

}  // namespace

DuplicatesJob::~DuplicatesJob() { stop(); }

DuplicatesJob::Started DuplicatesJob::start(std::shared_ptr<QueryEngine> engine,
                                            const CatalogLocation& catalog, float min_score) {
  if (!(min_score > 0 && min_score <= 1)) {
    throw InvalidInput("min_score must be a similarity above 0 and at most 1, got " + std::to_string(min_score));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_ == "running") {
    if (min_score == min_score_) return Started{document_locked(), false};
    throw Busy("a duplicates search at min_score " + std::to_string(min_score_) +
               " is running (job " + std::to_string(id_) +
               "): GET /api/duplicates follows it; start another when it is done");
  }
  if (thread_.joinable()) thread_.join();  // the last job's thread, finished
  ++id_;
  state_ = "running";
  min_score_ = min_score;
  done_ = 0;
  total_ = engine->index().size();
  started_ = Clock::now();
  result_ = nullptr;
  error_ = nullptr;
  stop_ = false;
  thread_ = std::thread([this, engine = std::move(engine), catalog, min_score]() mutable {
    run(std::move(engine), catalog, min_score);
  });
  return Started{document_locked(), true};
}

void DuplicatesJob::run(std::shared_ptr<QueryEngine> engine, CatalogLocation catalog, float min_score) {
  nlohmann::json result, error;
  try {
    if (before_work_) before_work_();
    const Catalog reader = Catalog::open_read_only(catalog);
    const std::vector<DuplicateGroup> groups =
        find_duplicates(engine->index(), reader, min_score, [this](size_t done) {
          if (stop_) throw JobStopped{};
          std::lock_guard<std::mutex> lock(mutex_);
          done_ = done;
        });
    result = groups_json(min_score, groups);
  } catch (const JobStopped&) {
    error = {{"code", 503}, {"type", error_kind_name(ErrorKind::unavailable)}, {"message", "the service stopped"}};
  } catch (...) {
    error = current_error();
    spdlog::warn("api: the duplicates search at min_score {} failed: {}", min_score, error.value("message", ""));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  ended_ = Clock::now();
  if (error.is_null()) {
    state_ = "done";
    done_ = total_;
    result_ = std::move(result);
  } else {
    state_ = "failed";
    error_ = std::move(error);
  }
}

nlohmann::json DuplicatesJob::document_locked() const {
  const Clock::time_point until = state_ == "running" ? Clock::now() : ended_;
  nlohmann::json job = {{"job", id_},
                        {"state", state_},
                        {"min_score", min_score_},
                        {"images_done", done_},
                        {"images_total", total_},
                        {"seconds", std::chrono::duration<double>(until - started_).count()}};
  if (state_ == "done") job["result"] = result_;
  if (state_ == "failed") job["error"] = error_;
  return job;
}

std::optional<nlohmann::json> DuplicatesJob::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (id_ == 0) return std::nullopt;
  return document_locked();
}

void DuplicatesJob::stop() {
  stop_ = true;
  std::thread finishing;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finishing = std::move(thread_);
  }
  if (finishing.joinable()) finishing.join();
}

}  // namespace imgsearchd::api
