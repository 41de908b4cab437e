// The watchers on real folders, with real inotify and real polling: each test
// makes a change a user would make and waits (with a deadline) for what the
// indexing pipeline would be told.
#include "indexer/watch/watcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/files.h"
#include "tests/support/scratch.h"
#include "indexer/scan/scanner.h"
#include "indexer/watch/inotify_watcher.h"
#include "indexer/watch/polling_watcher.h"

namespace imgsearchd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::fresh_dir;
using test::write_file;

constexpr auto kDeadline = 20s;

size_t count_entries(const char* folder) {
  size_t count = 0;
  for (const auto& entry : fs::directory_iterator(folder)) {
    (void)entry;
    ++count;
  }
  return count;
}

std::string read_proc(const char* path) {
  std::ifstream in(path);
  std::string value;
  in >> value;
  return value;
}

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fresh_dir("watch");
    root_ = (base_ / "root").string();
    outside_ = (base_ / "outside").string();
    fs::create_directories(root_);
    fs::create_directories(outside_);
  }

  void TearDown() override {
    if (watcher_) watcher_->stop();
  }

  static ChangeQueueOptions queue_options() {
    ChangeQueueOptions options;
    options.settle_delay = 300ms;
    options.open_settle_delay = 10s;
    options.batch_delay = 20ms;
    return options;
  }

  WatcherOptions watcher_options(WatcherKind kind = WatcherKind::inotify) {
    WatcherOptions options;
    options.roots = {WatchRoot{root_, kind, CandidateRules{}}};
    options.poll_interval = 100ms;
    options.offline_check_interval = 100ms;
    options.log = [this](WatchLogLevel level, const std::string& message) {
      std::lock_guard<std::mutex> lock(log_mutex_);
      (level == WatchLogLevel::warning ? warnings_ : notes_).push_back(message);
    };
    return options;
  }

  void start(WatcherOptions options) {
    watcher_ = make_watcher(std::move(options), queue_);
    watcher_->start();
  }
  void start(WatcherKind kind = WatcherKind::inotify) { start(watcher_options(kind)); }

  // Takes one batch (waiting a little) into what has been seen.
  void take_one() {
    const ChangeBatch batch = queue_.pop(WatchClock::now() + 50ms);
    for (const std::string& file : batch.files) {
      ++reports_[file];
      struct stat st;
      sizes_[file] = ::stat(file.c_str(), &st) == 0 ? static_cast<long>(st.st_size) : -1;
    }
    for (const std::string& folder : batch.folders) folders_.insert(folder);
    for (const std::string& root : batch.roots) roots_.insert(root);
  }

  // Pops batches until `condition` holds; false at the deadline.
  template <typename Condition>
  bool wait_until(Condition condition, std::chrono::seconds deadline = kDeadline) {
    const auto end = WatchClock::now() + deadline;
    while (!condition()) {
      if (WatchClock::now() > end) return false;
      take_one();
    }
    return true;
  }

  bool reported(const std::string& path) { return reports_.count(path) != 0; }
  // Reported itself, or below a reported folder or root (which the pipeline reconciles whole).
  bool covered(const std::string& path) {
    if (reported(path)) return true;
    for (const auto* trees : {&folders_, &roots_}) {
      for (const std::string& tree : *trees) {
        if (path.compare(0, tree.size() + 1, tree + "/") == 0) return true;
      }
    }
    return false;
  }
  bool wait_for_file(const std::string& path) {
    return wait_until([&] { return reported(path); });
  }

  // Everything the watcher was told so far has been handed out: nothing is
  // left settling, so no further report can come from earlier changes. A
  // marker file written last makes sure its events, and so all earlier
  // ones, were read.
  void drain() {
    const std::string marker = root_ + "/zz-marker-" + std::to_string(markers_++) + ".jpg";
    write_file(marker);
    ASSERT_TRUE(wait_until([&] { return reported(marker) && queue_.pending() == 0; })) << "marker " << marker;
  }

  // The candidates the pipeline would find: reported files plus a scan of
  // every reported folder and root.
  std::set<std::string> found_by_pipeline() {
    std::set<std::string> found;
    for (const auto& [file, count] : reports_) {
      if (fs::exists(file)) found.insert(file);
    }
    std::vector<std::string> trees(folders_.begin(), folders_.end());
    trees.insert(trees.end(), roots_.begin(), roots_.end());
    for (const std::string& tree : trees) {
      if (!fs::is_directory(tree)) continue;
      ScanOptions options;
      options.roots = {tree};
      for (const ScannedFile& file : scan_all(options).files) found.insert(file.path);
    }
    return found;
  }

  std::vector<std::string> warnings() {
    std::lock_guard<std::mutex> lock(log_mutex_);
    return warnings_;
  }

  RootWatchState state() {
    const auto states = watcher_->states();
    EXPECT_EQ(states.size(), 1u);
    return states.empty() ? RootWatchState{} : states[0];
  }

  fs::path base_;
  std::string root_;
  std::string outside_;
  ChangeQueue queue_{queue_options()};
  std::unique_ptr<Watcher> watcher_;
  std::map<std::string, int> reports_;
  std::map<std::string, long> sizes_;  // at the time of the report
  std::set<std::string> folders_;
  std::set<std::string> roots_;
  int markers_ = 0;
  std::mutex log_mutex_;
  std::vector<std::string> warnings_;
  std::vector<std::string> notes_;
};

