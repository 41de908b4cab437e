#include "indexer/watch/inotify_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <unordered_map>

#include "indexer/watch/tree_walk.h"
#include "indexer/watch/watch_log.h"
#include "store/core/errors.h"

namespace imgsearchd {

namespace {

constexpr uint32_t kWatchMask = IN_CREATE | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_OPEN | IN_ATTRIB | IN_MODIFY |
                                IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |
                                IN_EXCL_UNLINK | IN_ONLYDIR;

std::string read_proc_value(const char* path) {
  std::ifstream in(path);
  std::string value;
  if (!(in >> value)) return "unknown";
  return value;
}

std::string child_path(const std::string& folder, const char* name) {
  return folder == "/" ? "/" + std::string(name) : folder + "/" + name;
}

struct Root {
  Root(const WatchRoot& s) : spec(s), filter(s.rules) {}
  WatchRoot spec;
  PathFilter filter;  // the inotify thread's (start() runs before the thread)
  bool online = false;
  int wd = -1;
  dev_t device = 0;
  ino_t inode = 0;
  size_t watches = 0;
  bool polled_whole = false;  // its own watch failed at the limit: the fallback polls it all
  std::string problem;
};

struct Watch {
  size_t root;
  std::string path;
};

}  // namespace

struct InotifyWatcher::State {
  State(WatcherOptions o, ChangeQueue& q) : options(std::move(o)), queue(q), fallback(fallback_options(options), q) {
    options.log = log_or_spdlog(std::move(options.log));
    for (const WatchRoot& root : options.roots) roots.emplace_back(root);
  }

  static WatcherOptions fallback_options(const WatcherOptions& options) {
    WatcherOptions copy = options;
    copy.roots.clear();
    return copy;
  }

  void log(WatchLogLevel level, const std::string& message) const {
    if (options.log) options.log(level, message);
  }

  WatcherOptions options;
  ChangeQueue& queue;
  PollingWatcher fallback;
  int fd = -1;
  int wake_fd = -1;
  std::thread thread;
  bool started = false;

  mutable std::mutex mutex;  // guards roots, watches, paths (states() reads them)
  std::vector<Root> roots;
  std::unordered_map<int, Watch> watches;
  std::map<std::string, int> paths;  // watched folder -> wd
  bool limit_reached = false;        // since the last warning check
  bool limit_warned = false;
  // Trying the polled folders with inotify again (retry_watches_locked).
  WatchClock::time_point next_retry = WatchClock::time_point::max();
  std::chrono::milliseconds retry_delay{0};
  bool retrying = false;     // add_watch_locked: a failure polls nothing, it is noted
  bool retry_failed = false;

  // The pretended watch limit of a test; 0 = none.
  size_t pretended_limit() const {
    return options.testing.watch_limit ? options.testing.watch_limit() : options.testing.max_watches;
  }

  // --- Watches. All with `mutex` held.

  // Watches `folder`; false when it cannot be (then it is polled when the
  // limit is the reason).
  bool add_watch_locked(size_t root_index, const std::string& folder) {
    Root& root = roots[root_index];
    auto known = paths.find(folder);
    if (known != paths.end()) {
      // Already watched: under another root (nested roots; the first keeps
      // it, with its rules) or by an earlier walk.
      if (folder == root.spec.path) root.wd = known->second;
      return true;
    }
    const size_t pretend = pretended_limit();
    const bool pretend_full = pretend != 0 && watches.size() >= pretend;
    const uint32_t mask = kWatchMask | (folder == root.spec.path ? 0 : IN_DONT_FOLLOW);
    const int wd = pretend_full ? -1 : ::inotify_add_watch(fd, folder.c_str(), mask);
    const int error = pretend_full ? ENOSPC : errno;
    if (wd < 0) {
      if (error == ENOSPC || error == ENOMEM) {
        if (retrying) {
          retry_failed = true;
          return false;
        }
        limit_reached = true;
        fallback.add_tree(root.spec, folder);
        if (folder == root.spec.path) root.polled_whole = true;
        if (next_retry == WatchClock::time_point::max()) {
          retry_delay = options.watch_retry_delay;
          next_retry = WatchClock::now() + retry_delay;
        }
      }
      return false;
    }
    if (watches.count(wd) != 0) {  // the same folder by another path (a bind mount, a link as root)
      if (folder == root.spec.path) root.wd = wd;
      return true;
    }
    watches.emplace(wd, Watch{root_index, folder});
    paths.emplace(folder, wd);
    ++root.watches;
    if (folder == root.spec.path) root.wd = wd;
    return true;
  }

