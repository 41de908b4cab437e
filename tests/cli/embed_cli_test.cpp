// `imgsearchd embed`: the JSON a script gets is the library's embedding of
// the same file and text, normalised, in the order given, and a broken image
// is reported in place with a non-zero exit.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "indexer/session/model_session.h"
#include "tests/support/process.h"
#include "tests/support/scratch.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kModel = fs::path(IMGSEARCHD_TEST_WORK_DIR) / "model" / "small" / "openai" / "model.pt";
const fs::path kPhoto = fs::path(IMGSEARCHD_SHARED_DIR) / "testdata" / "coco-val" / "000000000139.jpg";
const fs::path kBroken = fs::path(IMGSEARCHD_SHARED_DIR) / "testdata" / "pillow" / "truncated_jpeg.jpg";

struct CommandRun {
  int exit_code = -1;
  std::string out;
};

// stdout only, unless with_stderr (then stdout and stderr, for checking messages).
CommandRun run_binary(const std::vector<std::string>& arguments, bool with_stderr = false) {
  const imgsearchd::test::CommandResult result =
      imgsearchd::test::run_imgsearchd(arguments, imgsearchd::test::fresh_dir("cli"));
  return {result.exit_code, with_stderr ? result.out + result.err : result.out};
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) dot += a[i] * b[i], na += a[i] * a[i], nb += b[i] * b[i];
  return dot / std::sqrt(na * nb);
}

double norm(const std::vector<float>& a) {
  double sum = 0;
  for (float v : a) sum += v * v;
  return std::sqrt(sum);
}

imgsearchd::ModelSession library_session() {
  imgsearchd::ModelSessionOptions options;
  options.model = kModel.string();
  return imgsearchd::ModelSession(options);
}

}  // namespace

TEST(EmbedCli, ImagesAndTextsMatchTheLibraryInTheOrderGiven) {
  CommandRun run = run_binary({"embed", "--model", kModel.string(), "--image", kPhoto.string(), "--text",
                               "a dog on a beach", "--text", "a red bicycle"});
  ASSERT_EQ(run.exit_code, 0) << run.out;
  json out = json::parse(run.out);
  EXPECT_EQ(out["format"], "openai-torchscript");
  const int dim = out["dim"];
  const json& results = out["results"];
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0]["image"], kPhoto.string());
  EXPECT_EQ(results[1]["text"], "a dog on a beach");
  EXPECT_EQ(results[2]["text"], "a red bicycle");
  for (const auto& r : results) {
    auto v = r["embedding"].get<std::vector<float>>();
    ASSERT_EQ(static_cast<int>(v.size()), dim);
    EXPECT_NEAR(norm(v), 1.0, 1e-4);
  }

  imgsearchd::ModelSession session = library_session();
  auto image = imgsearchd::load_image_for_clip(kPhoto, session.preprocess());
  ASSERT_TRUE(image.ok()) << image.error;
  std::vector<float> expected_image = session.model().encode_images(image.image->chw.data(), 1);
  std::vector<float> expected_texts = session.embed_texts({"a dog on a beach", "a red bicycle"});
  EXPECT_GT(cosine(results[0]["embedding"].get<std::vector<float>>(), expected_image), 0.9999);
  std::vector<float> first(expected_texts.begin(), expected_texts.begin() + dim);
  std::vector<float> second(expected_texts.begin() + dim, expected_texts.end());
  EXPECT_GT(cosine(results[1]["embedding"].get<std::vector<float>>(), first), 0.9999);
  EXPECT_GT(cosine(results[2]["embedding"].get<std::vector<float>>(), second), 0.9999);
  EXPECT_LT(cosine(first, second), 0.9999) << "different texts must not give the same embedding";
}

TEST(EmbedCli, BrokenImageIsReportedInPlaceAndFailsTheRun) {
  CommandRun run =
      run_binary({"embed", "--model", kModel.string(), "--image", kBroken.string(), "--image", kPhoto.string()});
  EXPECT_EQ(run.exit_code, 1);
  json out = json::parse(run.out);
  ASSERT_EQ(out["results"].size(), 2u);
  EXPECT_EQ(out["results"][0]["image"], kBroken.string());
  EXPECT_NE(out["results"][0]["error"].get<std::string>().find(kBroken.string()), std::string::npos);
  EXPECT_TRUE(out["results"][1].contains("embedding"));
}

TEST(EmbedCli, MissingModelAndMissingInputsAreClearErrors) {
  CommandRun no_input = run_binary({"embed", "--model", kModel.string()});
  EXPECT_NE(no_input.exit_code, 0);
  CommandRun missing = run_binary({"embed", "--model", "/nonexistent/model.pt", "--text", "hi"}, true);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.out.find("/nonexistent/model.pt"), std::string::npos) << missing.out;
}
