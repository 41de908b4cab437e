#include "indexer/model/product_helper.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace imgsearchd {
namespace {

using Clock = std::chrono::steady_clock;

// A task's state. The caller claims free tasks from the front, the helper
// from the back; only the helper's tasks pass through computing and copying.
enum TaskState : int { kFree, kCaller, kHelperComputing, kHelperCopying, kHelperDone };

// About 16 tasks per product: small enough that a task taken over costs
// little, large enough that claiming costs nothing against the arithmetic.
constexpr int64_t kTasksPerProduct = 16;

// How long the helper waits awake for a query's next product.
constexpr std::chrono::microseconds kSpinFor{200};

void relax() { _mm_pause(); }

}  // namespace

struct ProductHelper::Job {
  const PackedLinear* layer = nullptr;
  std::shared_ptr<const float> x;
  int64_t rows = 0;
  float* y = nullptr;  // written by the helper only for a task it moved to kHelperCopying
  int64_t pairs_per_task = 1, tasks = 0;
  std::unique_ptr<std::atomic<int>[]> state;

  int64_t first_pair(int64_t task) const { return task * pairs_per_task; }
  int64_t last_pair(int64_t task) const { return std::min(layer->panel_pairs(), (task + 1) * pairs_per_task); }
  int64_t first_column(int64_t task) const { return first_pair(task) * 32; }
  int64_t columns(int64_t task) const { return std::min(layer->outputs(), last_pair(task) * 32) - first_column(task); }
};

ProductHelper::~ProductHelper() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ProductHelper::Session ProductHelper::session(bool share) {
  bool expected = false;
  if (!share || !in_use_.compare_exchange_strong(expected, true)) return Session(nullptr);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!thread_.joinable()) thread_ = std::thread([this] { helper_loop(); });
  }
  awake_.store(true);
  return Session(this);
}

ProductHelper::Session::~Session() {
  if (!helper_) return;
  helper_->awake_.store(false);
  helper_->in_use_.store(false);
}

void ProductHelper::multiply(const Session& session, const PackedLinear& layer, std::shared_ptr<const float> x,
                             int64_t rows, float* y) {
  const int64_t pairs = layer.panel_pairs();
  if (!session.active() || pairs < 2) {
    layer.multiply(x.get(), rows, y, 0, pairs);
    return;
  }
  auto job = std::make_shared<Job>();
  job->layer = &layer;
  job->x = std::move(x);
  job->rows = rows;
  job->y = y;
  job->pairs_per_task = std::max<int64_t>(1, pairs / kTasksPerProduct);
  job->tasks = (pairs + job->pairs_per_task - 1) / job->pairs_per_task;
  job->state.reset(new std::atomic<int>[static_cast<size_t>(job->tasks)]);
  for (int64_t t = 0; t < job->tasks; ++t) job->state[t].store(kFree, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = job;
    generation_.fetch_add(1);
  }
  wake_.notify_one();  // where the helper has stopped spinning

  const float* in = job->x.get();
  const Clock::time_point start = Clock::now();
  int64_t own_tasks = 0;
  for (int64_t t = 0; t < job->tasks; ++t) {
    int state = kFree;
    if (job->state[t].compare_exchange_strong(state, kCaller)) {
      layer.multiply(in, rows, y, job->first_pair(t), job->last_pair(t));
      ++own_tasks;
      continue;
    }
    // The helper has this task, and so every later one. Wait for it a little
    // longer than a task of ours took; past that the helper is not running,
    // and taking the task over is cheaper than waiting for its core.
    const Clock::duration per_task = (Clock::now() - start) / std::max<int64_t>(1, own_tasks);
    const Clock::time_point deadline = Clock::now() + per_task + per_task / 2;
    while (true) {
      state = job->state[t].load(std::memory_order_acquire);
      if (state == kHelperDone) break;
      if (state == kHelperComputing && Clock::now() > deadline &&
          job->state[t].compare_exchange_strong(state, kCaller)) {
        layer.multiply(in, rows, y, job->first_pair(t), job->last_pair(t));
        break;
      }
      // Copying takes a few hundred nanoseconds; computing, until the deadline.
      relax();
    }
  }
}

void ProductHelper::run_helper_side(Job& job, std::unique_ptr<float[]>& scratch, int64_t& scratch_size) {
  const int64_t width = job.pairs_per_task * 32;
  if (scratch_size < job.rows * width) {
    scratch_size = job.rows * width;
    scratch.reset(new float[static_cast<size_t>(scratch_size)]);
  }
  const int64_t outputs = job.layer->outputs();
  for (int64_t t = job.tasks - 1; t >= 0; --t) {
    int state = kFree;
    if (!job.state[t].compare_exchange_strong(state, kHelperComputing)) return;  // the caller got here first
    if (claim_hook_) claim_hook_();
    job.layer->multiply_into(job.x.get(), job.rows, scratch.get(), width, job.first_pair(t), job.last_pair(t));
    state = kHelperComputing;
    if (!job.state[t].compare_exchange_strong(state, kHelperCopying)) return;  // taken over: the caller is done
    const int64_t column = job.first_column(t), columns = job.columns(t);
    for (int64_t r = 0; r < job.rows; ++r)
      std::memcpy(job.y + r * outputs + column, scratch.get() + r * width,
                  sizeof(float) * static_cast<size_t>(columns));
    job.state[t].store(kHelperDone, std::memory_order_release);
    helper_tasks_.fetch_add(1, std::memory_order_relaxed);
  }
}

void ProductHelper::helper_loop() {
  std::unique_ptr<float[]> scratch;
  int64_t scratch_size = 0;
  uint64_t seen = 0;
  while (true) {
    // During a query its products come every few tens of microseconds,
    // sooner than a sleeping thread wakes: spin for the next one, but not for
    // long, so that a query stalled elsewhere (or a machine shared with other
    // work) does not lose a core to the spinning.
    const Clock::time_point spin_until = Clock::now() + kSpinFor;
    for (unsigned i = 1; awake_.load(std::memory_order_acquire) && generation_.load(std::memory_order_acquire) == seen;
         ++i) {
      relax();
      if (i % 64 == 0 && Clock::now() > spin_until) break;
    }
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
      if (stop_) return;
      seen = generation_.load();
      job = job_;
      job_.reset();  // the next job replaces it; the caller's own reference lasts the product
    }
    run_helper_side(*job, scratch, scratch_size);
  }
}

}  // namespace imgsearchd
