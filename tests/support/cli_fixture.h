// The command-line fixture: a folder of real photos, a data folder, and a
// configuration file pointing at a small random-weights CLIP model made by
// tests/reference/clip_reference.py (the indexing_models fixture), with the
// real binary run on them.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/files.h"
#include "tests/support/photos.h"
#include "tests/support/process.h"
#include "tests/support/scratch.h"

namespace imgsearchd::test {

inline const fs::path kModelA = indexing_model(1);
inline const fs::path kModelB = indexing_model(2);

class IndexingCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir("indexing-cli");
    photos_ = dir_ / "photos";
    data_ = dir_ / "data";
    fs::create_directories(photos_);
    ASSERT_TRUE(fs::exists(kModelA)) << kModelA << " is missing: run the indexing_models test fixture";
    write_config(kModelA);
  }

  // A configuration file for the data folder `data` and the weights `model`.
  fs::path make_config(const fs::path& file, const fs::path& data, const fs::path& model,
                       const std::string& extra = "") {
    write_text(file, "data_dir: " + data.string() +
                         "\n"
                         "model:\n"
                         "  name: " + model.string() +
                         "\n"
                         "  threads: 1\n"
                         "  batch_size: 4\n"
                         "indexer:\n"
                         "  decode_threads: 2\n"
                         "  queue_size: 8\n" +
                         extra);
    return file;
  }

  // The test's own configuration (config_), with extra lines under indexer:.
  void write_config(const fs::path& model, const std::string& extra = "") {
    config_ = make_config(dir_ / "config.yaml", data_, model, extra);
  }

  CommandResult run(const std::vector<std::string>& args) { return run_imgsearchd(config_, args, dir_); }

  // `index --json ROOTS...` (the photos folder by default); asserts it succeeds.
  nlohmann::json index(std::vector<std::string> args = {}) {
    std::vector<std::string> command = {"index", "--json"};
    if (args.empty()) args = {photos_.string()};
    command.insert(command.end(), args.begin(), args.end());
    const CommandResult result = run(command);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.json();
  }

  nlohmann::json search(const std::vector<std::string>& args) {
    std::vector<std::string> command = {"search", "--json"};
    command.insert(command.end(), args.begin(), args.end());
    const CommandResult result = run(command);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.json();
  }

  nlohmann::json similar(const std::vector<std::string>& args) {
    std::vector<std::string> command = {"similar", "--json"};
    command.insert(command.end(), args.begin(), args.end());
    const CommandResult result = run(command);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.json();
  }

  fs::path dir_, photos_, data_, config_;
};

// An id of the CLI's --json output: a JSON string of digits, as in the API
// (ids are 63-bit, beyond what JavaScript and jq hold exactly).
inline int64_t id_of(const nlohmann::json& hit) {
  EXPECT_TRUE(hit["id"].is_string()) << "ids are JSON strings: " << hit;
  return hit["id"].is_string() ? std::stoll(hit["id"].get<std::string>()) : -1;
}

inline std::vector<int64_t> ids_of(const nlohmann::json& results) {
  std::vector<int64_t> ids;
  for (const auto& hit : results["results"]) ids.push_back(id_of(hit));
  return ids;
}

// The same images in the same order with the same paths; scores equal to
// float precision (an image embedded in another batch composition can differ
// in the last bits).
inline void expect_same_results(const nlohmann::json& got, const nlohmann::json& want) {
  ASSERT_EQ(got.size(), want.size()) << got << "\n" << want;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i]["id"], want[i]["id"]) << "result " << i;
    EXPECT_EQ(got[i]["paths"], want[i]["paths"]) << "result " << i;
    EXPECT_NEAR(got[i]["score"].get<double>(), want[i]["score"].get<double>(), 1e-5) << "result " << i;
  }
}

}  // namespace imgsearchd::test
