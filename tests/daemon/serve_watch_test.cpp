// `imgsearchd serve` keeps the index true while files are dropped, written,
// renamed, moved and deleted: each case ends with exactly the right files in
// the catalogue and in search results, and the right number of file reads
// and model calls (the service's counters).
#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "serve_fixture.h"

namespace imgsearchd::test {
namespace {

class ServeWatchTest : public ServeTest {};
// The key cases, on SQLite and on PostgreSQL.
class ServeWatchBackendTest : public ServeBackendTest {};
INSTANTIATE_TEST_SUITE_P(Backends, ServeWatchBackendTest, kBothBackends, backend_name);

TEST_P(ServeWatchBackendTest, DropOneFileThenManyAtOnce) {
  start_ready();
  const fs::path one = photos_ / "one.jpg";
  copy_photo(0, one);
  wait_for_catalogue({one.string()});
  EXPECT_EQ(counter("embedded"), 1u);

  std::vector<fs::path> many = {one};
  for (size_t i = 1; i <= 12; ++i) {
    many.push_back(photos_ / ("many-" + std::to_string(i) + ".jpg"));
    copy_photo(i, many.back());
  }
  wait_for_catalogue(paths_of(many));
  EXPECT_EQ(counter("embedded"), 13u) << "each image once";
  EXPECT_EQ(counter("failed"), 0u);
  EXPECT_EQ(searched_paths(), paths_of(many));
  EXPECT_EQ(serve_->stop(), 0);
}

TEST_F(ServeWatchTest, OverwrittenFileIsEmbeddedAgain) {
  const fs::path file = photos_ / "photo.jpg";
  copy_photo(0, file);
  start_ready();
  wait_for_catalogue({file.string()});
  const auto before = Catalog::open_read_only(catalogue_).vector_id_of(file.string());

  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << read_text(coco_photos().at(1));
  }
  wait_for("the overwritten content", [&] {
    return Catalog::open_read_only(catalogue_).vector_id_of(file.string()) != before;
  });
  wait_for_catalogue({file.string()});
  EXPECT_EQ(counter("embedded"), 2u);
  EXPECT_EQ(searched_paths(), std::set<std::string>{file.string()});
  EXPECT_EQ(serve_->stop(), 0);
}

// A writer that pauses half-way (longer than the settle delay) while holding
// the file open: the half-written file is never indexed.
TEST_F(ServeWatchTest, FileWrittenInTwoPartsIsIndexedOnceComplete) {
  start_ready();
  const std::string bytes = read_text(coco_photos().at(2));
  const fs::path file = photos_ / "slow.jpg";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  const size_t half = bytes.size() / 2;
  ASSERT_EQ(::write(fd, bytes.data(), half), static_cast<ssize_t>(half));
  // The pause is the scenario (a slow writer), not a wait for the service.
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  ASSERT_EQ(::write(fd, bytes.data() + half, bytes.size() - half), static_cast<ssize_t>(bytes.size() - half));
  ::close(fd);

  wait_for_catalogue({file.string()});
  EXPECT_EQ(counter("embedded"), 1u) << "indexed once";
  EXPECT_EQ(counter("failed"), 0u) << "never recorded half-written";
  const Catalog catalog = Catalog::open_read_only(catalogue_);
  EXPECT_TRUE(catalog.failed_files().empty());
  EXPECT_EQ(catalog.file(file.string())->signature.size, bytes.size());
  EXPECT_EQ(serve_->stop(), 0);
}

TEST_P(ServeWatchBackendTest, RenamesAndMovesWithinAndAcrossRootsReadNothing) {
  const fs::path other = dir_ / "other";
  fs::create_directories(other);
  roots_.push_back(other.string());
  write_config();
  const fs::path a = photos_ / "a.jpg", keep = photos_ / "keep.jpg";
  copy_photo(0, a);
  copy_photo(1, keep);
  start_ready();
  wait_for_catalogue({a.string(), keep.string()});
  const uint64_t hashed = counter("hashed"), embedded = counter("embedded");

  const fs::path renamed = photos_ / "renamed.jpg";
  fs::rename(a, renamed);
  wait_for_catalogue({renamed.string(), keep.string()});

  const fs::path moved = photos_ / "sub" / "renamed.jpg";
  fs::create_directories(moved.parent_path());
  fs::rename(renamed, moved);
  wait_for_catalogue({moved.string(), keep.string()});

  const fs::path across = other / "across.jpg";
  fs::rename(moved, across);
  wait_for_catalogue({across.string(), keep.string()});

  EXPECT_EQ(counter("hashed"), hashed) << "no file read for a rename or move";
  EXPECT_EQ(counter("embedded"), embedded) << "no model call for a rename or move";
  EXPECT_EQ(searched_paths(), (std::set<std::string>{across.string(), keep.string()}));
  EXPECT_EQ(serve_->stop(), 0);
}

TEST_F(ServeWatchTest, FolderOf500FilesRenamedReadsNoFileAndCallsNoModel) {
  const fs::path folder = photos_ / "album";
  std::set<std::string> paths;
  for (int i = 0; i < 500; ++i) {
    const fs::path file = folder / ("img-" + std::to_string(i) + ".jpg");
    write_small_photo(file, "album photo " + std::to_string(i));
    paths.insert(file.string());
  }
  start_ready();
  wait_for_catalogue(paths);
  const uint64_t hashed = counter("hashed"), embedded = counter("embedded"), calls = counter("model_calls");
  EXPECT_EQ(embedded, 500u);

  const fs::path renamed = photos_ / "album 2024";
  fs::rename(folder, renamed);
  std::set<std::string> renamed_paths;
  for (int i = 0; i < 500; ++i) renamed_paths.insert((renamed / ("img-" + std::to_string(i) + ".jpg")).string());
  wait_for_catalogue(renamed_paths);
  EXPECT_EQ(counter("hashed"), hashed) << "0 files read";
  EXPECT_EQ(counter("embedded"), embedded) << "0 images embedded";
  EXPECT_EQ(counter("model_calls"), calls) << "0 model calls";
  EXPECT_GE(counter("reattached"), 500u) << service_status().dump();
  // The API reports the same counters.
  const auto [code, status] = http("GET", "/api/status");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(status["counters"]["hashed"], hashed);
  EXPECT_EQ(status["counters"]["model_calls"], calls);
  EXPECT_EQ(serve_->stop(), 0);
}

TEST_F(ServeWatchTest, CaseOnlyRenameLeavesOneEntry) {
  const fs::path file = photos_ / "Beach.jpg";
  copy_photo(3, file);
  start_ready();
  wait_for_catalogue({file.string()});
  const uint64_t hashed = counter("hashed"), embedded = counter("embedded");
  const fs::path lower = photos_ / "beach.JPG";
  fs::rename(file, lower);
  wait_for_catalogue({lower.string()});
  EXPECT_EQ(counter("hashed"), hashed);
  EXPECT_EQ(counter("embedded"), embedded);
  EXPECT_EQ(searched_paths(), std::set<std::string>{lower.string()});
  EXPECT_EQ(serve_->stop(), 0);
}

TEST_P(ServeWatchBackendTest, DeletedFileAndFolderLeaveTheResults) {
  const fs::path keep = photos_ / "keep.jpg", gone = photos_ / "gone.jpg";
  copy_photo(0, keep);
  copy_photo(1, gone);
  std::set<std::string> all = {keep.string(), gone.string()};
  for (size_t i = 0; i < 3; ++i) {
    const fs::path file = photos_ / "trip" / "day" / ("p" + std::to_string(i) + ".jpg");
    copy_photo(2 + i, file);
    all.insert(file.string());
  }
  start_ready();
  wait_for_catalogue(all);

  fs::remove(gone);
  fs::remove_all(photos_ / "trip");
  wait_for_catalogue({keep.string()});
  EXPECT_EQ(searched_paths(), std::set<std::string>{keep.string()});
  EXPECT_EQ(counter("removed"), 4u);
  EXPECT_EQ(serve_->stop(), 0);
}

TEST_F(ServeWatchTest, NestedFolderCreatedAndFilledAtOnce) {
  start_ready();
  std::vector<fs::path> files;
  const fs::path deep = photos_ / "2024" / "summer" / "beach";
  fs::create_directories(deep);
  for (size_t i = 0; i < 3; ++i) {
    files.push_back(deep / ("b" + std::to_string(i) + ".jpg"));
    copy_photo(i, files.back());
  }
  files.push_back(photos_ / "2024" / "summer" / "s.jpg");
  copy_photo(3, files.back());
  files.push_back(photos_ / "2024" / "y.jpg");
  copy_photo(4, files.back());
  wait_for_catalogue(paths_of(files));
  EXPECT_EQ(counter("embedded"), 5u);
  EXPECT_EQ(serve_->stop(), 0);
}

// More changes at once than the service holds (watch.max_pending: 4): they
// collapse into folder reconciles, and the index still ends complete.
TEST_F(ServeWatchTest, MoreChangesThanTheQueueHoldsEndComplete) {
  write_config("  max_pending: 4\n");
  start_ready();
  std::vector<fs::path> files;
  for (size_t i = 0; i < 30; ++i) {
    files.push_back(photos_ / ("f" + std::to_string(i % 3)) / ("p" + std::to_string(i) + ".jpg"));
    write_small_photo(files.back(), "burst " + std::to_string(i));
  }
  wait_for_catalogue(paths_of(files));
  EXPECT_EQ(counter("embedded"), 30u);
  EXPECT_EQ(serve_->stop(), 0);
}

// Too few inotify watches for the folders (watch.max_watches: 2): one
// warning names the sysctl, the rest is polled, and changes there are seen.
TEST_F(ServeWatchTest, WatchLimitFallsBackToPollingWithAWarning) {
  for (const char* sub : {"a", "b", "c", "d"}) fs::create_directories(photos_ / sub);
  write_config("  max_watches: 2\n");
  start_ready();
  wait_for("the root to be partly polled", [&] {
    const nlohmann::json s = service_status();
    return s.contains("roots") && s["roots"].size() == 1 && s["roots"][0].value("watcher", "") == "inotify+poll";
  });
  const nlohmann::json status = service_status();
  ASSERT_EQ(status["warnings"].size(), 1u) << status.dump();
  EXPECT_NE(status["warnings"][0].get<std::string>().find("fs.inotify.max_user_watches"), std::string::npos)
      << status.dump();
  EXPECT_NE(serve_->log().find("fs.inotify.max_user_watches"), std::string::npos);

  std::vector<fs::path> files;
  for (const char* sub : {"a", "b", "c", "d"}) {
    files.push_back(photos_ / sub / "new.jpg");
    write_small_photo(files.back(), sub);
  }
  wait_for_catalogue(paths_of(files));
  EXPECT_EQ(counter("embedded"), 4u);
  const CommandResult cli_status = cli({"status", "--json"});
  EXPECT_EQ(cli_status.json()["service"]["roots"][0]["watcher"], "inotify+poll");
  EXPECT_EQ(serve_->stop(), 0);
}

}  // namespace
}  // namespace imgsearchd::test
