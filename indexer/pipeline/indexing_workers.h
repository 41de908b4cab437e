// Internal to the indexing pipeline: the pool of threads that hash, look up
// and decode the work files and hand WorkItems to the batcher's queue.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "indexer/pipeline/bounded_queue.h"
#include "indexer/image/image_loader.h"
#include "indexer/pipeline/indexing_work.h"
#include "store/catalog/catalog.h"

namespace imgsearchd::indexing {

class WorkerPool {
 public:
  // Starts `threads` workers over `work` (which must outlive the pool). Each
  // opens its own read-only connection to `catalog_file` to ask whether a
  // content is already embedded for `model`. The last worker to finish
  // closes `queue`. `claims` is shared with the batcher, which releases them.
  WorkerPool(const std::vector<WorkFile>& work, const std::filesystem::path& catalog_file, ModelId model,
             const PreprocessOptions& preprocess, int threads, ContentClaims& claims, BoundedQueue<WorkItem>& queue,
             const std::atomic<bool>* stop);
  // Stops the workers (closing the queue) and waits for them.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Waits for every worker; rethrows the first unexpected error one of them hit.
  void join();

  uint64_t hashed() const { return hashed_.load(); }

 private:
  void run_worker();
  void process(const WorkFile& file, const Catalog& reader);
  bool stopping() const;

  const std::vector<WorkFile>& work_;
  const std::filesystem::path catalog_file_;
  const ModelId model_;
  const PreprocessOptions preprocess_;
  BoundedQueue<WorkItem>& queue_;
  const std::atomic<bool>* stop_;

  ContentClaims& claims_;
  std::atomic<size_t> next_{0};
  std::atomic<uint64_t> hashed_{0};
  std::atomic<bool> abort_{false};
  std::atomic<int> running_{0};
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

}  // namespace imgsearchd::indexing
