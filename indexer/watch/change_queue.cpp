#include "indexer/watch/change_queue.h"

#include <algorithm>
#include <utility>

namespace imgsearchd {

namespace {

std::string parent_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

// `path` is below (not at) one of `covers`.
bool is_below_any(const std::string& path, const std::set<std::string>& covers) {
  if (covers.empty()) return false;
  std::string folder = path;
  while (folder != "/") {
    folder = parent_of(folder);
    if (covers.count(folder) != 0) return true;
  }
  return false;
}

// Drops every path below (or, when `equal_too`, at) an entry of `covers`.
void drop_covered(std::vector<std::string>& paths, const std::set<std::string>& covers, bool equal_too) {
  paths.erase(std::remove_if(paths.begin(), paths.end(),
                             [&](const std::string& path) {
                               return (equal_too && covers.count(path) != 0) || is_below_any(path, covers);
                             }),
              paths.end());
}

}  // namespace

ChangeQueue::ChangeQueue(ChangeQueueOptions options) : options_(std::move(options)) {}

WatchClock::duration ChangeQueue::quiet_period_locked(const std::string& path) const {
  auto open = open_counts_.find(path);
  return open != open_counts_.end() && open->second > 0 ? WatchClock::duration(options_.open_settle_delay)
                                                        : WatchClock::duration(options_.settle_delay);
}

void ChangeQueue::file_changing(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  const WatchClock::time_point now = options_.now();
  PendingFile& file = files_[path];
  file.written = true;
  file.last_change = now;
  file.ready_at = now + quiet_period_locked(path);
  note_ready_locked(file.ready_at);
  after_add_locked();
}

void ChangeQueue::file_opened(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++open_counts_[path];
  auto pending = files_.find(path);
  if (pending != files_.end() && pending->second.written) {
    pending->second.ready_at = pending->second.last_change + quiet_period_locked(path);
    note_ready_locked(pending->second.ready_at);
  }
}

void ChangeQueue::file_closed_unwritten(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto open = open_counts_.find(path);
  if (open != open_counts_.end() && --open->second <= 0) open_counts_.erase(open);  // a close without a seen open: none
  auto pending = files_.find(path);
  if (pending != files_.end() && pending->second.written) {
    pending->second.ready_at = pending->second.last_change + quiet_period_locked(path);
    note_ready_locked(pending->second.ready_at);
  }
}

// A file whose writer is done (closed, moved in, removed): reported after
// the short batch delay only, not the quiet period.
void ChangeQueue::settle_now_locked(const std::string& path) {
  const WatchClock::time_point now = options_.now();
  PendingFile& file = files_[path];
  file.written = false;
  file.last_change = now;
  file.ready_at = now + options_.batch_delay;
  note_ready_locked(file.ready_at);
  after_add_locked();
}

void ChangeQueue::file_complete(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto open = open_counts_.find(path);
  if (open != open_counts_.end() && --open->second <= 0) open_counts_.erase(open);
  settle_now_locked(path);
}

void ChangeQueue::file_removed(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  open_counts_.erase(path);
  settle_now_locked(path);
}

void ChangeQueue::folder_changed(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  const WatchClock::time_point ready_at = options_.now() + options_.batch_delay;
  auto [it, added] = folders_.emplace(path, ready_at);
  if (!added) it->second = std::min(it->second, ready_at);
  note_ready_locked(ready_at);
}

void ChangeQueue::root_lost_events(const std::string& root) {
  std::lock_guard<std::mutex> lock(mutex_);
  const WatchClock::time_point ready_at = options_.now() + options_.batch_delay;
  auto [it, added] = roots_.emplace(root, ready_at);
  if (!added) it->second = std::min(it->second, ready_at);
  note_ready_locked(ready_at);
}

void ChangeQueue::forget_open_files() {
  std::lock_guard<std::mutex> lock(mutex_);
  open_counts_.clear();
  for (auto& [path, file] : files_) {
    if (file.written) file.ready_at = file.last_change + WatchClock::duration(options_.settle_delay);
    note_ready_locked(file.ready_at);
  }
}

void ChangeQueue::after_add_locked() {
  if (files_.size() > options_.max_pending) collapse_pending_locked();
}

// Keeps earliest_ready_ a lower bound of every ready time, so pop() looks
// through the pending entries only when one may be ready (not on every
// event of a storm), and wakes pop() when the bound moves earlier.
void ChangeQueue::note_ready_locked(WatchClock::time_point ready_at) {
  if (ready_at < earliest_ready_) {
    earliest_ready_ = ready_at;
    changed_.notify_all();
  }
}

// Every pending file becomes its folder: memory stays bounded by folders.
void ChangeQueue::collapse_pending_locked() {
  const WatchClock::time_point ready_at = options_.now() + WatchClock::duration(options_.settle_delay);
  for (const auto& [path, file] : files_) {
    auto [it, added] = folders_.emplace(parent_of(path), ready_at);
    if (!added) it->second = std::min(it->second, ready_at);
  }
  files_.clear();
  note_ready_locked(ready_at);
}

ChangeBatch ChangeQueue::take_ready_locked(WatchClock::time_point now) {
  ChangeBatch batch;
  for (auto it = roots_.begin(); it != roots_.end();) {
    if (it->second <= now) {
      batch.roots.push_back(it->first);
      it = roots_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = folders_.begin(); it != folders_.end();) {
    if (it->second <= now) {
      batch.folders.push_back(it->first);
      it = folders_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->second.ready_at <= now) {
      batch.files.push_back(it->first);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }

  // Bursts: too many files in one folder, or in all, become their folders.
  if (!batch.files.empty()) {
    std::map<std::string, size_t> per_folder;
    for (const std::string& file : batch.files) ++per_folder[parent_of(file)];
    std::vector<std::string> kept;
    const bool too_many = batch.files.size() > options_.max_files;
    for (std::string& file : batch.files) {
      std::string parent = parent_of(file);
      if (too_many || per_folder[parent] > options_.max_files_per_folder) {
        batch.folders.push_back(std::move(parent));
      } else {
        kept.push_back(std::move(file));
      }
    }
    batch.files = std::move(kept);
    std::sort(batch.folders.begin(), batch.folders.end());
    batch.folders.erase(std::unique(batch.folders.begin(), batch.folders.end()), batch.folders.end());
  }

  const std::set<std::string> roots(batch.roots.begin(), batch.roots.end());
  drop_covered(batch.roots, roots, false);
  drop_covered(batch.folders, roots, true);
  const std::set<std::string> folders(batch.folders.begin(), batch.folders.end());
  drop_covered(batch.folders, folders, false);
  drop_covered(batch.files, roots, false);
  drop_covered(batch.files, folders, true);
  earliest_ready_ = next_ready_locked();
  return batch;
}

WatchClock::time_point ChangeQueue::next_ready_locked() const {
  WatchClock::time_point next = WatchClock::time_point::max();
  for (const auto& [path, at] : roots_) next = std::min(next, at);
  for (const auto& [path, at] : folders_) next = std::min(next, at);
  for (const auto& [path, file] : files_) next = std::min(next, file.ready_at);
  return next;
}

ChangeBatch ChangeQueue::take_ready() {
  std::lock_guard<std::mutex> lock(mutex_);
  return take_ready_locked(options_.now());
}

ChangeBatch ChangeQueue::pop(WatchClock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (closed_) return {};
    const WatchClock::time_point now = options_.now();
    if (now >= earliest_ready_) {
      ChangeBatch batch = take_ready_locked(now);
      if (!batch.empty()) return batch;
    }
    if (now >= deadline) return {};
    // Wake at the next ready time or the deadline, whichever is first, or
    // when an entry is due earlier. The wait is on the real clock; an
    // injected clock that runs differently only changes how often this
    // loop looks.
    const WatchClock::time_point next = std::min(earliest_ready_, deadline);
    const auto wait = std::min<WatchClock::duration>(next - now, std::chrono::milliseconds(100));
    changed_.wait_for(lock, wait);
  }
}

WatchClock::time_point ChangeQueue::next_ready_time() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return next_ready_locked();
}

size_t ChangeQueue::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return files_.size() + folders_.size() + roots_.size();
}

void ChangeQueue::close() {
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
  changed_.notify_all();
}

bool ChangeQueue::closed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return closed_;
}

}  // namespace imgsearchd
