// A second thread that shares a text query's packed products with the thread
// running the query, without that thread ever waiting for it.
//
// A query runs on its calling thread (clip_native.cpp says why: shared
// through OpenMP, each of its ~150 small operations waits at a barrier for
// the other thread, and on a busy machine that thread is often not running).
// Its 48 packed products are most of its time, and they are the part two
// cores can share. Here the caller and the helper take the product's tasks
// from opposite ends: the caller writes its results in place; the helper
// computes into its own buffer and copies a task's result out only if the
// caller has not reached that task. When the caller runs out of free tasks
// and the helper's task is still unfinished after a little longer than the
// caller's own tasks took (the helper is not running: another process has its
// core), the caller takes the task over and computes it itself. So a query is
// never slower than on one thread by more than about one task, and on two idle
// cores its products take about half the time.
//
// Written here because no library offers work sharing with take-over (OpenMP
// and libtorch's pools wait for every thread they hand work to).
//
// No libtorch here (kept to clip_*.cpp).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "indexer/model/packed_linear.h"

namespace imgsearchd {

class ProductHelper {
 public:
  ProductHelper() = default;  // the thread starts with the first session
  ~ProductHelper();
  ProductHelper(const ProductHelper&) = delete;
  ProductHelper& operator=(const ProductHelper&) = delete;

  // One query's products are shared while its Session lives: the helper waits
  // for each next product awake (spinning, 200 us at most) and sleeps when the
  // session ends. A session begun while another is alive (a concurrent query)
  // is inactive, and its products run on the caller alone.
  class Session {
   public:
    ~Session();
    Session(Session&& other) noexcept : helper_(other.helper_) { other.helper_ = nullptr; }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    Session& operator=(Session&&) = delete;
    bool active() const { return helper_ != nullptr; }

   private:
    friend class ProductHelper;
    explicit Session(ProductHelper* helper) : helper_(helper) {}
    ProductHelper* helper_;
  };
  // `share`: false gives an inactive session (one thread, nothing started).
  Session session(bool share = true);

  // y (rows x layer.outputs()) = x layer's product, shared with the helper
  // when `session` is active. `x` (rows x layer.inputs()) is held until the
  // helper is done with it, which can be after this returns.
  void multiply(const Session& session, const PackedLinear& layer, std::shared_ptr<const float> x, int64_t rows,
                float* y);

  // Tasks the helper finished and copied out, since it started.
  uint64_t helper_tasks() const { return helper_tasks_.load(); }
  // Tests: runs on the helper after it claims a task, before computing it
  // (blocking here stands for a helper whose core another process has). Set
  // before the first session.
  void set_claim_hook_for_tests(std::function<void()> hook) { claim_hook_ = std::move(hook); }

 private:
  struct Job;
  void helper_loop();
  void run_helper_side(Job& job, std::unique_ptr<float[]>& scratch, int64_t& scratch_size);

  std::atomic<bool> in_use_{false};         // a session is active
  std::atomic<bool> awake_{false};          // the helper may spin for jobs (during a session)
  std::atomic<uint64_t> generation_{0};     // counts published jobs
  std::atomic<uint64_t> helper_tasks_{0};
  std::mutex mutex_;                        // guards job_, thread_, stop_ and the sleep
  std::condition_variable wake_;
  std::shared_ptr<Job> job_;
  bool stop_ = false;
  std::function<void()> claim_hook_;
  std::thread thread_;
};

}  // namespace imgsearchd
