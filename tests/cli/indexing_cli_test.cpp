// The index, search, similar and status commands as a user runs them: the
// real binary, a small random-weights CLIP model, real photos, a real data
// folder.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "tests/support/cli_fixture.h"

namespace imgsearchd::test {
namespace {

const std::vector<std::string> kQueries = {"a photo of a dog", "people at the beach"};

TEST_F(IndexingCliTest, IndexThenSearchWithKOffsetMinScoreAndJson) {
  copy_photos(photos_, 12);
  const nlohmann::json summary = index();
  EXPECT_EQ(summary["scanned"], 12);
  EXPECT_EQ(summary["embedded"], 12);
  EXPECT_EQ(summary["failed"], 0);
  EXPECT_EQ(summary["stopped"], false);

  const nlohmann::json top = search({"a photo of a dog", "-k", "6"});
  ASSERT_EQ(top["results"].size(), 6u);
  std::set<std::string> indexed;
  for (const auto& entry : fs::directory_iterator(photos_)) indexed.insert(entry.path().string());
  float previous = 2;
  for (const auto& hit : top["results"]) {
    EXPECT_TRUE(indexed.count(hit["path"].get<std::string>())) << hit;
    EXPECT_EQ(hit["paths"].size(), 1u);
    EXPECT_LE(hit["score"].get<float>(), previous) << "best first";
    previous = hit["score"].get<float>();
  }

  // Paging: results 2..4 are the 3rd to 5th of the longer list.
  const nlohmann::json page = search({"a photo of a dog", "-k", "3", "--offset", "2"});
  const std::vector<int64_t> all = ids_of(top);
  EXPECT_EQ(ids_of(page), std::vector<int64_t>(all.begin() + 2, all.begin() + 5));

  // A threshold at the 4th score keeps the first four.
  const float fourth = top["results"][3]["score"].get<float>();
  const nlohmann::json above = search({"a photo of a dog", "-k", "6", "--min-score", std::to_string(fourth - 1e-6f)});
  EXPECT_EQ(ids_of(above), std::vector<int64_t>(all.begin(), all.begin() + 4));
  EXPECT_EQ(search({"a photo of a dog", "--min-score", "1.01"})["results"].size(), 0u);

  // More than there are: all of them.
  EXPECT_EQ(search({"a photo of a dog", "-k", "1000"})["results"].size(), 12u);

  // Plain text: one line per hit, score then path.
  const CommandResult text = run({"search", "a photo of a dog", "-k", "2"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  char expected[512];
  std::snprintf(expected, sizeof expected, "%.4f  %s\n%.4f  %s\n", top["results"][0]["score"].get<double>(),
                top["results"][0]["path"].get<std::string>().c_str(), top["results"][1]["score"].get<double>(),
                top["results"][1]["path"].get<std::string>().c_str());
  EXPECT_EQ(text.out, expected);
}

TEST_F(IndexingCliTest, BadKIsRefusedWithAClearMessage) {
  copy_photos(photos_, 2);
  index();
  for (const char* k : {"0", "1001"}) {
    const CommandResult result = run({"search", "a dog", "-k", k});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("-k must be between 1 and 1000, got " + std::string(k)), std::string::npos) << result.err;
  }
}

// The error policy at the command line: a caller's mistake exits 2, an
// unknown id 1 (store/core/errors.h).
TEST_F(IndexingCliTest, ABadKExitsTwoAndAnUnknownIdExitsOne) {
  copy_photos(photos_, 2);
  index();
  const CommandResult bad_k = run({"search", "a dog", "-k", "0"});
  EXPECT_EQ(bad_k.exit_code, 2) << bad_k.err;
  EXPECT_NE(bad_k.err.find("-k must be between 1 and 1000, got 0"), std::string::npos) << bad_k.err;
  const CommandResult unknown_id = run({"similar", "12345"});
  EXPECT_EQ(unknown_id.exit_code, 1) << unknown_id.err;
  EXPECT_NE(unknown_id.err.find("no indexed image has the id 12345"), std::string::npos) << unknown_id.err;
}

TEST_F(IndexingCliTest, SimilarLeavesTheQueryImageOut) {
  const std::vector<fs::path> photos = copy_photos(photos_, 10);
  index();
  const int64_t id = id_of(search({"a photo of a dog", "-k", "1"})["results"][0]);

  const nlohmann::json by_id = similar({std::to_string(id), "-k", "5"});
  ASSERT_EQ(by_id["results"].size(), 5u);
  for (const auto& hit : by_id["results"]) EXPECT_NE(id_of(hit), id) << "the query image itself";
  EXPECT_EQ(similar({std::to_string(id), "-k", "100"})["results"].size(), 9u);

  // By its indexed path: the same results.
  const std::string path = search({"a photo of a dog", "-k", "1"})["results"][0]["path"].get<std::string>();
  EXPECT_EQ(ids_of(similar({path, "-k", "5"})), ids_of(by_id));

  // By an identical file outside the index: known content, same results.
  fs::copy_file(path, dir_ / "outside.jpg");
  EXPECT_EQ(ids_of(similar({(dir_ / "outside.jpg").string(), "-k", "5"})), ids_of(by_id));

  // By a new image: embedded on the spot; every indexed image is a candidate.
  copy_photos(dir_ / "new", 1, 40);
  const nlohmann::json by_new = similar({(dir_ / "new" / "photo-40.jpg").string(), "-k", "100"});
  EXPECT_EQ(by_new["results"].size(), 10u);

  // Neither an id nor a file.
  const CommandResult missing = run({"similar", (dir_ / "no-such.jpg").string()});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("no-such.jpg is neither an indexed id nor a readable image file"), std::string::npos)
      << missing.err;
  const CommandResult unknown_id = run({"similar", "12345"});
  EXPECT_NE(unknown_id.exit_code, 0);
  EXPECT_NE(unknown_id.err.find("no indexed image has the id 12345"), std::string::npos) << unknown_id.err;
}

TEST_F(IndexingCliTest, EmptyIndexSaysHowToFillIt) {
  const CommandResult search_result = run({"search", "a dog"});
  EXPECT_NE(search_result.exit_code, 0);
  EXPECT_NE(search_result.err.find("nothing indexed yet: run imgsearchd index DIR"), std::string::npos)
      << search_result.err;
  const CommandResult similar_result = run({"similar", "1"});
  EXPECT_NE(similar_result.err.find("nothing indexed yet"), std::string::npos) << similar_result.err;
  const CommandResult status = run({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("nothing indexed yet"), std::string::npos) << status.out;

  // A folder with no images: indexed, still nothing to search.
  index();
  EXPECT_NE(run({"search", "a dog"}).err.find("nothing indexed yet"), std::string::npos);
}

TEST_F(IndexingCliTest, IndexNeedsFoldersThatExist) {
  const CommandResult no_roots = run({"index"});
  EXPECT_NE(no_roots.exit_code, 0);
  EXPECT_NE(no_roots.err.find("no folders to index"), std::string::npos) << no_roots.err;
  EXPECT_NE(no_roots.err.find(config_.string()), std::string::npos) << "names the configuration file: " << no_roots.err;

  const CommandResult missing = run({"index", (dir_ / "no-such-folder").string()});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("no-such-folder"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;

  // Roots from the configuration.
  copy_photos(photos_, 2);
  write_config(kModelA, "  roots: [" + photos_.string() + "]\n");
  const CommandResult from_config = run({"index", "--json"});
  ASSERT_EQ(from_config.exit_code, 0) << from_config.err;
  EXPECT_EQ(from_config.json()["embedded"], 2);
}

TEST_F(IndexingCliTest, ASecondIndexerFailsAtOnceWhileSearchesGoOn) {
  copy_photos(photos_, 3);
  index();
  // This test process holds the writer lock, as a running indexer would.
  const int fd = ::open((data_ / "writer.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  const CommandResult second = run({"index", photos_.string()});
  const CommandResult search_result = run({"search", "a dog", "--json"});
  const CommandResult status = run({"status", "--json"});
  ::close(fd);

  EXPECT_NE(second.exit_code, 0);
  EXPECT_NE(second.err.find("another imgsearchd"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("is indexing the catalogue in " + data_.string()), std::string::npos) << second.err;
  EXPECT_EQ(search_result.exit_code, 0) << "searches never take the lock: " << search_result.err;
  EXPECT_EQ(search_result.json()["results"].size(), 3u);
  EXPECT_EQ(status.exit_code, 0) << status.err;

  EXPECT_EQ(index()["unchanged"], 3) << "the lock is free again";
}

TEST_F(IndexingCliTest, StatusListsCountsModelsAndFailedFilesWithReasons) {
  copy_photos(photos_, 4);
  fs::copy_file(kSharedData / "pillow" / "truncated_jpeg.jpg", photos_ / "truncated.jpg");
  write_text(photos_ / "zero.png", "");
  const nlohmann::json summary = index();
  EXPECT_EQ(summary["embedded"], 4);
  EXPECT_EQ(summary["failed"], 2);

  const CommandResult result = run({"status", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json status = result.json();
  EXPECT_EQ(status["files_ok"], 4);
  EXPECT_EQ(status["files_failed"], 2);
  ASSERT_EQ(status["models"].size(), 1u);
  EXPECT_EQ(status["models"][0]["live"], 4);
  EXPECT_EQ(status["models"][0]["index"]["current"], true);
  EXPECT_EQ(status["models"][0]["index"]["vectors"], 4);
  ASSERT_EQ(status["failed_files"].size(), 2u);
  EXPECT_EQ(status["failed_files"][0]["path"], (photos_ / "truncated.jpg").string());
  EXPECT_EQ(status["failed_files"][1]["path"], (photos_ / "zero.png").string());
  for (const auto& failed : status["failed_files"]) EXPECT_FALSE(failed["reason"].get<std::string>().empty());

  const CommandResult text = run({"status"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find((photos_ / "truncated.jpg").string()), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(status["failed_files"][0]["reason"].get<std::string>()), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("4 indexed, 2 failed"), std::string::npos) << text.out;

  // Not retried while unchanged.
  const nlohmann::json again = index();
  EXPECT_EQ(again["failed"], 0);
  EXPECT_EQ(again["hashed"], 0);
}

TEST_F(IndexingCliTest, ADeletedVectorIndexFileIsRebuiltWithIdenticalResults) {
  copy_photos(photos_, 15);
  index();
  std::vector<nlohmann::json> before;
  for (const std::string& query : kQueries) before.push_back(search({query, "-k", "8"})["results"]);

  std::vector<fs::path> index_files;
  for (const auto& entry : fs::directory_iterator(data_))
    if (entry.path().extension() == ".faiss") index_files.push_back(entry.path());
  ASSERT_EQ(index_files.size(), 1u);
  fs::remove(index_files[0]);

  // Searches rebuild it in memory from the catalogue.
  for (size_t i = 0; i < kQueries.size(); ++i) EXPECT_EQ(search({kQueries[i], "-k", "8"})["results"], before[i]);
  // The next index run rebuilds and saves it, with no model work.
  const nlohmann::json summary = index();
  EXPECT_EQ(summary["embedded"], 0);
  EXPECT_TRUE(fs::exists(index_files[0]));
  for (size_t i = 0; i < kQueries.size(); ++i) EXPECT_EQ(search({kQueries[i], "-k", "8"})["results"], before[i]);
  EXPECT_EQ(run({"status", "--json"}).json()["models"][0]["index"]["current"], true);
}

TEST_F(IndexingCliTest, RenameMoveCopyAndDeleteCostNoModelTime) {
  const std::vector<fs::path> photos = copy_photos(photos_, 6);
  EXPECT_EQ(index()["embedded"], 6);
  const nlohmann::json before = search({"a red bus", "-k", "6"});

  fs::rename(photos[0], photos_ / "renamed.jpg");
  fs::create_directories(photos_ / "sub");
  fs::rename(photos[1], photos_ / "sub" / "moved.jpg");
  fs::copy_file(photos[2], photos_ / "copy.jpg");
  fs::remove(photos[3]);
  const nlohmann::json summary = index();
  EXPECT_EQ(summary["embedded"], 0);
  EXPECT_EQ(summary["attached"], 3);
  EXPECT_EQ(summary["removed"], 3);

  // Search results follow: same images (but the deleted one), new paths.
  const nlohmann::json after = search({"a red bus", "-k", "6"});
  std::vector<int64_t> expected_ids;
  for (const auto& hit : before["results"]) {
    if (hit["path"] != photos[3].string()) expected_ids.push_back(id_of(hit));
  }
  EXPECT_EQ(ids_of(after), expected_ids);
  for (const auto& hit : after["results"]) {
    const std::string path = hit["path"].get<std::string>();
    EXPECT_TRUE(fs::exists(path)) << path;
    if (hit["paths"].size() == 2u) {
      EXPECT_EQ(hit["paths"], nlohmann::json({(photos_ / "copy.jpg").string(), photos[2].string()}));
    }
  }

  test::append_bytes(photos[4]);
  EXPECT_EQ(index()["embedded"], 1) << "a modified file is embedded again, once";
  EXPECT_EQ(index()["hashed"], 0);
}

// The two fixture models (seeds 1 and 2) are files of one name,
// open_clip_model.safetensors, with other weights: two models, told apart by
// their fingerprints, and the message says which is which and what to do.
TEST_F(IndexingCliTest, AWeightsFileOfTheSameNameWithOtherWeightsIsAnotherModel) {
  ASSERT_EQ(kModelA.filename(), kModelB.filename());
  copy_photos(photos_, 3);
  index();

  const CommandResult other = run({"search", "a photo of a dog", "--model", kModelB.string()});
  EXPECT_EQ(other.exit_code, 1) << other.err;
  EXPECT_NE(other.err.find("nothing indexed yet with the model open_clip_model from " + kModelB.string()),
            std::string::npos)
      << other.err;
  EXPECT_NE(other.err.find("another weights file of the same name"), std::string::npos) << other.err;
  EXPECT_NE(other.err.find("Run imgsearchd index DIR --model " + kModelB.string()), std::string::npos) << other.err;

  // Doing what it says works, and the two fingerprints it named are the two models'.
  EXPECT_EQ(index({"--model", kModelB.string(), photos_.string()})["embedded"], 3);
  const nlohmann::json status = run({"status", "--json"}).json();
  ASSERT_EQ(status["models"].size(), 2u);
  EXPECT_EQ(status["models"][0]["name"], status["models"][1]["name"]);
  EXPECT_NE(status["models"][0]["fingerprint"], status["models"][1]["fingerprint"]);
  for (const auto& model : status["models"]) {
    EXPECT_NE(other.err.find(model["fingerprint"].get<std::string>()), std::string::npos) << other.err;
  }
  const CommandResult text = run({"status"});
  for (const auto& model : status["models"]) {
    EXPECT_NE(text.out.find("fingerprint " + model["fingerprint"].get<std::string>()), std::string::npos) << text.out;
  }
  EXPECT_EQ(search({"a photo of a dog", "--model", kModelB.string()})["results"].size(), 3u);
}

TEST_F(IndexingCliTest, SwitchingModelsReembedsOnceAndSwitchingBackIsFree) {
  copy_photos(photos_, 5);
  EXPECT_EQ(index()["embedded"], 5);
  const nlohmann::json with_a = search({"a photo of a dog", "-k", "5"});

  const nlohmann::json switched = index({"--model", kModelB.string(), photos_.string()});
  EXPECT_EQ(switched["embedded"], 5);
  const nlohmann::json with_b = search({"a photo of a dog", "-k", "5", "--model", kModelB.string()});
  EXPECT_NE(with_b["results"], with_a["results"]) << "another model gives other scores";

  const nlohmann::json back = index();
  EXPECT_EQ(back["embedded"], 0);
  EXPECT_EQ(back["hashed"], 0);
  EXPECT_EQ(search({"a photo of a dog", "-k", "5"})["results"], with_a["results"]);
  EXPECT_EQ(index({"--model", kModelB.string(), photos_.string()})["embedded"], 0);
}

}  // namespace
}  // namespace imgsearchd::test