TEST_F(WatcherTest, DroppedFileIsReportedOnceAfterItsClose) {
  start();
  EXPECT_EQ(state().mode, RootWatchMode::inotify);
  EXPECT_EQ(state().watches, 1u);
  const std::string file = root_ + "/photo.jpg";
  write_file(file, std::string(100000, 'x'));
  ASSERT_TRUE(wait_for_file(file));
  drain();
  EXPECT_EQ(reports_[file], 1);
  EXPECT_EQ(sizes_[file], 100000);
  EXPECT_TRUE(folders_.empty());
  EXPECT_TRUE(roots_.empty());
}

TEST_F(WatcherTest, NonCandidatesAreNotReported) {
  start();
  write_file(root_ + "/notes.txt");
  write_file(root_ + "/.hidden.jpg");
  write_file(root_ + "/@eaDir/thumb.jpg");
  fs::create_directories(root_ + "/.git/objects");
  write_file(root_ + "/.git/objects/x.jpg");
  drain();
  EXPECT_EQ(reports_.size(), 1u) << "only the marker";
  EXPECT_TRUE(folders_.empty()) << "hidden and clutter folders are not reported: " << *folders_.begin();
}

TEST_F(WatcherTest, FileWrittenInTwoPartsWithAPauseIsReportedOnceComplete) {
  start();
  const std::string file = root_ + "/slow.jpg";
  const int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  const std::string part(50000, 'a');
  ASSERT_EQ(::write(fd, part.data(), part.size()), static_cast<ssize_t>(part.size()));
  ASSERT_TRUE(wait_until([&] { return queue_.pending() > 0; })) << "the first part was not noticed";
  // The writer pauses for three quiet periods, holding the file open.
  const auto pause_end = WatchClock::now() + 3 * queue_options().settle_delay;
  while (WatchClock::now() < pause_end) take_one();
  EXPECT_FALSE(reported(file)) << "reported half-written, " << sizes_[file] << " bytes";
  ASSERT_EQ(::write(fd, part.data(), part.size()), static_cast<ssize_t>(part.size()));
  ASSERT_EQ(::close(fd), 0);
  ASSERT_TRUE(wait_for_file(file));
  drain();
  EXPECT_EQ(reports_[file], 1);
  EXPECT_EQ(sizes_[file], 100000);
}

