#include "api/worker_pool.h"

namespace imgsearchd::api {

namespace {
thread_local bool t_overloaded = false;
}

bool BoundedWorkerPool::overloaded() { return t_overloaded; }

BoundedWorkerPool::BoundedWorkerPool(size_t threads, size_t max_queued) : max_queued_(max_queued) {
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  refuser_ = std::thread([this] { refuse(); });
}

BoundedWorkerPool::~BoundedWorkerPool() { shutdown(); }

void BoundedWorkerPool::enqueue(std::function<void()> connection) {
  std::unique_lock<std::mutex> lock(mutex_);
  // Threads count as free unless they are answering a connection, so a
  // connection that arrives before a new thread first waits (a busy machine,
  // just after start) is queued for it rather than refused.
  if (queue_.size() < max_queued_ + (threads_.size() - busy_)) {
    queue_.push_back(std::move(connection));
    ready_.notify_one();
    return;
  }
  if (overflow_.size() < max_queued_ + 16) {
    overflow_.push_back(std::move(connection));
    overflow_ready_.notify_one();
    return;
  }
  // Even the refusals are backed up: answer this one on the accepting thread.
  lock.unlock();
  t_overloaded = true;
  connection();
  t_overloaded = false;
}

void BoundedWorkerPool::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  ready_.notify_all();
  overflow_ready_.notify_all();
  for (std::thread& thread : threads_) thread.join();
  refuser_.join();
}

void BoundedWorkerPool::work() {
  for (;;) {
    std::function<void()> connection;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      connection = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    connection();
    std::lock_guard<std::mutex> lock(mutex_);
    --busy_;
  }
}

void BoundedWorkerPool::refuse() {
  t_overloaded = true;
  for (;;) {
    std::function<void()> connection;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      overflow_ready_.wait(lock, [&] { return stopping_ || !overflow_.empty(); });
      if (overflow_.empty()) return;
      connection = std::move(overflow_.front());
      overflow_.pop_front();
    }
    connection();
  }
}

}  // namespace imgsearchd::api