  void add_tree_locked(size_t root_index, const std::string& start) {
    Root& root = roots[root_index];
    walk_tree(root.spec.path, start, root.filter,
              {[this, root_index](const std::string& folder) { return add_watch_locked(root_index, folder); }, nullptr});
  }

  void forget_watch_locked(int wd) {
    auto it = watches.find(wd);
    if (it == watches.end()) return;
    Root& root = roots[it->second.root];
    if (root.watches > 0) --root.watches;
    if (root.wd == wd) root.wd = -1;
    paths.erase(it->second.path);
    watches.erase(it);
  }

  // Removes the watches of `folder` and every folder below it.
  void remove_tree_locked(const std::string& folder) {
    std::vector<int> wds;
    auto exact = paths.find(folder);
    if (exact != paths.end()) wds.push_back(exact->second);
    const std::string prefix = folder == "/" ? "/" : folder + "/";
    for (auto it = paths.lower_bound(prefix); it != paths.end() && it->first.compare(0, prefix.size(), prefix) == 0;
         ++it) {
      wds.push_back(it->second);
    }
    for (int wd : wds) {
      ::inotify_rm_watch(fd, wd);  // EINVAL when the kernel dropped it already
      forget_watch_locked(wd);
    }
  }

  // Warns once when the watch limit was reached, naming the sysctl, its
  // value and about how many watches the roots need.
  void warn_about_limit_locked() {
    if (!limit_reached || limit_warned) return;
    limit_warned = true;
    size_t needed = 0;
    size_t held = 0;
    size_t trees = 0;
    for (const Root& root : roots) {
      if (!root.online) continue;
      needed += count_watchable_folders(root.spec.path, root.filter);
      held += root.watches;
      trees += fallback.trees_below(root.spec.path);
    }
    const std::string limit = pretended_limit() != 0
                                  ? std::to_string(pretended_limit()) + " (a test's pretended limit)"
                                  : read_proc_value("/proc/sys/fs/inotify/max_user_watches");
    log(WatchLogLevel::warning,
        "the inotify watch limit is reached: fs.inotify.max_user_watches is " + limit + " (per user, all programs), " +
            "the roots need about " + std::to_string(needed) + " watches and " + std::to_string(held) +
            " are held; the folders that could not be watched (" + std::to_string(trees) +
            " trees) are polled every " + std::to_string(options.poll_interval.count() / 1000) +
            " s instead, so their changes are noticed later. To watch them all, raise the limit, e.g. `sudo sysctl "
            "fs.inotify.max_user_watches=" +
            std::to_string(std::max<size_t>(524288, needed * 2)) +
            "` (and put the setting in /etc/sysctl.d/ to keep it); the polled folders are tried with inotify again "
            "from time to time, without a restart");
  }

  // Tries inotify again for the folder trees polled since the watch limit
  // ran out, one tree at a time: a tree watched whole leaves the poller and
  // is reported as a folder to reconcile; the first that still hits the
  // limit has its new watches undone and ends the round, and the next try
  // waits twice as long.
  void retry_watches_locked() {
    size_t rewatched = 0;
    bool failed = false;
    for (const PollingWatcher::PolledTree& tree : fallback.trees()) {
      size_t root_index = roots.size();
      for (size_t i = 0; i < roots.size(); ++i) {
        if (roots[i].online && roots[i].spec.path == tree.root) root_index = i;
      }
      if (root_index == roots.size()) continue;  // offline: its return watches it anew
      retrying = true;
      retry_failed = false;
      add_tree_locked(root_index, tree.folder);
      retrying = false;
      if (retry_failed) {
        remove_tree_locked(tree.folder);
        failed = true;
        break;
      }
      fallback.remove_tree(tree.folder);
      if (tree.folder == roots[root_index].spec.path) roots[root_index].polled_whole = false;
      queue.folder_changed(tree.folder);
      ++rewatched;
    }
    const size_t still_polled = fallback.trees().size();
    if (failed || still_polled > 0) {
      retry_delay = std::min(retry_delay * 2, options.watch_retry_max_delay);
      next_retry = WatchClock::now() + retry_delay;
      log(WatchLogLevel::info, "the inotify watch limit is still reached: " + std::to_string(rewatched) +
                                   " folder trees are watched again, " + std::to_string(still_polled) +
                                   " stay polled; trying again in " + std::to_string(retry_delay.count()) + " ms");
      return;
    }
    next_retry = WatchClock::time_point::max();
    limit_reached = false;
    limit_warned = false;
    log(WatchLogLevel::info, "every folder is watched with inotify again (" + std::to_string(rewatched) +
                                 " folder trees were polled at the watch limit)");
  }