TEST_F(WatcherTest, RenameWithinTheRootReportsBothPaths) {
  write_file(root_ + "/a/old.jpg");
  fs::create_directories(root_ + "/b");
  start();
  fs::rename(root_ + "/a/old.jpg", root_ + "/b/new.jpg");
  ASSERT_TRUE(wait_until([&] { return reported(root_ + "/a/old.jpg") && reported(root_ + "/b/new.jpg"); }));
  // Into a folder made just before: the folder's report covers the file,
  // whether or not its watch was in place for the move.
  fs::create_directories(root_ + "/c");
  fs::rename(root_ + "/b/new.jpg", root_ + "/c/newer.jpg");
  ASSERT_TRUE(wait_until([&] { return reported(root_ + "/b/new.jpg") && covered(root_ + "/c/newer.jpg"); }));
}

TEST_F(WatcherTest, CaseOnlyRenameReportsBothPaths) {
  write_file(root_ + "/beach.jpg");
  start();
  fs::rename(root_ + "/beach.jpg", root_ + "/Beach.JPG");
  ASSERT_TRUE(wait_until([&] { return reported(root_ + "/beach.jpg") && reported(root_ + "/Beach.JPG"); }));
}

TEST_F(WatcherTest, MovesInFromOutsideAndOutToOutsideAreReported) {
  write_file(outside_ + "/in.jpg");
  write_file(root_ + "/out.jpg");
  start();
  fs::rename(outside_ + "/in.jpg", root_ + "/in.jpg");
  fs::rename(root_ + "/out.jpg", outside_ + "/out.jpg");
  ASSERT_TRUE(wait_until([&] { return reported(root_ + "/in.jpg") && reported(root_ + "/out.jpg"); }));
  EXPECT_FALSE(reported(outside_ + "/in.jpg"));
  EXPECT_FALSE(reported(outside_ + "/out.jpg"));
}

TEST_F(WatcherTest, FolderMovedInIsReportedAndWatched) {
  write_file(outside_ + "/album/a.jpg");
  write_file(outside_ + "/album/sub/b.jpg");
  start();
  fs::rename(outside_ + "/album", root_ + "/album");
  ASSERT_TRUE(wait_until([&] { return folders_.count(root_ + "/album") != 0; }));
  write_file(root_ + "/album/sub/c.jpg");
  ASSERT_TRUE(wait_for_file(root_ + "/album/sub/c.jpg")) << "the moved-in folder's sub-folder is not watched";
  const std::set<std::string> found = found_by_pipeline();
  for (const char* name : {"/album/a.jpg", "/album/sub/b.jpg", "/album/sub/c.jpg"}) {
    EXPECT_EQ(found.count(root_ + name), 1u) << name;
  }
}

TEST_F(WatcherTest, FolderRenameReportsBothFoldersAndWatchesTheNewPaths) {
  for (int i = 0; i < 20; ++i) write_file(root_ + "/2019/summer/" + std::to_string(i) + ".jpg");
  start();
  const size_t watches_before = state().watches;
  fs::rename(root_ + "/2019", root_ + "/2019-renamed");
  ASSERT_TRUE(wait_until(
      [&] { return folders_.count(root_ + "/2019") != 0 && folders_.count(root_ + "/2019-renamed") != 0; }));
  EXPECT_TRUE(reports_.empty()) << "files reported one by one for a folder rename: " << reports_.begin()->first;
  write_file(root_ + "/2019-renamed/summer/new.jpg");
  ASSERT_TRUE(wait_for_file(root_ + "/2019-renamed/summer/new.jpg"));
  EXPECT_EQ(state().watches, watches_before);
}

