#include "indexer/pipeline/indexing_workers.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "indexer/scan/content_hash.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace imgsearchd::indexing {
namespace {

WorkItem item_for(WorkItem::Kind kind, const WorkFile& file) {
  WorkItem item;
  item.kind = kind;
  item.path = file.path;
  item.signature = file.signature;
  item.known = file.known;
  return item;
}

// A permission problem is fixed with chmod, which changes no part of the stat
// signature; a signature no scan can produce makes the next run retry it
// (cheaply: opening the file fails at once).
StatSignature retry_next_run(StatSignature signature) {
  signature.size = std::numeric_limits<uint64_t>::max();
  return signature;
}

// A failure's reason names the file it was found in; under a new path it
// names the new one.
std::string with_path_replaced(std::string reason, const std::string& old_path, const std::string& new_path) {
  for (size_t at = reason.find(old_path); at != std::string::npos; at = reason.find(old_path, at + new_path.size())) {
    reason.replace(at, old_path.size(), new_path);
  }
  return reason;
}

// Decoding an image this large frees tens of megabytes at once; glibc keeps
// freed memory in each thread's arena for reuse, so without a trim the
// process keeps the peak of every decoder thread's arena for good.
constexpr uint64_t kTrimAfterPixels = 4'000'000;

// Lowers the calling thread's priority by `niceness` (Linux: nice values are
// per thread). Failing is harmless: the worker runs at the usual priority.
void lower_this_thread_priority(int niceness) {
#if defined(__linux__)
  if (niceness <= 0) return;
  const auto thread = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int current = getpriority(PRIO_PROCESS, thread);
  if (errno == 0 && setpriority(PRIO_PROCESS, thread, current + niceness) != 0) {
    spdlog::debug("decode worker: cannot lower its priority: {}", std::strerror(errno));
  }
#else
  (void)niceness;
#endif
}

}  // namespace

void return_freed_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

WorkerPool::WorkerPool(const std::vector<WorkFile>& work, ReaderFactory open_reader, ModelId model,
                       const PreprocessOptions& preprocess, int threads, uint64_t decode_memory, int niceness,
                       ContentClaims& claims, BoundedQueue<WorkItem>& queue, const std::atomic<bool>* stop)
    : work_(work),
      open_reader_(std::move(open_reader)),
      model_(model),
      preprocess_(preprocess),
      decode_budget_(decode_memory),
      niceness_(niceness),
      queue_(queue),
      stop_(stop),
      claims_(claims) {
  if (threads < 1) threads = 1;
  running_ = threads;
  threads_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run_worker(); });
}

WorkerPool::~WorkerPool() {
  abort_ = true;
  queue_.close();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void WorkerPool::join() {
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  std::lock_guard<std::mutex> lock(error_mutex_);
  if (error_) std::rethrow_exception(error_);
}

bool WorkerPool::stopping() const { return abort_.load() || (stop_ && stop_->load()); }

void WorkerPool::run_worker() {
  lower_this_thread_priority(niceness_);
  try {
    // One connection per thread: a Catalog is not shared between threads.
    const Catalog reader = open_reader_();
    for (size_t i = next_++; i < work_.size() && !stopping(); i = next_++) process(work_[i], reader);
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    abort_ = true;
  }
  if (--running_ == 0) queue_.close();
}

void WorkerPool::process(const WorkFile& file, const Catalog& reader) {
  WorkItem item = item_for(WorkItem::Kind::attach, file);
  // The catalogue may hold this very file (same device, inode, size and
  // mtime): under another path (renamed or moved, its old path not removed
  // yet) or under this one without an embedding for the model. Its content
  // is then known without reading the file, as the scan's fast path trusts
  // an unchanged signature.
  const std::optional<FileRecord> twin = reader.file_with_signature(file.signature);
  if (twin && twin->state == FileState::failed && twin->path != file.path) {
    // The same bytes failed under the old path (a failure to hash has a
    // signature no file has, so this is one of its content): they fail here too.
    WorkItem failed = item_for(WorkItem::Kind::failed, file);
    failed.reason = with_path_replaced(twin->error, twin->path, file.path);
    ++reattached_;
    queue_.push(std::move(failed));
    return;
  }
  const bool known_content = twin && twin->state == FileState::ok && twin->hash;
  const bool moved = known_content && twin->path != file.path;
  if (known_content) {
    item.hash = *twin->hash;
  } else {
    FileHashResult hashed = hash_file(file.path);
    if (!hashed.ok()) {
      switch (hashed.error) {
        case HashError::vanished:
          queue_.push(item_for(WorkItem::Kind::vanished, file));
          return;
        case HashError::changed_while_reading:
          queue_.push(item_for(WorkItem::Kind::deferred, file));
          return;
        case HashError::unreadable: {
          WorkItem failed = item_for(WorkItem::Kind::failed, file);
          failed.signature = retry_next_run(file.signature);
          failed.reason = hashed.message;
          queue_.push(std::move(failed));
          return;
        }
        case HashError::not_a_regular_file:
        case HashError::none:
          break;
      }
      WorkItem failed = item_for(WorkItem::Kind::failed, file);
      failed.reason = hashed.message;
      queue_.push(std::move(failed));
      return;
    }
    ++hashed_;
    item.signature = hashed.file->signature;
    item.hash = hashed.file->hash;
  }

  if (model_ == kNoModel) {
    item.kind = WorkItem::Kind::record;  // no model yet: the content is recorded, embedding waits
    if (moved) ++reattached_;
    queue_.push(std::move(item));
    return;
  }
  auto embedded = [&] {
    const std::optional<ContentStatus> content = reader.find_content(item.hash, model_);
    return content && content->has_embedding;
  };
  if (embedded()) {
    if (moved) ++reattached_;
    queue_.push(std::move(item));  // a rename, move, copy or a file coming back: no model time
    return;
  }
  if (!claims_.claim(item.hash)) {
    item.kind = WorkItem::Kind::attach_after;  // another file of this run has this content
    queue_.push(std::move(item));
    return;
  }
  // The claim may have been released by a commit of this content since the
  // first look; the catalogue then has it.
  if (embedded()) {
    claims_.release(item.hash);
    queue_.push(std::move(item));
    return;
  }
  RgbCrop loaded = load_rgb_crop(file.path, preprocess_, &decode_budget_);
  if (static_cast<uint64_t>(loaded.source_width) * static_cast<uint64_t>(loaded.source_height) >= kTrimAfterPixels) {
    return_freed_memory();
  }
  if (loaded.error.empty()) {
    item.kind = WorkItem::Kind::embed;
    item.crop = std::move(loaded.hwc);
  } else {
    item.kind = WorkItem::Kind::failed;
    item.claimed = true;
    item.reason = std::move(loaded.error);
  }
  queue_.push(std::move(item));
}

}  // namespace imgsearchd::indexing
