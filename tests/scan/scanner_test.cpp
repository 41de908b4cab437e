#include "indexer/scan/scanner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/files.h"
#include "tests/support/scratch.h"
#include "tests/support/unprivileged.h"

namespace imgsearchd {
namespace {

namespace fs = std::filesystem;
using test::fresh_dir;
using test::write_file;

// The reported paths relative to `root`, sorted.
std::vector<std::string> relative_paths(const ScanResult& result, const fs::path& root) {
  std::vector<std::string> paths;
  for (const ScannedFile& file : result.files) paths.push_back(fs::path(file.path).lexically_relative(root).string());
  std::sort(paths.begin(), paths.end());
  return paths;
}

ScanOptions options_for(const fs::path& root) {
  ScanOptions options;
  options.roots = {root};
  return options;
}

std::vector<std::string> scan_paths(const ScanOptions& options) {
  return relative_paths(scan_all(options), options.roots.at(0));
}

bool has_warning(const ScanSummary& summary, ScanWarning::Kind kind, const fs::path& path) {
  for (const ScanWarning& warning : summary.warnings) {
    if (warning.kind == kind && warning.path == path.string() &&
        warning.message.find(path.string()) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string describe(const ScanSummary& summary) {
  std::string text;
  for (const ScanWarning& warning : summary.warnings) text += "\n  warning: " + warning.message;
  return text;
}

TEST(Scanner, FindsImagesByExtensionIgnoringCase) {
  const fs::path root = fresh_dir("scan");
  for (const char* name : {"a.jpg", "b.JPG", "c.JpEg", "d.png", "e.webp", "f.gif", "g.bmp", "h.tif", "i.TIFF",
                           "j.heic", "k.heif", "l.avif", "notes.txt", "noextension", "photo.jpg.bak", "x.jpgx",
                           "jpg"}) {
    write_file(root / name);
  }
  EXPECT_EQ(scan_paths(options_for(root)),
            (std::vector<std::string>{"a.jpg", "b.JPG", "c.JpEg", "d.png", "e.webp", "f.gif", "g.bmp", "h.tif",
                                      "i.TIFF", "j.heic", "k.heif", "l.avif"}));

  ScanOptions custom = options_for(root);
  custom.extensions = {".TXT", "Bak"};
  EXPECT_EQ(scan_paths(custom), (std::vector<std::string>{"notes.txt", "photo.jpg.bak"}));
}

TEST(Scanner, WalksSubFoldersAndGivesAbsolutePathsAndRoot) {
  const fs::path root = fresh_dir("scan");
  write_file(root / "top.jpg");
  write_file(root / "a/b/c/d/deep.png");
  write_file(root / "a/mid.gif");
  const ScanResult result = scan_all(options_for(root));
  EXPECT_EQ(relative_paths(result, root), (std::vector<std::string>{"a/b/c/d/deep.png", "a/mid.gif", "top.jpg"}));
  for (const ScannedFile& file : result.files) {
    EXPECT_TRUE(fs::path(file.path).is_absolute()) << file.path;
    EXPECT_EQ(file.root_index, 0u);
  }
  ASSERT_EQ(result.summary.roots.size(), 1u);
  EXPECT_EQ(result.summary.roots[0], root.string());
  EXPECT_EQ(result.summary.files, 3u);
  EXPECT_EQ(result.summary.folders, 5u);  // the root, a, a/b, a/b/c, a/b/c/d
  EXPECT_TRUE(result.summary.warnings.empty()) << describe(result.summary);
}

TEST(Scanner, OrderIsDepthFirstByName) {
  const fs::path root = fresh_dir("scan");
  for (const char* name : {"b/2.jpg", "b/1.jpg", "a/z.jpg", "a/sub/y.jpg", "c.jpg", "B.jpg"}) write_file(root / name);
  std::vector<std::string> order;
  scan(options_for(root), [&](const ScannedFile& file) {
    order.push_back(fs::path(file.path).lexically_relative(root).string());
    return true;
  });
  // Files of a folder first, then its sub-folders, all in byte order.
  EXPECT_EQ(order, (std::vector<std::string>{"B.jpg", "c.jpg", "a/z.jpg", "a/sub/y.jpg", "b/1.jpg", "b/2.jpg"}));
}

void make_clutter_tree(const fs::path& root) {
  for (const char* name : {"visible.jpg", ".hidden.jpg", ".hiddendir/inside.jpg", "._visible.jpg", ".DS_Store",
                           "@eaDir/visible.jpg/SYNOPHOTO_THUMB_XL.jpg", ".thumbnails/normal/t.png",
                           "System Volume Information/x.jpg", "$RECYCLE.BIN/deleted.jpg"}) {
    write_file(root / name);
  }
}

TEST(Scanner, SkipsHiddenAndClutterByDefault) {
  const fs::path root = fresh_dir("scan");
  make_clutter_tree(root);
  EXPECT_EQ(scan_paths(options_for(root)), (std::vector<std::string>{"visible.jpg"}));
}

TEST(Scanner, IncludesHiddenOrClutterWhenConfigured) {
  const fs::path root = fresh_dir("scan");
  make_clutter_tree(root);

  ScanOptions with_hidden = options_for(root);
  with_hidden.skip_hidden = false;  // clutter such as ._* and .thumbnails still skipped
  EXPECT_EQ(scan_paths(with_hidden), (std::vector<std::string>{".hidden.jpg", ".hiddendir/inside.jpg", "visible.jpg"}));

  ScanOptions with_clutter = options_for(root);
  with_clutter.skip_clutter = false;  // hidden names still skipped
  EXPECT_EQ(scan_paths(with_clutter),
            (std::vector<std::string>{"$RECYCLE.BIN/deleted.jpg", "@eaDir/visible.jpg/SYNOPHOTO_THUMB_XL.jpg",
                                      "System Volume Information/x.jpg", "visible.jpg"}));

  ScanOptions everything = options_for(root);
  everything.skip_hidden = false;
  everything.skip_clutter = false;
  EXPECT_EQ(scan_paths(everything),
            (std::vector<std::string>{"$RECYCLE.BIN/deleted.jpg", "._visible.jpg", ".hidden.jpg",
                                      ".hiddendir/inside.jpg", ".thumbnails/normal/t.png",
                                      "@eaDir/visible.jpg/SYNOPHOTO_THUMB_XL.jpg", "System Volume Information/x.jpg",
                                      "visible.jpg"}));
}

class ScannerPatterns : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fresh_dir("scan");
    for (const char* name : {"top.jpg", "2019/beach.jpg", "2019/raw/b.png", "2020/c.jpg", "2020/trip/2019/d.jpg",
                             "Private/e.jpg", "x/Private/f.jpg", "x/tmp.draft.jpg"}) {
      write_file(root_ / name);
    }
  }
  std::vector<std::string> scan_with(std::vector<std::string> include, std::vector<std::string> exclude) {
    ScanOptions options = options_for(root_);
    options.include = std::move(include);
    options.exclude = std::move(exclude);
    return scan_paths(options);
  }
  fs::path root_;
};

TEST_F(ScannerPatterns, PatternWithoutSlashMatchesNamesAtAnyDepth) {
  EXPECT_EQ(scan_with({}, {"Private"}), (std::vector<std::string>{"2019/beach.jpg", "2019/raw/b.png", "2020/c.jpg",
                                                                  "2020/trip/2019/d.jpg", "top.jpg",
                                                                  "x/tmp.draft.jpg"}));
  EXPECT_EQ(scan_with({}, {"2019", "*.draft.jpg"}),
            (std::vector<std::string>{"2020/c.jpg", "Private/e.jpg", "top.jpg", "x/Private/f.jpg"}));
}

TEST_F(ScannerPatterns, PatternWithSlashIsAnchoredAtTheRoot) {
  EXPECT_EQ(scan_with({}, {"/2019"}), (std::vector<std::string>{"2020/c.jpg", "2020/trip/2019/d.jpg", "Private/e.jpg",
                                                                "top.jpg", "x/Private/f.jpg", "x/tmp.draft.jpg"}));
  EXPECT_EQ(scan_with({}, {"x/Private/"}),
            (std::vector<std::string>{"2019/beach.jpg", "2019/raw/b.png", "2020/c.jpg", "2020/trip/2019/d.jpg",
                                      "Private/e.jpg", "top.jpg", "x/tmp.draft.jpg"}));
}

TEST_F(ScannerPatterns, StarDoesNotCrossSlashButDoubleStarDoes) {
  EXPECT_EQ(scan_with({"2020/*.jpg"}, {}), (std::vector<std::string>{"2020/c.jpg"}));
  EXPECT_EQ(scan_with({"2020/**/*.jpg"}, {}), (std::vector<std::string>{"2020/c.jpg", "2020/trip/2019/d.jpg"}));
  EXPECT_EQ(scan_with({"**/2019/**"}, {}),
            (std::vector<std::string>{"2019/beach.jpg", "2019/raw/b.png", "2020/trip/2019/d.jpg"}));
  EXPECT_EQ(scan_with({}, {"**/raw/**"}),
            (std::vector<std::string>{"2019/beach.jpg", "2020/c.jpg", "2020/trip/2019/d.jpg", "Private/e.jpg",
                                      "top.jpg", "x/Private/f.jpg", "x/tmp.draft.jpg"}));
}

TEST_F(ScannerPatterns, IncludedFolderIncludesEverythingBelowAndExcludeWins) {
  EXPECT_EQ(scan_with({"Private"}, {}), (std::vector<std::string>{"Private/e.jpg", "x/Private/f.jpg"}));
  EXPECT_EQ(scan_with({"*.png", "2020"}, {"trip"}), (std::vector<std::string>{"2019/raw/b.png", "2020/c.jpg"}));
}

TEST_F(ScannerPatterns, EmptyPatternIsAnErrorNamingIt) {
  ScanOptions options = options_for(root_);
  options.exclude = {"*.tmp", "/"};
  try {
    scan_all(options);
    FAIL() << "an empty pattern was accepted";
  } catch (const ScanError& error) {
    EXPECT_NE(std::string(error.what()).find("exclude pattern 2"), std::string::npos) << error.what();
  }
}

TEST(Scanner, SymlinkLoopsEnd) {
  const fs::path root = fresh_dir("scan");
  write_file(root / "a/img.jpg");
  fs::create_directory_symlink("..", root / "a/up");         // back to the root
  fs::create_directory_symlink(root / "a", root / "a/self");  // to its own folder
  fs::create_symlink("loop.jpg", root / "loop.jpg");          // a link to itself
  fs::create_directory_symlink("ping", root / "pong");
  fs::create_directory_symlink("pong", root / "ping");

  const ScanResult result = scan_all(options_for(root));
  EXPECT_EQ(relative_paths(result, root), (std::vector<std::string>{"a/img.jpg"}));
  EXPECT_TRUE(has_warning(result.summary, ScanWarning::Kind::broken_symlink, root / "loop.jpg"))
      << describe(result.summary);
  EXPECT_TRUE(has_warning(result.summary, ScanWarning::Kind::broken_symlink, root / "ping"))
      << describe(result.summary);
}

TEST(Scanner, FileReachedThroughLinksIsReportedOnceUnderItsDirectPath) {
  const fs::path root = fresh_dir("scan");
  const fs::path outside = root.parent_path() / (root.filename().string() + "-outside");
  fs::remove_all(outside);
  write_file(outside / "o.jpg");
  write_file(root / "real.jpg");
  write_file(root / "sub/x.jpg");
  // Link names sort before the real ones: direct paths win all the same.
  fs::create_symlink("real.jpg", root / "alias.jpg");
  fs::create_symlink(root / "sub/x.jpg", root / "a-link-to-x.jpg");
  fs::create_directory_symlink("sub", root / "dirlink");
  fs::create_directory_symlink(outside, root / "elsewhere");
  fs::create_directory_symlink(outside, root / "elsewhere2");
  fs::create_hard_link(root / "real.jpg", root / "hard.jpg");

  const ScanResult result = scan_all(options_for(root));
  // hard.jpg and real.jpg are one file; the first in name order is kept.
  EXPECT_EQ(relative_paths(result, root), (std::vector<std::string>{"elsewhere/o.jpg", "hard.jpg", "sub/x.jpg"}));
  EXPECT_TRUE(result.summary.warnings.empty()) << describe(result.summary);

  ScanOptions no_links = options_for(root);
  no_links.follow_symlinks = false;
  EXPECT_EQ(scan_paths(no_links), (std::vector<std::string>{"hard.jpg", "sub/x.jpg"}));
}

TEST(Scanner, LinkedFileIsReportedWhenItsTargetIsNotInTheTree) {
  const fs::path root = fresh_dir("scan");
  const fs::path outside = root.parent_path() / (root.filename().string() + "-outside");
  fs::remove_all(outside);
  write_file(outside / "target.jpg", "content");
  fs::create_symlink(outside / "target.jpg", root / "link.jpg");
  const ScanResult result = scan_all(options_for(root));
  ASSERT_EQ(relative_paths(result, root), (std::vector<std::string>{"link.jpg"}));
  struct stat st;
  ASSERT_EQ(::stat((outside / "target.jpg").c_str(), &st), 0);
  EXPECT_EQ(result.files[0].signature.inode, st.st_ino);  // the target's signature
  EXPECT_EQ(result.files[0].signature.size, 7u);
}

TEST(Scanner, SeveralRootsEachFileOnce) {
  const fs::path base = fresh_dir("scan");
  write_file(base / "one/a.jpg");
  write_file(base / "one/nested/b.jpg");
  write_file(base / "two/c.jpg");
  ScanOptions options;
  options.roots = {base / "two", base / "one" / "nested" / "", base / "one"};  // nested root given first
  const ScanResult result = scan_all(options);
  ASSERT_EQ(result.files.size(), 3u);
  EXPECT_EQ(result.files[0].path, (base / "two/c.jpg").string());
  EXPECT_EQ(result.files[0].root_index, 0u);
  EXPECT_EQ(result.files[1].path, (base / "one/nested/b.jpg").string());
  EXPECT_EQ(result.files[1].root_index, 1u);
  EXPECT_EQ(result.files[2].path, (base / "one/a.jpg").string());
  EXPECT_EQ(result.files[2].root_index, 2u);
  EXPECT_EQ(result.summary.roots[1], (base / "one/nested").string());  // trailing '/' dropped
}

TEST(Scanner, MissingRootOrFileRootIsAnErrorNamingIt) {
  const fs::path base = fresh_dir("scan");
  write_file(base / "file.jpg");
  fs::create_directory(base / "good");
  for (const fs::path& bad : {base / "missing", base / "file.jpg"}) {
    ScanOptions options;
    options.roots = {base / "good", bad};
    try {
      scan_all(options);
      ADD_FAILURE() << "scanning " << bad << " did not fail";
    } catch (const ScanError& error) {
      EXPECT_NE(std::string(error.what()).find(bad.string()), std::string::npos) << error.what();
    }
    ASSERT_TRUE(root_problem(bad).has_value());
  }
  EXPECT_NE(root_problem(base / "missing")->find("does not exist"), std::string::npos);
  EXPECT_NE(root_problem(base / "file.jpg")->find("not a folder"), std::string::npos);
  EXPECT_FALSE(root_problem(base / "good").has_value());
}

TEST(Scanner, BrokenLinkAndFifoAreWarningsAndTheScanGoesOn) {
  const fs::path root = fresh_dir("scan");
  write_file(root / "ok.jpg");
  fs::create_symlink("gone.jpg", root / "broken.jpg");
  ASSERT_EQ(::mkfifo((root / "pipe.jpg").c_str(), 0644), 0);
  ASSERT_EQ(::mkfifo((root / "pipe.txt").c_str(), 0644), 0);  // not a candidate: no warning
  const ScanResult result = scan_all(options_for(root));
  EXPECT_EQ(relative_paths(result, root), (std::vector<std::string>{"ok.jpg"}));
  EXPECT_TRUE(has_warning(result.summary, ScanWarning::Kind::broken_symlink, root / "broken.jpg"))
      << describe(result.summary);
  EXPECT_TRUE(has_warning(result.summary, ScanWarning::Kind::not_a_regular_file, root / "pipe.jpg"))
      << describe(result.summary);
  EXPECT_EQ(result.summary.warnings.size(), 2u) << describe(result.summary);
  EXPECT_TRUE(result.summary.unlisted_folders().empty());
}

TEST(Scanner, UnreadableFoldersAreWarningsAndMarkedUnlisted) {
  // Where nobody can reach the tree (the build tree may sit below a 0700 folder).
  const test::WorldScratch scratch;
  const fs::path root = scratch.path();
  write_file(root / "ok.jpg");
  write_file(root / "locked/a.jpg");
  write_file(root / "nosearch/b.jpg");  // listable, but its entries cannot be stat'ed
  fs::permissions(root / "locked", fs::perms::none);
  fs::permissions(root / "nosearch", fs::perms(0444));

  const test::ChildOutcome outcome = test::run_unprivileged([&]() -> std::string {
    const ScanResult result = scan_all(options_for(root));
    std::string failure;
    if (relative_paths(result, root) != std::vector<std::string>{"ok.jpg"}) failure += "\nunexpected files";
    if (!has_warning(result.summary, ScanWarning::Kind::unlisted_folder, root / "locked")) {
      failure += "\nno warning for the locked folder";
    }
    if (result.summary.unlisted_folders() != std::vector<std::string>{(root / "locked").string()}) {
      failure += "\nunlisted_folders() is not {locked}";
    }
    if (!has_warning(result.summary, ScanWarning::Kind::unreadable_entry, root / "nosearch/b.jpg")) {
      failure += "\nno warning for nosearch/b.jpg";
    }
    return failure.empty() ? failure : failure + describe(result.summary);
  });
  fs::permissions(root / "locked", fs::perms(0755));
  fs::permissions(root / "nosearch", fs::perms(0755));
  ASSERT_TRUE(outcome.ran) << "could not run the check as the unprivileged user nobody";
  EXPECT_EQ(outcome.failure, "");
}

TEST(Scanner, SignatureChangesWhenTheFileChanges) {
  const fs::path root = fresh_dir("scan");
  write_file(root / "a.jpg", "first");
  write_file(root / "b.jpg", "other");
  const ScanResult before = scan_all(options_for(root));
  ASSERT_EQ(before.files.size(), 2u);
  EXPECT_EQ(scan_all(options_for(root)).files[0].signature, before.files[0].signature);  // unchanged

  // A distinct modification time, set rather than waited for.
  const struct timespec times[2] = {{1'600'000'000, 0}, {1'600'000'000, 123'456'789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (root / "a.jpg").c_str(), times, 0), 0);
  const ScanResult touched = scan_all(options_for(root));
  EXPECT_EQ(touched.files[0].signature.mtime_ns, 1'600'000'000'123'456'789LL);
  EXPECT_NE(touched.files[0].signature, before.files[0].signature);
  EXPECT_EQ(touched.files[1].signature, before.files[1].signature);

  write_file(root / "a.jpg", "longer content");
  ASSERT_EQ(::utimensat(AT_FDCWD, (root / "a.jpg").c_str(), times, 0), 0);  // same mtime as before
  const ScanResult rewritten = scan_all(options_for(root));
  EXPECT_EQ(rewritten.files[0].signature.size, 14u);
  EXPECT_NE(rewritten.files[0].signature, touched.files[0].signature);
}

TEST(Scanner, CallbackCanStopTheScan) {
  const fs::path root = fresh_dir("scan");
  for (const char* name : {"a.jpg", "b.jpg", "c/d.jpg"}) write_file(root / name);
  int calls = 0;
  const ScanSummary summary = scan(options_for(root), [&](const ScannedFile&) {
    ++calls;
    return false;
  });
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(summary.stopped);
  EXPECT_EQ(summary.files, 1u);
}

}  // namespace
}  // namespace imgsearchd