TEST_F(WatcherTest, NewNestedFolderFilledAtOnceHasEveryFileFound) {
  start();
  std::set<std::string> expected;
  std::string folder = root_;
  for (int depth = 0; depth < 6; ++depth) {
    folder += "/level" + std::to_string(depth);
    ::mkdir(folder.c_str(), 0755);
    for (int i = 0; i < 5; ++i) {
      const std::string file = folder + "/" + std::to_string(i) + ".jpg";
      write_file(file);
      expected.insert(file);
    }
  }
  ASSERT_TRUE(wait_until([&] {
    const std::set<std::string> found = found_by_pipeline();
    return std::includes(found.begin(), found.end(), expected.begin(), expected.end());
  })) << "a file written into a new folder was missed";
  EXPECT_TRUE(roots_.empty()) << "the watcher fell back to a root rescan";
  EXPECT_EQ(state().watches, 7u);  // the root and six levels
  write_file(folder + "/later.jpg");
  ASSERT_TRUE(wait_for_file(folder + "/later.jpg"));
}

TEST_F(WatcherTest, DeletedFileAndFolderAreReported) {
  write_file(root_ + "/gone.jpg");
  write_file(root_ + "/album/a.jpg");
  write_file(root_ + "/album/deep/b.jpg");
  start();
  EXPECT_EQ(state().watches, 3u);
  fs::remove(root_ + "/gone.jpg");
  fs::remove_all(root_ + "/album");
  ASSERT_TRUE(wait_until([&] { return reported(root_ + "/gone.jpg") && folders_.count(root_ + "/album") != 0; }));
  ASSERT_TRUE(wait_until([&] { return state().watches == 1u; })) << "watches of deleted folders are held";
}

TEST_F(WatcherTest, QueueOverflowBecomesARootRescan) {
  const long max_queued = std::stol(read_proc("/proc/sys/fs/inotify/max_queued_events"));
  std::mutex mutex;
  std::condition_variable released_cv;
  bool released = false;
  std::atomic<bool> holding{false};
  WatcherOptions options = watcher_options();
  options.testing.before_read = [&] {
    holding = true;
    std::unique_lock<std::mutex> lock(mutex);
    released_cv.wait(lock, [&] { return released; });
  };
  start(options);
  write_file(root_ + "/first.jpg");
  ASSERT_TRUE(wait_until([&] { return holding.load(); }));
  // Each empty file made gives at least three events (create, open, close).
  const long files = max_queued / 3 + 100;
  for (long i = 0; i < files; ++i) {
    const std::string file = root_ + "/" + std::to_string(i) + ".jpg";
    const int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    released = true;
  }
  released_cv.notify_all();
  ASSERT_TRUE(wait_until([&] { return roots_.count(root_) != 0; })) << files << " files made, no overflow reported";
  write_file(root_ + "/after.jpg");
  ASSERT_TRUE(wait_for_file(root_ + "/after.jpg")) << "watching stopped after the overflow";
}

TEST_F(WatcherTest, WatchLimitGivesOneWarningAndPollsTheUnwatchedFolders) {
  for (const char* name : {"a/1.jpg", "b/2.jpg", "b/c/3.jpg", "d/4.jpg"}) write_file(root_ + "/" + name);
  WatcherOptions options = watcher_options();
  options.testing.max_watches = 2;  // the root and a
  start(options);
  const std::vector<std::string> warned = warnings();
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_NE(warned[0].find("fs.inotify.max_user_watches"), std::string::npos) << warned[0];
  EXPECT_NE(warned[0].find("need about 5 watches"), std::string::npos) << warned[0];
  RootWatchState now = state();
  EXPECT_EQ(now.mode, RootWatchMode::inotify_and_poll);
  EXPECT_EQ(now.watches, 2u);
  EXPECT_EQ(now.polled_folders, 2u);  // b (with c) and d
  EXPECT_NE(now.problem.find("max_user_watches"), std::string::npos) << now.problem;

  write_file(root_ + "/a/new.jpg");          // watched
  write_file(root_ + "/b/c/new.jpg");        // polled
  fs::remove(root_ + "/d/4.jpg");            // polled
  write_file(root_ + "/b/2.jpg", "changed");  // polled, modified
  ASSERT_TRUE(wait_until([&] {
    return reported(root_ + "/a/new.jpg") && reported(root_ + "/b/c/new.jpg") && reported(root_ + "/d/4.jpg") &&
           reported(root_ + "/b/2.jpg");
  }));
  // A folder made later that cannot be watched is polled too; no second warning.
  write_file(root_ + "/e/5.jpg");
  ASSERT_TRUE(wait_until([&] { return folders_.count(root_ + "/e") != 0; }));
  write_file(root_ + "/e/6.jpg");
  ASSERT_TRUE(wait_for_file(root_ + "/e/6.jpg"));
  EXPECT_EQ(warnings().size(), 1u);
}

