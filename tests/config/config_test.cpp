// The configuration file: the documented example loads and equals the
// defaults, and every mistake names the file and the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "daemon/config/config.h"

namespace fs = std::filesystem;
using imgsearchd::Config;
using imgsearchd::ConfigError;
using imgsearchd::load_config;

namespace {

fs::path write_config(const std::string& name, const std::string& text) {
  fs::path dir = fs::path(IMGSEARCHD_TEST_WORK_DIR) / "config";
  fs::create_directories(dir);
  fs::path file = dir / name;
  std::ofstream(file) << text;
  return file;
}

std::string error_of(const fs::path& file) {
  try {
    load_config(file);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Config, ExampleFileLoadsAndMatchesTheDefaults) {
  setenv("HOME", "/home/someone", 1);
  unsetenv("XDG_DATA_HOME");
  Config example = load_config(fs::path(IMGSEARCHD_SOURCE_DIR) / "config.example.yaml");
  Config defaults = imgsearchd::default_config();
  EXPECT_EQ(example.data_dir, defaults.data_dir);
  EXPECT_EQ(example.data_dir, fs::path("/home/someone/.local/share/imgsearchd"));
  EXPECT_EQ(example.model.dir, defaults.model.dir);
  EXPECT_EQ(example.model.name, defaults.model.name);
  EXPECT_EQ(example.model.threads, defaults.model.threads);
  EXPECT_EQ(example.model.batch_size, defaults.model.batch_size);
  EXPECT_EQ(example.images.max_pixels, defaults.images.max_pixels);
  EXPECT_EQ(example.indexer.extensions, defaults.indexer.extensions);
  EXPECT_EQ(example.indexer.skip_hidden, defaults.indexer.skip_hidden);
  EXPECT_EQ(example.indexer.skip_clutter, defaults.indexer.skip_clutter);
  EXPECT_EQ(example.indexer.queue_size, defaults.indexer.queue_size);
  EXPECT_EQ(example.log.level, defaults.log.level);
  EXPECT_EQ(example.model.precision, defaults.model.precision);
}

TEST(Config, ValuesOverrideDefaultsAndModelDirFollowsDataDir) {
  auto file = write_config("ok.yaml",
                           "data_dir: /srv/imgs\n"
                           "model: {threads: 2, batch_size: 8, device: cuda:1, precision: bf16}\n"
                           "indexer:\n  roots: [~/Pictures, /media/photos]\n  exclude: ['**/raw/**']\n");
  setenv("HOME", "/home/someone", 1);
  Config c = load_config(file);
  EXPECT_EQ(c.data_dir, fs::path("/srv/imgs"));
  EXPECT_EQ(c.model.dir, fs::path("/srv/imgs/models"));
  EXPECT_EQ(c.model.threads, 2);
  EXPECT_EQ(c.model.batch_size, 8);
  EXPECT_EQ(c.model.device, "cuda:1");
  EXPECT_EQ(c.model.precision, "bf16");
  ASSERT_EQ(c.indexer.roots.size(), 2u);
  EXPECT_EQ(c.indexer.roots[0], fs::path("/home/someone/Pictures"));
  EXPECT_EQ(c.indexer.exclude, std::vector<std::string>{"**/raw/**"});
}

TEST(Config, UnknownKeyIsNamedWithTheFile) {
  auto file = write_config("typo.yaml", "model:\n  thread: 4\n");
  std::string error = error_of(file);
  EXPECT_NE(error.find("typo.yaml"), std::string::npos) << error;
  EXPECT_NE(error.find("'model.thread'"), std::string::npos) << error;
  EXPECT_NE(error.find("threads"), std::string::npos) << "should list the known keys: " << error;
}

TEST(Config, WrongTypeAndOutOfRangeValuesAreNamed) {
  EXPECT_NE(error_of(write_config("type.yaml", "model: {batch_size: lots}\n")).find("'model.batch_size' has the wrong type"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("range.yaml", "model: {batch_size: 0}\n")).find("'model.batch_size' must be at least 1"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("device.yaml", "model: {device: tpu}\n")).find("'model.device' must be cpu"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("precision.yaml", "model: {precision: int8}\n"))
                .find("'model.precision' must be fp32 or bf16, got 'int8'"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("level.yaml", "log: {level: loud}\n")).find("'log.level' must be one of"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("section.yaml", "model: 3\n")).find("'model' must be a mapping"), std::string::npos);
}

TEST(Config, BrokenYamlAndMissingFileAreNamed) {
  EXPECT_NE(error_of(write_config("broken.yaml", "model: [unclosed\n")).find("not valid YAML"), std::string::npos);
  std::string missing = error_of("/nonexistent/imgsearchd.yaml");
  EXPECT_NE(missing.find("/nonexistent/imgsearchd.yaml: cannot read"), std::string::npos) << missing;
}
