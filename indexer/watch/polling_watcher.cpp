#include "indexer/watch/polling_watcher.h"

#include <sys/stat.h>

#include <algorithm>
#include <unordered_map>

#include "indexer/scan/stat_signature.h"
#include "indexer/watch/tree_walk.h"
#include "indexer/watch/watch_log.h"

namespace imgsearchd {

struct PollingWatcher::Tree {
  Tree(const WatchRoot& r, std::string f) : root(r), folder(std::move(f)), filter(r.rules) {}

  WatchRoot root;
  std::string folder;  // == root.path for a whole root
  PathFilter filter;   // used by the walking thread only (walk_mutex_)
  std::unordered_map<std::string, StatSignature> files;
  size_t folders = 0;
  bool online = false;
  bool gone = false;  // a folder tree whose folder disappeared: to drop
  bool is_root() const { return folder == root.path; }
};

PollingWatcher::PollingWatcher(WatcherOptions options, ChangeQueue& queue)
    : options_(std::move(options)), queue_(queue) {
  options_.log = log_or_spdlog(std::move(options_.log));
  for (const WatchRoot& root : options_.roots) trees_.push_back(std::make_unique<Tree>(root, root.path));
}

PollingWatcher::~PollingWatcher() { stop(); }

void PollingWatcher::start() {
  {
    std::lock_guard<std::mutex> walk_lock(walk_mutex_);
    for (auto& tree : trees_) walk(*tree, false);  // only this thread touches trees_ before start
    started_ = true;
  }
  thread_ = std::thread([this] { run(); });
}

void PollingWatcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PollingWatcher::add_tree(const WatchRoot& root, const std::string& folder) {
  auto tree = std::make_unique<Tree>(root, folder);
  std::lock_guard<std::mutex> walk_lock(walk_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& known : trees_) {
      if (known->folder == folder && !known->gone) return;  // polled already
    }
  }
  walk(*tree, false);
  std::lock_guard<std::mutex> lock(mutex_);
  trees_.push_back(std::move(tree));
}

size_t PollingWatcher::trees_below(const std::string& root) const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t count = 0;
  for (const auto& tree : trees_) count += is_at_or_below(tree->folder, root) ? 1 : 0;
  return count;
}

std::vector<PollingWatcher::PolledTree> PollingWatcher::trees() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<PolledTree> trees;
  for (const auto& tree : trees_) {
    if (!tree->gone) trees.push_back(PolledTree{tree->root.path, tree->folder});
  }
  return trees;
}

void PollingWatcher::remove_tree(const std::string& folder) {
  std::lock_guard<std::mutex> walk_lock(walk_mutex_);
  std::lock_guard<std::mutex> lock(mutex_);
  trees_.erase(std::remove_if(trees_.begin(), trees_.end(), [&](const auto& tree) { return tree->folder == folder; }),
               trees_.end());
}

std::vector<RootWatchState> PollingWatcher::states() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<RootWatchState> states;
  for (const auto& tree : trees_) {
    if (!tree->is_root()) continue;
    RootWatchState state;
    state.root = tree->root.path;
    state.mode = tree->online ? RootWatchMode::poll : RootWatchMode::offline;
    state.polled_folders = tree->folders;
    if (!tree->online) state.problem = "the root folder is missing or not a folder";
    states.push_back(std::move(state));
  }
  return states;
}

void PollingWatcher::poll_now() {
  std::lock_guard<std::mutex> walk_lock(walk_mutex_);
  std::vector<Tree*> trees;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& tree : trees_) trees.push_back(tree.get());
  }
  for (Tree* tree : trees) walk(*tree, true);
  std::lock_guard<std::mutex> lock(mutex_);
  trees_.erase(std::remove_if(trees_.begin(), trees_.end(), [](const auto& tree) { return tree->gone; }),
               trees_.end());
}

void PollingWatcher::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.poll_interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    poll_now();
    lock.lock();
  }
}

// Walks one tree; reports differences from the walk before when `report`
// (the first walk of a tree is its baseline). Called with walk_mutex_ held.
void PollingWatcher::walk(Tree& tree, bool report) {
  std::unordered_map<std::string, StatSignature> seen;
  size_t folders = 0;
  const bool listed =
      walk_tree(tree.root.path, tree.folder, tree.filter,
                {[&folders](const std::string&) {
                   ++folders;
                   return true;
                 },
                 [&seen](const std::string& file, const struct stat& st) { seen.emplace(file, stat_signature_of(st)); }});
  if (!listed) {
    if (tree.is_root()) {
      // Offline (unmounted, deleted): nothing is reported as removed, since
      // an unmounted drive is not a deletion. Its return is a rescan.
      if (tree.online && options_.log) {
        options_.log(WatchLogLevel::info, "watched root " + tree.root.path + " is offline; looking for it again");
      }
      tree.files.clear();
      std::lock_guard<std::mutex> lock(mutex_);
      tree.online = false;
      tree.folders = 0;
    } else {
      // Gone with its root (an unmount) is offline, not deleted: say nothing.
      struct stat root_stat;
      const bool root_there = ::stat(tree.root.path.c_str(), &root_stat) == 0 && S_ISDIR(root_stat.st_mode);
      if (report && root_there) {
        for (const auto& [path, signature] : tree.files) queue_.file_removed(path);
      }
      tree.files.clear();
      tree.gone = true;
    }
    return;
  }
  if (tree.is_root() && !tree.online) {
    const bool came_back = report;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tree.online = true;
    }
    if (came_back) {
      if (options_.log) options_.log(WatchLogLevel::info, "watched root " + tree.root.path + " is back; rescanning it");
      queue_.root_lost_events(tree.root.path);
      report = false;  // the rescan covers every file
    }
  }
  if (report) {
    uint64_t changes = 0;
    for (const auto& [path, signature] : seen) {
      auto before = tree.files.find(path);
      if (before == tree.files.end() || before->second != signature) {
        queue_.file_changing(path);
        ++changes;
      }
    }
    for (const auto& [path, signature] : tree.files) {
      if (seen.count(path) == 0) {
        queue_.file_removed(path);
        ++changes;
      }
    }
    if (changes > 0 && options_.on_events) options_.on_events(changes);
  }
  tree.files = std::move(seen);
  std::lock_guard<std::mutex> lock(mutex_);
  tree.folders = folders;
}

}  // namespace imgsearchd