  // --- Roots.

  // Looks for the roots: an offline root that is back is watched and
  // reported for a rescan; an online root whose folder is gone or replaced
  // (deleted, unmounted, mounted over) goes offline or is watched anew.
  void check_roots_locked(bool report) {
    for (size_t i = 0; i < roots.size(); ++i) {
      Root& root = roots[i];
      struct stat st;
      const bool present = ::stat(root.spec.path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      if (root.online && present && st.st_dev == root.device && st.st_ino == root.inode &&
          (root.wd >= 0 || root.polled_whole)) {
        continue;
      }
      if (root.online) {
        remove_tree_locked(root.spec.path);
        root.online = false;
        root.problem = "the root folder is missing or not a folder";
        if (!present) log(WatchLogLevel::info, "watched root " + root.spec.path + " is offline; looking for it again");
      }
      if (!present) {
        root.problem = "the root folder is missing or not a folder";
        continue;
      }
      root.online = true;
      root.polled_whole = false;
      root.problem.clear();
      root.device = st.st_dev;
      root.inode = st.st_ino;
      add_tree_locked(i, root.spec.path);
      if (report) {
        log(WatchLogLevel::info, "watched root " + root.spec.path + " is there (again); rescanning it");
        queue.root_lost_events(root.spec.path);
      }
    }
    warn_about_limit_locked();
  }

  void root_gone_locked(size_t root_index) {
    Root& root = roots[root_index];
    if (!root.online) return;
    remove_tree_locked(root.spec.path);
    root.online = false;
    root.problem = "the root folder was deleted, moved or unmounted";
    log(WatchLogLevel::info, "watched root " + root.spec.path + " was deleted, moved or unmounted; looking for it again");
  }

  // --- Events.

  void handle(const inotify_event& event) {
    std::lock_guard<std::mutex> lock(mutex);
    if (event.mask & IN_Q_OVERFLOW) {
      // Events were lost: every root is rescanned, and folders made meanwhile
      // may lack a watch: walk again (known folders cost nothing).
      if (options.on_overflow) options.on_overflow();
      queue.forget_open_files();
      for (size_t i = 0; i < roots.size(); ++i) {
        if (!roots[i].online) continue;
        queue.root_lost_events(roots[i].spec.path);
        add_tree_locked(i, roots[i].spec.path);
      }
      warn_about_limit_locked();
      return;
    }
    auto found = watches.find(event.wd);
    if (found == watches.end()) return;
    const size_t root_index = found->second.root;
    Root& root = roots[root_index];
    if (event.mask & IN_IGNORED) {
      const bool was_root = root.wd == event.wd;
      forget_watch_locked(event.wd);
      if (was_root) root_gone_locked(root_index);
      return;
    }
    if (event.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
      if (root.wd == event.wd) {
        root_gone_locked(root_index);
      } else if (event.mask & IN_UNMOUNT) {
        // A file system mounted below the root went away: the folder under
        // it shows again, unwatched.
        const std::string folder = found->second.path;
        forget_watch_locked(event.wd);
        add_tree_locked(root_index, folder);
        queue.folder_changed(folder);
      }
      return;  // a sub-folder's own move or delete comes from its parent too
    }
    if (event.len == 0) return;
    const std::string path = child_path(found->second.path, event.name);
    const std::string relative = relative_to(root.spec.path, path);
    if (event.mask & IN_ISDIR) {
      if (!root.filter.enters_folder(relative)) return;
      if (event.mask & (IN_CREATE | IN_MOVED_TO)) {
        add_tree_locked(root_index, path);
        queue.folder_changed(path);
        warn_about_limit_locked();
      } else if (event.mask & (IN_DELETE | IN_MOVED_FROM)) {
        remove_tree_locked(path);
        queue.folder_changed(path);
      }
      return;
    }
    if (!root.filter.is_candidate_file(relative)) return;
    if (event.mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
      queue.file_complete(path);
    } else if (event.mask & (IN_DELETE | IN_MOVED_FROM)) {
      queue.file_removed(path);
    } else if (event.mask & (IN_CREATE | IN_MODIFY | IN_ATTRIB)) {
      queue.file_changing(path);
    } else if (event.mask & IN_OPEN) {
      queue.file_opened(path);
    } else if (event.mask & IN_CLOSE_NOWRITE) {
      queue.file_closed_unwritten(path);
    }
  }

  void run() {
    alignas(inotify_event) char buffer[64 * 1024];
    auto next_check = WatchClock::now() + options.offline_check_interval;
    for (;;) {
      const auto now = WatchClock::now();
      if (now >= next_check) {
        std::lock_guard<std::mutex> lock(mutex);
        check_roots_locked(true);
        next_check = now + options.offline_check_interval;
      }
      WatchClock::time_point wake_at = next_check;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (now >= next_retry) retry_watches_locked();
        wake_at = std::min(wake_at, next_retry);
      }
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake_at - now).count() + 1;
      pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
      const int ready = ::poll(fds, 2, static_cast<int>(std::max<int64_t>(wait, 1)));
      if (ready < 0 && errno != EINTR) break;
      if (fds[1].revents & POLLIN) break;  // stop()
      if (!(fds[0].revents & POLLIN)) continue;
      if (options.testing.before_read) options.testing.before_read();
      const ssize_t length = ::read(fd, buffer, sizeof buffer);
      if (length <= 0) continue;
      uint64_t events = 0;
      for (ssize_t offset = 0; offset < length; ++events) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
        handle(*event);
        offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
      if (options.on_events) options.on_events(events);
    }
  }
};

