// Evaluation sets and the COCO caption converter: what is accepted, what is
// refused and how the messages name it.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "indexer/eval/coco_captions.h"
#include "indexer/eval/eval_dataset.h"
#include "indexer/eval/evaluator.h"
#include "store/core/errors.h"
#include "tests/support/scratch.h"

namespace imgsearchd {
namespace {

namespace fs = std::filesystem;

fs::path scratch() { return test::fresh_dir("eval"); }

void write(const fs::path& file, const std::string& text) { std::ofstream(file) << text; }

std::string message_of(const nlohmann::json& json) {
  try {
    eval_dataset_from_json(json, "/data", "set.json");
  } catch (const InvalidInput& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(EvalDataset, ReadsEveryQueryKindAndResolvesPathsAgainstItsFolder) {
  const fs::path dir = scratch();
  write(dir / "set.json", R"({"queries": [
      {"query_id": "q1", "text": "a dog", "ground_truth": ["dogs/a.jpg", "/abs/b.jpg", "123", 456]},
      {"query_id": "q2", "image": "copies/a.jpg", "ground_truth": ["dogs/a.jpg"]},
      {"id": "789", "ground_truth": []}]})");
  const EvalDataset dataset = read_eval_dataset(dir / "set.json");
  ASSERT_EQ(dataset.queries.size(), 3u);
  EXPECT_EQ(dataset.queries[0].kind, EvalQuery::Kind::text);
  EXPECT_EQ(dataset.queries[0].ground_truth,
            (std::vector<std::string>{(dir / "dogs/a.jpg").string(), "/abs/b.jpg", "123", "456"}));
  EXPECT_EQ(dataset.queries[1].kind, EvalQuery::Kind::image);
  EXPECT_EQ(dataset.queries[1].image, dir / "copies/a.jpg");
  EXPECT_EQ(dataset.queries[2].kind, EvalQuery::Kind::id);
  EXPECT_EQ(dataset.queries[2].id, 789);
  EXPECT_EQ(dataset.queries[2].query_id, "q3") << "a missing query_id is the position";
}

TEST(EvalDataset, RefusesMalformedSetsNamingTheQueryAndKey) {
  EXPECT_NE(message_of(nlohmann::json::array()).find("'queries' list"), std::string::npos);
  EXPECT_NE(message_of({{"queries", nlohmann::json::array()}}).find("no queries"), std::string::npos);
  const nlohmann::json two_kinds = {{"queries", {{{"query_id", "x"}, {"text", "a"}, {"id", "1"},
                                                  {"ground_truth", nlohmann::json::array()}}}}};
  EXPECT_NE(message_of(two_kinds).find("set.json: query 1 (x) needs exactly one of"), std::string::npos)
      << message_of(two_kinds);
  const nlohmann::json no_truth = {{"queries", {{{"text", "a"}}}}};
  EXPECT_NE(message_of(no_truth).find("'ground_truth' must be a list"), std::string::npos);
  const nlohmann::json bad_truth = {{"queries", {{{"text", "a"}, {"ground_truth", {1.5}}}}}};
  EXPECT_NE(message_of(bad_truth).find("image path or id, got 1.5"), std::string::npos);
  const nlohmann::json repeated = {{"queries", {{{"query_id", "q"}, {"text", "a"}, {"ground_truth", {"1"}}},
                                                {{"query_id", "q"}, {"text", "b"}, {"ground_truth", {"1"}}}}}};
  EXPECT_NE(message_of(repeated).find("repeats the query_id 'q'"), std::string::npos);
  const nlohmann::json bad_id = {{"queries", {{{"id", "12ab"}, {"ground_truth", {"1"}}}}}};
  EXPECT_NE(message_of(bad_id).find("'id' must be"), std::string::npos);

  const fs::path dir = scratch();
  write(dir / "broken.json", "{\"queries\": [");
  EXPECT_THROW(read_eval_dataset(dir / "broken.json"), InvalidInput);
  EXPECT_THROW(read_eval_dataset(dir / "absent.json"), NotFound);
}

TEST(EvalDataset, KsAreParsedSortedAndChecked) {
  EXPECT_EQ(parse_ks("10,1,5,5"), (std::vector<size_t>{1, 5, 10}));
  for (const char* bad : {"", "0", "1,,2", "a", "1001", "-1"}) {
    EXPECT_THROW(parse_ks(bad), InvalidInput) << bad;
  }
}

TEST(CocoCaptions, TheSharedCaptionFileBecomesOneQueryPerCaption) {
  const fs::path captions = fs::path(IMGSEARCHD_SHARED_DIR) / "testdata" / "coco-val" / "captions.json";
  const nlohmann::json all = convert_coco_captions(captions);
  const nlohmann::json source = nlohmann::json::parse(std::ifstream(captions));
  size_t expected = 0;
  for (const auto& image : source["images"]) expected += image["captions"].size();
  ASSERT_EQ(all["queries"].size(), expected);
  const auto& first = all["queries"][0];
  const std::string file = source["images"][0]["file"].get<std::string>();
  EXPECT_EQ(first["query_id"], fs::path(file).stem().string() + "#1");
  EXPECT_EQ(first["text"], source["images"][0]["captions"][0]);
  EXPECT_EQ(first["ground_truth"][0], (fs::absolute(captions).parent_path() / file).lexically_normal().string());

  CocoConversion two;
  two.captions_per_image = 2;
  two.images_dir = "/photos";
  const nlohmann::json fewer = convert_coco_captions(captions, two);
  EXPECT_EQ(fewer["queries"].size(), 2 * source["images"].size());
  EXPECT_EQ(fewer["queries"][0]["ground_truth"][0], "/photos/" + file);
  // What it writes reads back as an evaluation set.
  EXPECT_EQ(eval_dataset_from_json(fewer, "/", "converted").queries.size(), fewer["queries"].size());
}

TEST(CocoCaptions, CocosOwnLayoutAndBadFiles) {
  const fs::path dir = scratch();
  write(dir / "captions_val2017.json", R"({"images": [{"id": 7, "file_name": "a.jpg"}, {"id": 9, "file_name": "b.jpg"}],
      "annotations": [{"image_id": 9, "caption": "two cats"}, {"image_id": 7, "caption": "a dog"},
                      {"image_id": 7, "caption": "a brown dog"}]})");
  const nlohmann::json set = convert_coco_captions(dir / "captions_val2017.json");
  ASSERT_EQ(set["queries"].size(), 3u);
  EXPECT_EQ(set["queries"][0]["query_id"], "a#1");
  EXPECT_EQ(set["queries"][1]["text"], "a brown dog");
  EXPECT_EQ(set["queries"][2]["ground_truth"][0], (dir / "b.jpg").string());

  write(dir / "orphan.json", R"({"images": [], "annotations": [{"image_id": 3, "caption": "x"}]})");
  try {
    convert_coco_captions(dir / "orphan.json");
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("annotations[0] names an image id"), std::string::npos) << e.what();
  }
  write(dir / "none.json", R"({"captions": []})");
  EXPECT_THROW(convert_coco_captions(dir / "none.json"), InvalidInput);
  EXPECT_THROW(convert_coco_captions(dir / "absent.json"), NotFound);
}

}  // namespace
}  // namespace imgsearchd
