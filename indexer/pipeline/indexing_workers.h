// Internal to the indexing pipeline: the pool of threads that hash, look up
// and decode the work files and hand WorkItems to the batcher's queue.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "indexer/pipeline/bounded_queue.h"
#include "indexer/image/decode_budget.h"
#include "indexer/image/image_loader.h"
#include "indexer/pipeline/indexing_work.h"
#include "store/catalog/catalog.h"

namespace imgsearchd::indexing {

// Gives the memory freed by decoders and the model back to the system (glibc
// keeps it in per-thread arenas otherwise); a no-op elsewhere.
void return_freed_memory();

class WorkerPool {
 public:
  // Opens a reader of the catalogue for one worker thread.
  using ReaderFactory = std::function<Catalog()>;

  // Starts `threads` workers over `work` (which must outlive the pool). Each
  // opens its own reader with `open_reader` to ask whether a file is known
  // under another path and whether a content is already embedded for
  // `model` (kNoModel: nothing is decoded, contents are only recorded). The
  // last worker to finish closes `queue`. `claims` is shared with the
  // batcher, which releases them.
  // Decodes share `decode_memory` (0: no limit); workers run `niceness`
  // levels below the caller's priority.
  WorkerPool(const std::vector<WorkFile>& work, ReaderFactory open_reader, ModelId model,
             const PreprocessOptions& preprocess, int threads, uint64_t decode_memory, int niceness,
             ContentClaims& claims, BoundedQueue<WorkItem>& queue, const std::atomic<bool>* stop);
  // Stops the workers (closing the queue) and waits for them.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Waits for every worker; rethrows the first unexpected error one of them hit.
  void join();

  uint64_t hashed() const { return hashed_.load(); }
  // New paths that took a known file's content (or failure) without being read.
  uint64_t reattached() const { return reattached_.load(); }

 private:
  void run_worker();
  void process(const WorkFile& file, const Catalog& reader);
  bool stopping() const;

  const std::vector<WorkFile>& work_;
  const ReaderFactory open_reader_;
  const ModelId model_;
  const PreprocessOptions preprocess_;
  DecodeBudget decode_budget_;
  const int niceness_;
  BoundedQueue<WorkItem>& queue_;
  const std::atomic<bool>* stop_;

  ContentClaims& claims_;
  std::atomic<size_t> next_{0};
  std::atomic<uint64_t> hashed_{0};
  std::atomic<uint64_t> reattached_{0};
  std::atomic<bool> abort_{false};
  std::atomic<int> running_{0};
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

}  // namespace imgsearchd::indexing
