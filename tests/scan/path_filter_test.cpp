// PathFilter must say of every path exactly what the scanner does: the
// watcher reports by PathFilter, the reconcile scan finds by the scanner.
#include "indexer/scan/path_filter.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "indexer/scan/scanner.h"
#include "tests/support/files.h"
#include "tests/support/scratch.h"
#include "tests/support/unprivileged.h"

namespace imgsearchd {
namespace {

namespace fs = std::filesystem;
using test::fresh_dir;
using test::write_file;

std::vector<std::string> scanner_says(const ScanOptions& options) {
  std::vector<std::string> paths;
  for (const ScannedFile& file : scan_all(options).files) {
    paths.push_back(fs::path(file.path).lexically_relative(options.roots.at(0)).string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

// Every regular file in the tree that PathFilter takes for a candidate.
std::vector<std::string> filter_says(const ScanOptions& options) {
  const PathFilter filter(candidate_rules_of(options));
  const fs::path root = options.roots.at(0);
  std::vector<std::string> paths;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const std::string relative = entry.path().lexically_relative(root).string();
    if (filter.is_candidate_file(relative)) paths.push_back(relative);
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

ScanOptions options_for(const fs::path& root) {
  ScanOptions options;
  options.roots = {root};
  return options;
}

void expect_same_as_scanner(const ScanOptions& options, const std::string& what) {
  const std::vector<std::string> expected = scanner_says(options);
  EXPECT_FALSE(expected.empty()) << what << ": a test tree where the scanner finds nothing proves little";
  EXPECT_EQ(filter_says(options), expected) << what;
}

TEST(PathFilter, MatchesTheScannerOnExtensions) {
  const fs::path root = fresh_dir("scan");
  for (const char* name : {"a.jpg", "b.JPG", "c.JpEg", "d.png", "e.webp", "notes.txt", "noextension",
                           "photo.jpg.bak", "x.jpgx", "jpg", "sub/f.tiff"}) {
    write_file(root / name);
  }
  expect_same_as_scanner(options_for(root), "default extensions");
  ScanOptions custom = options_for(root);
  custom.extensions = {".TXT", "Bak"};
  expect_same_as_scanner(custom, "extensions .TXT, Bak");
}

TEST(PathFilter, MatchesTheScannerOnHiddenAndClutter) {
  const fs::path root = fresh_dir("scan");
  for (const char* name : {"visible.jpg", ".hidden.jpg", ".hiddendir/inside.jpg", "._visible.jpg", ".DS_Store",
                           "@eaDir/visible.jpg/SYNOPHOTO_THUMB_XL.jpg", ".thumbnails/normal/t.png",
                           "System Volume Information/x.jpg", "$RECYCLE.BIN/deleted.jpg", "a/.b/c.jpg"}) {
    write_file(root / name);
  }
  for (bool skip_hidden : {true, false}) {
    for (bool skip_clutter : {true, false}) {
      ScanOptions options = options_for(root);
      options.skip_hidden = skip_hidden;
      options.skip_clutter = skip_clutter;
      expect_same_as_scanner(options, "skip_hidden " + std::to_string(skip_hidden) + ", skip_clutter " +
                                          std::to_string(skip_clutter));
    }
  }
}

TEST(PathFilter, MatchesTheScannerOnIncludeAndExcludePatterns) {
  const fs::path root = fresh_dir("scan");
  for (const char* name : {"top.jpg", "2019/beach.jpg", "2019/raw/b.png", "2020/c.jpg", "2020/trip/2019/d.jpg",
                           "Private/e.jpg", "x/Private/f.jpg", "x/tmp.draft.jpg"}) {
    write_file(root / name);
  }
  const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases{
      {{}, {"Private"}},       {{}, {"2019", "*.draft.jpg"}}, {{}, {"/2019"}},
      {{}, {"x/Private/"}},    {{"2020/*.jpg"}, {}},          {{"2020/**/*.jpg"}, {}},
      {{"**/2019/**"}, {}},    {{}, {"**/raw/**"}},           {{"Private"}, {}},
      {{"*.png", "2020"}, {"trip"}}};
  for (const auto& [include, exclude] : cases) {
    ScanOptions options = options_for(root);
    options.include = include;
    options.exclude = exclude;
    std::string what = "include {";
    for (const std::string& p : include) what += " " + p;
    what += " } exclude {";
    for (const std::string& p : exclude) what += " " + p;
    expect_same_as_scanner(options, what + " }");
  }
}

TEST(PathFilter, FoldersAreEnteredAsTheScannerEntersThem) {
  CandidateRules rules;
  rules.exclude = {"**/raw/**", "/private"};
  rules.include = {"2019"};
  const PathFilter filter(rules);
  EXPECT_TRUE(filter.enters_folder(""));
  EXPECT_TRUE(filter.enters_folder("2019"));
  EXPECT_FALSE(filter.enters_folder("2019/raw"));
  EXPECT_FALSE(filter.enters_folder("2019/raw/deeper"));
  EXPECT_FALSE(filter.enters_folder("private"));
  EXPECT_TRUE(filter.enters_folder("x/private"));
  EXPECT_FALSE(filter.enters_folder(".git"));
  EXPECT_FALSE(filter.enters_folder("a/@eaDir/b"));
  EXPECT_TRUE(filter.folder_included("2019/summer"));
  EXPECT_FALSE(filter.folder_included("2020/summer"));
  EXPECT_TRUE(filter.is_candidate_file("a/2019/b/c.jpg"));
  EXPECT_FALSE(filter.is_candidate_file("2020/c.jpg"));
  EXPECT_FALSE(filter.is_candidate_file("2019/raw/c.jpg"));
}

TEST(PathFilter, EmptyPatternIsAnErrorNamingIt) {
  CandidateRules rules;
  rules.include = {"ok", "//"};
  try {
    PathFilter filter(rules);
    FAIL() << "an empty pattern was accepted";
  } catch (const ScanError& error) {
    EXPECT_NE(std::string(error.what()).find("include pattern 2"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace imgsearchd
