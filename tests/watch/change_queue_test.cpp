// The settle and coalesce rules of the ChangeQueue, on a manual clock: no
// test here waits for real time.
#include "indexer/watch/change_queue.h"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace imgsearchd {
namespace {

using namespace std::chrono_literals;
using Strings = std::vector<std::string>;

struct ManualClock {
  WatchClock::time_point now = WatchClock::time_point() + 1h;
  void advance(WatchClock::duration by) { now += by; }
};

ChangeQueueOptions options_on(ManualClock& clock) {
  ChangeQueueOptions options;
  options.settle_delay = 300ms;
  options.open_settle_delay = 10s;
  options.batch_delay = 50ms;
  options.now = [&clock] { return clock.now; };
  return options;
}

TEST(ChangeQueue, CompleteFileIsReportedOnceAfterTheBatchDelay) {
  ManualClock clock;
  ChangeQueue queue(options_on(clock));
  queue.file_changing("/r/a.jpg");
  queue.file_opened("/r/a.jpg");
  queue.file_changing("/r/a.jpg");
  queue.file_complete("/r/a.jpg");
  EXPECT_TRUE(queue.take_ready().empty()) << "reported before the batch delay";
  clock.advance(50ms);
  EXPECT_EQ(queue.take_ready().files, Strings{"/r/a.jpg"});
  clock.advance(1h);
  EXPECT_TRUE(queue.take_ready().empty()) << "reported twice";
  EXPECT_EQ(queue.pending(), 0u);
}

TEST(ChangeQueue, WriterThatNeverClosesIsReportedAfterAQuietPeriod) {
  ManualClock clock;
  ChangeQueue queue(options_on(clock));
  queue.file_changing("/r/a.jpg");  // created, e.g. by a hard link or mmap writer
  clock.advance(200ms);
  queue.file_changing("/r/a.jpg");  // more writes: the quiet period starts again
  clock.advance(200ms);
  EXPECT_TRUE(queue.take_ready().empty()) << "reported while still being written";
  EXPECT_EQ(queue.next_ready_time(), clock.now + 100ms);
  clock.advance(100ms);
  EXPECT_EQ(queue.take_ready().files, Strings{"/r/a.jpg"});
}

TEST(ChangeQueue, FileHeldOpenAfterWritingWaitsForItsClose) {
  ManualClock clock;
  ChangeQueue queue(options_on(clock));
  queue.file_changing("/r/a.jpg");  // IN_CREATE
  queue.file_opened("/r/a.jpg");    // IN_OPEN
  queue.file_changing("/r/a.jpg");  // first part written
  clock.advance(5s);                // the writer pauses
  EXPECT_TRUE(queue.take_ready().empty()) << "reported half-written while its writer still holds it";
  queue.file_changing("/r/a.jpg");  // second part
  queue.file_complete("/r/a.jpg");  // IN_CLOSE_WRITE
  clock.advance(50ms);
  EXPECT_EQ(queue.take_ready().files, Strings{"/r/a.jpg"});
}

TEST(ChangeQueue, FileHeldOpenForeverIsReportedAfterTheLongQuietPeriod) {
  ManualClock clock;
  ChangeQueue queue(options_on(clock));
  queue.file_opened("/r/log.jpg");
  queue.file_changing("/r/log.jpg");
  clock.advance(9s);
  EXPECT_TRUE(queue.take_ready().empty());
  clock.advance(1s);
  EXPECT_EQ(queue.take_ready().files, Strings{"/r/log.jpg"});
}

TEST(ChangeQueue, ReaderClosingDoesNotHoldTheFile) {
  ManualClock clock;
  ChangeQueue queue(options_on(clock));
  queue.file_opened("/r/a.jpg");  // a viewer opens it
  queue.file_changing("/r/a.jpg");  // attributes changed meanwhile (chmod)
  queue.file_closed_unwritten("/r/a.jpg");
  clock.advance(300ms);
  EXPECT_EQ(queue.take_ready().files, Strings{"/r/a.jpg"});
  // A close with no open seen (opened before the watch) counts for nothing.
  queue.file_closed_unwritten("/r/b.jpg");
  queue.file_changing("/r/b.jpg");
  clock.advance(300ms);
  EXPECT_EQ(queue.take_ready().files, Strings{"/r/b.jpg"});
}

TEST(ChangeQueue, RemovedFilesAndRenamesAreReportedByPath) {
  ManualClock clock;
  ChangeQueue queue(options_on(clock));
  queue.file_removed("/r/old.jpg");
  queue.file_complete("/r/new.jpg");
  clock.advance(50ms);
  EXPECT_EQ(queue.take_ready().files, (Strings{"/r/new.jpg", "/r/old.jpg"}));
}

TEST(ChangeQueue, BurstInOneFolderBecomesTheFolder) {
  ManualClock clock;
  ChangeQueue queue(options_on(clock));
  for (int i = 0; i < 129; ++i) queue.file_complete("/r/burst/" + std::to_string(i) + ".jpg");
  for (int i = 0; i < 128; ++i) queue.file_complete("/r/calm/" + std::to_string(i) + ".jpg");
  clock.advance(50ms);
  const ChangeBatch batch = queue.take_ready();
  EXPECT_EQ(batch.folders, Strings{"/r/burst"});
  EXPECT_EQ(batch.files.size(), 128u);
  for (const std::string& file : batch.files) EXPECT_EQ(file.rfind("/r/calm/", 0), 0u) << file;
}

TEST(ChangeQueue, BurstAcrossFoldersBecomesTheirFolders) {
  ManualClock clock;
  ChangeQueue queue(options_on(clock));
  for (int folder = 0; folder < 10; ++folder) {
    for (int i = 0; i < 60; ++i) queue.file_complete("/r/" + std::to_string(folder) + "/" + std::to_string(i) + ".jpg");
  }
  clock.advance(50ms);
  const ChangeBatch batch = queue.take_ready();  // 600 files > 512
  EXPECT_TRUE(batch.files.empty());
  EXPECT_EQ(batch.folders.size(), 10u);
}

TEST(ChangeQueue, FoldersAndRootsCoverWhatIsBelowThem) {
  ManualClock clock;
  ChangeQueue queue(options_on(clock));
  queue.file_complete("/r/moved/a.jpg");
  queue.folder_changed("/r/moved");
  queue.folder_changed("/r/moved/sub");
  queue.file_complete("/r/other.jpg");
  queue.file_complete("/s/x/y.jpg");
  queue.folder_changed("/s/x");
  queue.root_lost_events("/s");
  queue.file_complete("/r/moved-not-below.jpg");
  clock.advance(50ms);
  const ChangeBatch batch = queue.take_ready();
  EXPECT_EQ(batch.roots, Strings{"/s"});
  EXPECT_EQ(batch.folders, Strings{"/r/moved"});
  EXPECT_EQ(batch.files, (Strings{"/r/moved-not-below.jpg", "/r/other.jpg"}));
}

TEST(ChangeQueue, SettlingFilesStayPendingWhenTheirFolderIsReported) {
  ManualClock clock;
  ChangeQueue queue(options_on(clock));
  queue.folder_changed("/r/new");
  queue.file_opened("/r/new/big.jpg");
  queue.file_changing("/r/new/big.jpg");
  clock.advance(50ms);
  EXPECT_EQ(queue.take_ready().folders, Strings{"/r/new"});
  queue.file_complete("/r/new/big.jpg");
  clock.advance(50ms);
  EXPECT_EQ(queue.take_ready().files, Strings{"/r/new/big.jpg"}) << "a file completed after its folder's report";
}

TEST(ChangeQueue, TooManyPendingFilesCollapseIntoFolders) {
  ManualClock clock;
  ChangeQueueOptions options = options_on(clock);
  options.max_pending = 100;
  ChangeQueue queue(options);
  for (int i = 0; i < 101; ++i) queue.file_changing("/r/a/" + std::to_string(i) + ".jpg");
  EXPECT_EQ(queue.pending(), 1u);
  clock.advance(300ms);
  const ChangeBatch batch = queue.take_ready();
  EXPECT_EQ(batch.folders, Strings{"/r/a"});
  EXPECT_TRUE(batch.files.empty());
}

TEST(ChangeQueue, LostEventsForgetOpenCounts) {
  ManualClock clock;
  ChangeQueue queue(options_on(clock));
  queue.file_opened("/r/a.jpg");
  queue.file_changing("/r/a.jpg");
  queue.forget_open_files();  // the close may have been in the lost events
  clock.advance(300ms);
  EXPECT_EQ(queue.take_ready().files, Strings{"/r/a.jpg"});
}

TEST(ChangeQueue, PopReturnsAtTheDeadlineOrWhenClosed) {
  ChangeQueue queue;  // the real clock
  EXPECT_TRUE(queue.pop(WatchClock::now()).empty());
  queue.file_complete("/r/a.jpg");
  EXPECT_EQ(queue.pop(WatchClock::now() + 60s).files, Strings{"/r/a.jpg"});
  std::thread closer([&queue] { queue.close(); });
  EXPECT_TRUE(queue.pop(WatchClock::now() + 600s).empty());  // woken by close(), not the deadline
  closer.join();
  EXPECT_TRUE(queue.closed());
}

}  // namespace
}  // namespace imgsearchd
