// Internal to imgsearchd_api: the bounded pool that answers connections. A
// fixed number of threads, and at most `max_queued` connections waiting for
// one of them; past that, a connection goes to a single overflow thread whose
// requests are all answered 503 at once (see overloaded()), so a flood of
// requests costs a few bytes each instead of threads or memory.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace imgsearchd::api {

class BoundedWorkerPool : public httplib::TaskQueue {
 public:
  BoundedWorkerPool(size_t threads, size_t max_queued);
  ~BoundedWorkerPool() override;

  void enqueue(std::function<void()> connection) override;
  void shutdown() override;

  // True on the thread answering an overflowed connection: its requests get 503.
  static bool overloaded();

 private:
  void work();
  void refuse();

  const size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable overflow_ready_;
  std::deque<std::function<void()>> queue_;
  std::deque<std::function<void()>> overflow_;
  size_t busy_ = 0;  // threads answering a connection
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::thread refuser_;
};

}  // namespace imgsearchd::api