TEST_F(WatcherTest, FoldersPolledAtTheWatchLimitAreWatchedAgainOnceWatchesAreFree) {
  for (const char* name : {"a/1.jpg", "b/2.jpg", "b/c/3.jpg", "d/4.jpg"}) write_file(root_ + "/" + name);
  std::atomic<size_t> limit{2};  // the root and a
  WatcherOptions options = watcher_options();
  options.poll_interval = std::chrono::hours(1);  // only inotify can report below
  options.watch_retry_delay = 20ms;
  options.watch_retry_max_delay = 80ms;
  options.testing.watch_limit = [&] { return limit.load(); };
  start(options);
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_EQ(state().mode, RootWatchMode::inotify_and_poll);
  EXPECT_EQ(state().polled_folders, 2u);  // b (with c) and d

  // Tries while the limit holds change nothing (and say so).
  auto notes_saying = [&](const std::string& part) {
    std::lock_guard<std::mutex> lock(log_mutex_);
    return std::count_if(notes_.begin(), notes_.end(),
                         [&](const std::string& note) { return note.find(part) != std::string::npos; });
  };
  ASSERT_TRUE(wait_until([&] { return notes_saying("still reached") >= 3; }));
  EXPECT_EQ(state().mode, RootWatchMode::inotify_and_poll);
  EXPECT_EQ(state().watches, 2u);
  EXPECT_EQ(state().polled_folders, 2u);

  // Watches are free again: every folder is watched, none polled, and the
  // trees that were polled are reconciled (what changed meanwhile).
  limit = 100;
  ASSERT_TRUE(wait_until([&] {
    const RootWatchState now = state();
    return now.mode == RootWatchMode::inotify && now.polled_folders == 0 && now.watches == 5u;
  }));
  EXPECT_TRUE(state().problem.empty()) << state().problem;
  ASSERT_TRUE(wait_until([&] { return folders_.count(root_ + "/b") != 0 && folders_.count(root_ + "/d") != 0; }));
  EXPECT_EQ(notes_saying("every folder is watched with inotify again"), 1);

  // Polling every hour, only inotify can report these in time.
  write_file(root_ + "/b/c/new.jpg");
  write_file(root_ + "/d/new.jpg");
  ASSERT_TRUE(wait_until([&] { return reported(root_ + "/b/c/new.jpg") && reported(root_ + "/d/new.jpg"); }));

  // Exhausted again: a second warning (the first was for the last time).
  limit = 5;
  write_file(root_ + "/e/5.jpg");
  ASSERT_TRUE(wait_until([&] { return folders_.count(root_ + "/e") != 0; }));
  ASSERT_TRUE(wait_until([&] { return warnings().size() == 2u; }));
  EXPECT_EQ(state().mode, RootWatchMode::inotify_and_poll);
}

