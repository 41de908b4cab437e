// Runs tests/reference/tokenizer_reference.py (Debian's Python, the regex
// module, Python's own html module) on a list of strings and returns its JSON.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace imgsearchd::test {

inline std::filesystem::path vocabulary_path() {
  return std::filesystem::path(IMGSEARCHD_SOURCE_DIR) / "data" / "bpe_simple_vocab_16e6.txt.gz";
}

inline std::filesystem::path tokenizer_work_dir() {
  std::filesystem::path dir = std::filesystem::path(IMGSEARCHD_TEST_WORK_DIR) / "tokenizer";
  std::filesystem::create_directories(dir);
  return dir;
}

// mode: "tokenize", "html-unescape" or "ftfy-unescape". `name` keeps the
// files of different tests apart (ctest may run them in parallel).
inline nlohmann::json run_reference(const std::string& mode, const std::string& name,
                                    const std::vector<std::string>& texts) {
  const std::filesystem::path dir = tokenizer_work_dir();
  const std::filesystem::path input = dir / (name + ".in.json");
  const std::filesystem::path output = dir / (name + ".out.json");
  std::filesystem::remove(output);
  std::ofstream(input) << nlohmann::json(texts).dump();
  const std::string script = std::string(IMGSEARCHD_SOURCE_DIR) + "/tests/reference/tokenizer_reference.py";
  std::vector<std::string> command = {IMGSEARCHD_REFERENCE_PYTHON, script, mode};
  if (mode == "tokenize") command.push_back(vocabulary_path().string());
  command.push_back(input.string());
  command.push_back(output.string());
  const std::filesystem::path scratch = dir / name;
  std::filesystem::create_directories(scratch);
  const CommandResult run = run_command(command, scratch);
  if (run.exit_code != 0) {
    ADD_FAILURE() << "reference tokenizer failed (exit " << run.exit_code << "): " << script << " " << mode << "\n"
                  << run.err;
    return nlohmann::json::array();
  }
  std::ifstream in(output);
  nlohmann::json result = nlohmann::json::parse(in);
  EXPECT_EQ(result.size(), texts.size()) << "reference answered a different number of strings";
  return result;
}

// The string as JSON, so that control characters and odd spaces are visible.
inline std::string visible(const std::string& text) { return nlohmann::json(text).dump(); }

inline std::string format_ids(const std::vector<int32_t>& ids) { return nlohmann::json(ids).dump(); }

}  // namespace imgsearchd::test