InotifyWatcher::InotifyWatcher(WatcherOptions options, ChangeQueue& queue)
    : state_(std::make_unique<State>(std::move(options), queue)) {}

InotifyWatcher::~InotifyWatcher() { stop(); }

void InotifyWatcher::start() {
  State& s = *state_;
  if (s.started) return;
  s.fd = s.options.testing.no_inotify_instance ? -1 : ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (s.fd < 0) {
    const int error = s.options.testing.no_inotify_instance ? EMFILE : errno;
    std::string message = std::string("cannot watch folders with inotify: ") + std::strerror(error);
    if (error == EMFILE) {
      message += " (the limit fs.inotify.max_user_instances is " +
                 read_proc_value("/proc/sys/fs/inotify/max_user_instances") +
                 " per user; raise it, e.g. `sudo sysctl fs.inotify.max_user_instances=512`)";
    }
    throw Unavailable(message);
  }
  s.wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s.wake_fd < 0) {
    const int error = errno;
    ::close(s.fd);
    s.fd = -1;
    throw Unavailable(std::string("cannot make an eventfd for the watcher: ") + std::strerror(error));
  }
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.check_roots_locked(false);
  }
  s.fallback.start();
  s.started = true;
  s.thread = std::thread([&s] { s.run(); });
}

void InotifyWatcher::stop() {
  State& s = *state_;
  if (s.wake_fd >= 0) {
    const uint64_t one = 1;
    ssize_t ignored = ::write(s.wake_fd, &one, sizeof one);
    (void)ignored;
  }
  if (s.thread.joinable()) s.thread.join();
  s.fallback.stop();
  if (s.fd >= 0) ::close(s.fd);
  if (s.wake_fd >= 0) ::close(s.wake_fd);
  s.fd = -1;
  s.wake_fd = -1;
}

std::vector<RootWatchState> InotifyWatcher::states() const {
  const State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  std::vector<RootWatchState> states;
  for (const Root& root : s.roots) {
    RootWatchState state;
    state.root = root.spec.path;
    state.watches = root.watches;
    state.polled_folders = root.online ? s.fallback.trees_below(root.spec.path) : 0;
    state.mode = !root.online              ? RootWatchMode::offline
                 : root.polled_whole        ? RootWatchMode::poll
                 : state.polled_folders > 0 ? RootWatchMode::inotify_and_poll
                                            : RootWatchMode::inotify;
    state.problem = root.problem;
    if (state.mode == RootWatchMode::inotify_and_poll || state.mode == RootWatchMode::poll) {
      state.problem = "the inotify watch limit (fs.inotify.max_user_watches) is reached: " +
                      std::to_string(state.polled_folders) + " folder trees are polled";
    }
    states.push_back(std::move(state));
  }
  return states;
}

PollingWatcher& InotifyWatcher::fallback_poller() { return state_->fallback; }

}  // namespace imgsearchd