TEST_F(WatcherTest, RootThatCannotBeWatchedAtAllIsPolledWhole) {
  const std::string second = (base_ / "second").string();
  write_file(second + "/sub/a.jpg");
  WatcherOptions options = watcher_options();
  options.roots.push_back(WatchRoot{second, WatcherKind::inotify, CandidateRules{}});
  options.testing.max_watches = 1;  // the first root's folder only
  start(options);
  ASSERT_EQ(warnings().size(), 1u);
  const std::vector<RootWatchState> states = watcher_->states();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].mode, RootWatchMode::inotify);
  EXPECT_EQ(states[1].mode, RootWatchMode::poll);
  EXPECT_EQ(states[1].watches, 0u);
  // Root checks pass (every 100 ms) and must leave the polled root alone.
  const auto checks_end = WatchClock::now() + 5 * options.offline_check_interval;
  while (WatchClock::now() < checks_end) take_one();
  write_file(second + "/sub/b.jpg");
  ASSERT_TRUE(wait_for_file(second + "/sub/b.jpg"));
  EXPECT_TRUE(roots_.empty()) << "the polled root was rescanned again and again: " << *roots_.begin();
  EXPECT_EQ(watcher_->states()[1].polled_folders, 1u);
}

TEST_F(WatcherTest, NoInotifyInstanceFallsBackToPollingWithAWarning) {
  WatcherOptions options = watcher_options();
  options.testing.no_inotify_instance = true;
  start(options);
  const std::vector<std::string> warned = warnings();
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_NE(warned[0].find("fs.inotify.max_user_instances"), std::string::npos) << warned[0];
  EXPECT_EQ(state().mode, RootWatchMode::poll);
  write_file(root_ + "/polled.jpg");
  ASSERT_TRUE(wait_for_file(root_ + "/polled.jpg"));
}

TEST_F(WatcherTest, PollingWatcherFindsCreatedModifiedAndDeletedFiles) {
  write_file(root_ + "/keep.jpg", "v1");
  write_file(root_ + "/gone.jpg");
  write_file(root_ + "/sub/same.jpg");
  start(WatcherKind::poll);
  EXPECT_EQ(state().mode, RootWatchMode::poll);
  EXPECT_EQ(state().polled_folders, 2u);
  write_file(root_ + "/new/deep/made.jpg");
  write_file(root_ + "/keep.jpg", "version two");
  fs::remove(root_ + "/gone.jpg");
  write_file(root_ + "/ignored.txt");
  ASSERT_TRUE(wait_until([&] {
    return reported(root_ + "/new/deep/made.jpg") && reported(root_ + "/keep.jpg") && reported(root_ + "/gone.jpg");
  }));
  EXPECT_FALSE(reported(root_ + "/sub/same.jpg")) << "an unchanged file was reported";
  EXPECT_FALSE(reported(root_ + "/ignored.txt"));
}

TEST_F(WatcherTest, RootMissingAtStartIsWatchedWhenItAppears) {
  fs::remove_all(root_);
  start();
  EXPECT_EQ(state().mode, RootWatchMode::offline);
  write_file(root_ + "/early.jpg");
  ASSERT_TRUE(wait_until([&] { return roots_.count(root_) != 0; })) << "the root's arrival was not reported";
  EXPECT_EQ(state().mode, RootWatchMode::inotify);
  write_file(root_ + "/later.jpg");
  ASSERT_TRUE(wait_for_file(root_ + "/later.jpg"));
}

TEST_F(WatcherTest, RootDeletedAndRecreatedIsWatchedAgain) {
  write_file(root_ + "/a/1.jpg");
  start();
  fs::remove_all(root_);
  ASSERT_TRUE(wait_until([&] { return state().mode == RootWatchMode::offline; }));
  EXPECT_EQ(state().watches, 0u);
  roots_.clear();
  write_file(root_ + "/b/2.jpg");
  ASSERT_TRUE(wait_until([&] { return roots_.count(root_) != 0 && state().mode == RootWatchMode::inotify; }));
  write_file(root_ + "/b/3.jpg");
  ASSERT_TRUE(wait_for_file(root_ + "/b/3.jpg"));
}

