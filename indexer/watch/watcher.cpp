#include "indexer/watch/watcher.h"

#include <sys/vfs.h>

#include <spdlog/spdlog.h>

#include "indexer/watch/inotify_watcher.h"
#include "indexer/watch/polling_watcher.h"
#include "indexer/watch/tree_walk.h"
#include "indexer/watch/watch_log.h"
#include "store/core/errors.h"

namespace imgsearchd {

const char* watcher_kind_name(WatcherKind kind) {
  switch (kind) {
    case WatcherKind::automatic: return "auto";
    case WatcherKind::inotify: return "inotify";
    case WatcherKind::poll: return "poll";
  }
  return "auto";
}

bool parse_watcher_kind(const std::string& text, WatcherKind& kind) {
  if (text == "auto") {
    kind = WatcherKind::automatic;
  } else if (text == "inotify") {
    kind = WatcherKind::inotify;
  } else if (text == "poll") {
    kind = WatcherKind::poll;
  } else {
    return false;
  }
  return true;
}

const char* root_watch_mode_name(RootWatchMode mode) {
  switch (mode) {
    case RootWatchMode::inotify: return "inotify";
    case RootWatchMode::inotify_and_poll: return "inotify+poll";
    case RootWatchMode::poll: return "poll";
    case RootWatchMode::offline: return "offline";
  }
  return "offline";
}

size_t count_watchable_folders(const std::string& root, const PathFilter& filter) {
  size_t folders = 0;
  walk_tree(root, root, filter, {[&folders](const std::string&) {
                                   ++folders;
                                   return true;
                                 },
                                 nullptr});
  return folders;
}

std::function<void(WatchLogLevel, const std::string&)> log_or_spdlog(
    std::function<void(WatchLogLevel, const std::string&)> log) {
  if (log) return log;
  return [](WatchLogLevel level, const std::string& message) {
    if (level == WatchLogLevel::warning) {
      spdlog::warn("{}", message);
    } else {
      spdlog::info("{}", message);
    }
  };
}

namespace {

// File systems whose changes made elsewhere inotify does not see.
bool is_network_file_system(const std::string& path) {
  struct statfs fs;
  if (::statfs(path.c_str(), &fs) != 0) return false;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0x6969UL:      // NFS
    case 0x517BUL:      // SMB
    case 0xFF534D42UL:  // CIFS
    case 0xFE534D42UL:  // SMB2
    case 0x01021997UL:  // 9p (virtual machine shares)
    case 0x5346414FUL:  // AFS
    case 0x00C36400UL:  // Ceph
      return true;
    default:
      return false;
  }
}

// Inotify for some roots, polling for the others; states in root order.
class WatcherSet : public Watcher {
 public:
  WatcherSet(WatcherOptions options, ChangeQueue& queue) : options_(std::move(options)), queue_(queue) {
    options_.log = log_or_spdlog(std::move(options_.log));
    for (const WatchRoot& root : options_.roots) PathFilter check(root.rules);  // throws ScanError
  }
  ~WatcherSet() override { stop(); }

  void start() override {
    WatcherOptions inotify_options = options_;
    WatcherOptions poll_options = options_;
    inotify_options.roots.clear();
    poll_options.roots.clear();
    for (const WatchRoot& root : options_.roots) {
      const bool poll = root.kind == WatcherKind::poll ||
                        (root.kind == WatcherKind::automatic && is_network_file_system(root.path));
      (poll ? poll_options : inotify_options).roots.push_back(root);
    }
    if (!inotify_options.roots.empty()) {
      auto inotify = std::make_unique<InotifyWatcher>(inotify_options, queue_);
      try {
        inotify->start();
        inotify_ = std::move(inotify);
      } catch (const Unavailable& error) {
        options_.log(WatchLogLevel::warning, std::string(error.what()) + "; polling every " +
                                                 std::to_string(options_.poll_interval.count()) + " ms instead");
        for (const WatchRoot& root : inotify_options.roots) poll_options.roots.push_back(root);
      }
    }
    if (!poll_options.roots.empty()) {
      poller_ = std::make_unique<PollingWatcher>(poll_options, queue_);
      poller_->start();
    }
  }

  void stop() override {
    if (inotify_) inotify_->stop();
    if (poller_) poller_->stop();
  }

  std::vector<RootWatchState> states() const override {
    std::vector<RootWatchState> found;
    if (inotify_) found = inotify_->states();
    if (poller_) {
      for (RootWatchState& state : poller_->states()) found.push_back(std::move(state));
    }
    std::vector<RootWatchState> ordered;
    for (const WatchRoot& root : options_.roots) {
      for (const RootWatchState& state : found) {
        if (state.root == root.path) {
          ordered.push_back(state);
          break;
        }
      }
    }
    return ordered;
  }

 private:
  WatcherOptions options_;
  ChangeQueue& queue_;
  std::unique_ptr<InotifyWatcher> inotify_;
  std::unique_ptr<PollingWatcher> poller_;
};

}  // namespace

std::unique_ptr<Watcher> make_watcher(WatcherOptions options, ChangeQueue& queue) {
  return std::make_unique<WatcherSet>(std::move(options), queue);
}

}  // namespace imgsearchd
