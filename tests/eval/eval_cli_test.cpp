// `imgsearchd eval` end to end: the real binary, a random-weights model,
// real photos. With random weights the figures say nothing about CLIP, so
// the sets here have answers that are known whatever the weights: copies
// of indexed photos find their originals first, and with K at least the
// size of the index every caption's image is found.
#include <gtest/gtest.h>
#include <vips/vips8>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "tests/support/cli_fixture.h"

namespace imgsearchd::test {
namespace {

void reencoded_copy(const fs::path& from, const fs::path& to, int quality, double scale = 1.0) {
  static const bool ready = VIPS_INIT("eval_cli_test") == 0;
  ASSERT_TRUE(ready);
  vips::VImage image = vips::VImage::new_from_file(from.c_str());
  if (scale != 1.0) image = image.resize(scale);
  image.jpegsave(to.c_str(), vips::VImage::option()->set("Q", quality));
}

using EvalCliTest = IndexingCliTest;

TEST_F(EvalCliTest, ReencodedCopiesOfIndexedPhotosHaveRecallAtOneOfOne) {
  const std::vector<fs::path> photos = copy_photos(photos_, 10);
  index();
  // Queries: re-encoded (and for half, resized) copies outside the index;
  // ground truth: the originals, by path relative to the set.
  const fs::path set_dir = dir_ / "set";
  fs::create_directories(set_dir / "queries");
  nlohmann::json queries = nlohmann::json::array();
  for (size_t i = 0; i < photos.size(); ++i) {
    const std::string name = "copy-" + std::to_string(i) + ".jpg";
    reencoded_copy(photos[i], set_dir / "queries" / name, 45, i % 2 ? 0.7 : 1.0);
    queries.push_back({{"query_id", "copy-" + std::to_string(i)},
                       {"image", "queries/" + name},
                       {"ground_truth", {"../photos/" + photos[i].filename().string()}}});
  }
  // Ground truth that is not indexed: reported, and the query is not measured.
  queries.push_back({{"query_id", "lost"}, {"text", "a dog"}, {"ground_truth", {"../photos/never-indexed.jpg"}}});
  // Duplicate ground truth and an id: counted once.
  const int64_t id0 = std::stoll(similar({photos[0].string(), "-k", "1"})["query"]["id"].get<std::string>());
  queries.push_back({{"query_id", "by-id-twice"},
                     {"image", "queries/copy-0.jpg"},
                     {"ground_truth", {std::to_string(id0), "../photos/" + photos[0].filename().string()}}});
  write_text(set_dir / "set.json", nlohmann::json({{"queries", queries}}).dump());

  const fs::path out = dir_ / "results.json";
  const CommandResult result = run({"eval", (set_dir / "set.json").string(), "--k", "1,5", "--out", out.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("overall (mean)"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("lost"), std::string::npos);
  EXPECT_NE(result.err.find("not in the index: " + (photos_ / "never-indexed.jpg").string()), std::string::npos)
      << result.err;

  const nlohmann::json report = nlohmann::json::parse(read_text(out));
  EXPECT_EQ(report["query_count"], 12);
  EXPECT_EQ(report["measured_queries"], 11);
  EXPECT_EQ(report["missing_ground_truth"], 1);
  EXPECT_EQ(report["overall"]["recall@1"], 1.0) << report["overall"];
  EXPECT_EQ(report["overall"]["recall@5"], 1.0);
  EXPECT_EQ(report["overall"]["precision@1"], 1.0);
  EXPECT_DOUBLE_EQ(report["overall"]["precision@5"].get<double>(), 0.2);
  EXPECT_EQ(report["overall"]["map"], 1.0);
  EXPECT_EQ(report["overall"]["mrr"], 1.0);
  EXPECT_EQ(report["ks"], nlohmann::json({1, 5}));
  EXPECT_EQ(report["model"]["indexed_images"], 10);
  EXPECT_FALSE(report["model"]["name"].get<std::string>().empty());
  EXPECT_TRUE(report["options"]["collapse"].is_null());
  for (const auto& query : report["queries"]) {
    if (query["query_id"] == "lost") {
      EXPECT_FALSE(query["measured"]);
      EXPECT_EQ(query["missing"], nlohmann::json({(photos_ / "never-indexed.jpg").string()}));
    } else if (query["query_id"] == "by-id-twice") {
      EXPECT_EQ(query["ground_truth"], 1);
      EXPECT_EQ(query["relevant"], nlohmann::json({id0}));
    } else {
      EXPECT_EQ(query["rr"], 1.0) << query;
      EXPECT_EQ(query["retrieved"].size(), 5u);
    }
  }
}

TEST_F(EvalCliTest, CocoCaptionsConvertAndRunWithSearchOptions) {
  // Ten COCO photos under other names: the ground truth (the shared files)
  // is matched by content.
  copy_photos(photos_, 10);
  index();
  const fs::path captions = kSharedData / "coco-val" / "captions.json";
  std::set<std::string> indexed_names;
  for (size_t i = 0; i < 10; ++i) indexed_names.insert(coco_photos()[i].filename().string());
  size_t all_captions = 0, indexed_captions = 0;
  const nlohmann::json source = nlohmann::json::parse(read_text(captions));
  for (const auto& image : source["images"]) {
    all_captions += image["captions"].size();
    if (indexed_names.count(image["file"].get<std::string>())) indexed_captions += image["captions"].size();
  }
  ASSERT_GT(indexed_captions, 0u);
  const fs::path set = dir_ / "coco.json";
  const CommandResult converted = run({"eval", "convert-coco", captions.string(), "--out", set.string()});
  ASSERT_EQ(converted.exit_code, 0) << converted.err;
  const nlohmann::json dataset = nlohmann::json::parse(read_text(set));
  const size_t queries = dataset["queries"].size();
  EXPECT_EQ(queries, all_captions);

  const fs::path out = dir_ / "results.json";
  const CommandResult result =
      run({"eval", set.string(), "--k", "1,10", "--out", out.string(), "--diversity", "0.3"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json report = nlohmann::json::parse(read_text(out));
  EXPECT_EQ(report["query_count"], all_captions);
  EXPECT_EQ(report["measured_queries"], indexed_captions) << "the captions of the 10 indexed photos";
  EXPECT_EQ(report["missing_ground_truth"], all_captions - indexed_captions);
  // With K = 10 = the whole index, every caption finds its image.
  EXPECT_EQ(report["overall"]["recall@10"], 1.0);
  EXPECT_DOUBLE_EQ(report["overall"]["precision@10"].get<double>(), 0.1);
  const double mrr = report["overall"]["mrr"].get<double>();
  EXPECT_GE(mrr, 0.1);
  EXPECT_LE(mrr, 1.0);
  EXPECT_EQ(report["options"]["diversity"], 0.3f);

  // The options change the measurement: --min-score above every score leaves nothing.
  const CommandResult strict = run({"eval", set.string(), "--k", "10", "--min-score", "1.01", "--out", out.string()});
  ASSERT_EQ(strict.exit_code, 0) << strict.err;
  EXPECT_EQ(nlohmann::json::parse(read_text(out))["overall"]["recall@10"], 0.0);

  const CommandResult bad_k = run({"eval", set.string(), "--k", "0,5"});
  EXPECT_EQ(bad_k.exit_code, 2);
  EXPECT_NE(bad_k.err.find("--k must be a comma-separated list"), std::string::npos) << bad_k.err;
  const CommandResult no_set = run({"eval", (dir_ / "absent.json").string()});
  EXPECT_EQ(no_set.exit_code, 1);
  EXPECT_NE(no_set.err.find("absent.json"), std::string::npos) << no_set.err;
}

}  // namespace
}  // namespace imgsearchd::test