TEST_F(WatcherTest, SeveralRootsAndMovesBetweenThem) {
  const std::string second = (base_ / "second").string();
  write_file(root_ + "/a.jpg");
  fs::create_directories(second);
  WatcherOptions options = watcher_options();
  options.roots.push_back(WatchRoot{second, WatcherKind::automatic, CandidateRules{}});
  start(options);
  ASSERT_EQ(watcher_->states().size(), 2u);
  EXPECT_EQ(watcher_->states()[1].root, second);
  fs::rename(root_ + "/a.jpg", second + "/a.jpg");
  ASSERT_TRUE(wait_until([&] { return reported(root_ + "/a.jpg") && reported(second + "/a.jpg"); }));
}

TEST_F(WatcherTest, NestedRootsKeepTheirWatches) {
  const std::string inner = root_ + "/inner";
  write_file(inner + "/a.jpg");
  WatcherOptions options = watcher_options();
  options.roots.push_back(WatchRoot{inner, WatcherKind::inotify, CandidateRules{}});
  start(options);
  // Several root checks pass (every 100 ms); the shared watch must survive them.
  const std::string first = inner + "/first.jpg";
  write_file(first);
  ASSERT_TRUE(wait_for_file(first));
  const auto checks_end = WatchClock::now() + 5 * watcher_options().offline_check_interval;
  while (WatchClock::now() < checks_end) take_one();
  drain();
  const std::string later = inner + "/later.jpg";
  write_file(later);
  ASSERT_TRUE(wait_for_file(later));
  for (const RootWatchState& each : watcher_->states()) EXPECT_EQ(each.mode, RootWatchMode::inotify) << each.root;
  EXPECT_TRUE(roots_.empty()) << "a nested root was taken for gone and rescanned: " << *roots_.begin();
}

TEST_F(WatcherTest, PolledRootGoneAndBackIsRescanned) {
  write_file(root_ + "/a.jpg");
  start(WatcherKind::poll);
  fs::remove_all(root_);
  ASSERT_TRUE(wait_until([&] { return state().mode == RootWatchMode::offline; }));
  EXPECT_FALSE(reported(root_ + "/a.jpg")) << "an offline root's files were reported as removed";
  write_file(root_ + "/b.jpg");
  ASSERT_TRUE(wait_until([&] { return roots_.count(root_) != 0 && state().mode == RootWatchMode::poll; }));
  write_file(root_ + "/c.jpg");
  ASSERT_TRUE(wait_for_file(root_ + "/c.jpg"));
}

TEST_F(WatcherTest, IncludeAndExcludeRulesApply) {
  WatcherOptions options = watcher_options();
  options.roots[0].rules.exclude = {"**/raw/**"};
  start(options);
  fs::create_directories(root_ + "/2024/raw");
  write_file(root_ + "/2024/raw/x.jpg");
  write_file(root_ + "/2024/y.jpg");
  ASSERT_TRUE(wait_until([&] { return covered(root_ + "/2024/y.jpg"); }));
  write_file(root_ + "/2024/raw/later.jpg");
  write_file(root_ + "/2024/later.jpg");
  ASSERT_TRUE(wait_for_file(root_ + "/2024/later.jpg"));
  drain();
  EXPECT_FALSE(reported(root_ + "/2024/raw/x.jpg"));
  EXPECT_FALSE(reported(root_ + "/2024/raw/later.jpg"));
  EXPECT_EQ(folders_.count(root_ + "/2024/raw"), 0u);
}

TEST_F(WatcherTest, StopLeavesNoThreadOrDescriptorBehind) {
  write_file(root_ + "/a/b.jpg");
  const size_t fds_before = count_entries("/proc/self/fd");
  const size_t threads_before = count_entries("/proc/self/task");
  WatcherOptions options = watcher_options();
  options.testing.max_watches = 1;  // the fallback poller too
  start(options);
  EXPECT_GT(count_entries("/proc/self/task"), threads_before);
  watcher_->stop();
  watcher_->stop();  // idempotent
  watcher_.reset();
  EXPECT_EQ(count_entries("/proc/self/fd"), fds_before);
  EXPECT_EQ(count_entries("/proc/self/task"), threads_before);
}

}  // namespace
}  // namespace imgsearchd
