// The known models and how a model setting becomes a weights file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "indexer/model/clip_model.h"
#include "indexer/weights/model_registry.h"
#include "tests/support/scratch.h"

namespace imgsearchd {
namespace {

namespace fs = std::filesystem;

// Sets an environment variable for one scope, then puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string segment_from_end(const std::string& url, int n) {
  size_t end = url.size();
  for (int i = 0; i < n; ++i) end = url.rfind('/', end - 1);
  const size_t start = url.rfind('/', end - 1) + 1;
  return url.substr(start, end - start);
}

std::string resolve_error(const std::string& setting, const fs::path& dir) {
  try {
    resolve_model_path(setting, dir);
  } catch (const ModelError& e) {
    return e.what();
  }
  ADD_FAILURE() << "resolving '" << setting << "' did not fail";
  return {};
}

TEST(KnownModels, AreOpenAIsViTsWithTheHashFromTheirUrl) {
  for (const char* name : {"ViT-B-32", "ViT-B-16", "ViT-L-14"}) {
    EXPECT_NE(find_known_model(name), nullptr) << name;
  }
  for (const KnownModel& model : known_models()) {
    SCOPED_TRACE(model.name);
    EXPECT_EQ(model.url.rfind("https://openaipublic.azureedge.net/clip/models/", 0), 0u);
    // clip.py's rule: the second-to-last URL segment is the file's SHA-256.
    EXPECT_EQ(segment_from_end(model.url, 1), model.sha256);
    EXPECT_EQ(segment_from_end(model.url, 0), model.file_name);
    EXPECT_EQ(model.sha256.size(), 64u);
    EXPECT_EQ(model.sha256.find_first_not_of("0123456789abcdef"), std::string::npos);
  }
  // Spot check against clip.py, so an edited table cannot pass unnoticed.
  EXPECT_EQ(find_known_model("ViT-B-32")->sha256, "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af");
  EXPECT_EQ(find_known_model("ViT-B-32")->file_name, "ViT-B-32.pt");
}

TEST(KnownModels, AreFoundByOpenAIsNamesToo) {
  ASSERT_NE(find_known_model("ViT-L/14"), nullptr);
  EXPECT_EQ(find_known_model("ViT-L/14")->name, "ViT-L-14");
  EXPECT_EQ(find_known_model("ViT-B-99"), nullptr);
  EXPECT_EQ(find_known_model("vit-b-32"), nullptr);  // names are exact, as in clip.py
}

TEST(ModelsDir, FollowsXdgDataHomeThenHome) {
  ScopedEnv home("HOME", "/home/someone");
  {
    ScopedEnv xdg("XDG_DATA_HOME", "/data/xdg");
    EXPECT_EQ(default_models_dir(), fs::path("/data/xdg/imgsearchd/models"));
  }
  {
    ScopedEnv xdg("XDG_DATA_HOME", nullptr);
    EXPECT_EQ(default_models_dir(), fs::path("/home/someone/.local/share/imgsearchd/models"));
  }
  {
    ScopedEnv xdg("XDG_DATA_HOME", "relative/is/invalid");
    EXPECT_EQ(default_models_dir(), fs::path("/home/someone/.local/share/imgsearchd/models"));
  }
  EXPECT_EQ(models_dir_or_default("/srv/models"), fs::path("/srv/models"));
}

TEST(ResolveModelPath, FindsADownloadedKnownModel) {
  const fs::path dir = test::fresh_dir("weights");
  std::ofstream(dir / "ViT-B-16.pt") << "weights";
  EXPECT_EQ(resolve_model_path("ViT-B-16", dir), dir / "ViT-B-16.pt");
  EXPECT_EQ(resolve_model_path("ViT-B/16", dir), dir / "ViT-B-16.pt");
}

TEST(ResolveModelPath, TellsHowToGetAMissingKnownModel) {
  const fs::path dir = test::fresh_dir("weights");
  const std::string message = resolve_error("ViT-L-14", dir);
  EXPECT_NE(message.find("imgsearchd model pull ViT-L-14"), std::string::npos) << message;
  EXPECT_NE(message.find((dir / "ViT-L-14.pt").string()), std::string::npos) << message;
  EXPECT_NE(message.find(find_known_model("ViT-L-14")->sha256), std::string::npos) << message;
  EXPECT_NE(message.find(find_known_model("ViT-L-14")->url), std::string::npos) << message;
}

TEST(ResolveModelPath, TakesAPathToAWeightsFile) {
  const fs::path dir = test::fresh_dir("weights");
  const fs::path elsewhere = dir / "elsewhere" / "my-clip.safetensors";
  fs::create_directories(elsewhere.parent_path());
  std::ofstream(elsewhere) << "weights";
  std::ofstream(dir / "custom.pt") << "weights";

  EXPECT_EQ(resolve_model_path(elsewhere.string(), dir / "models-unused"), elsewhere);
  EXPECT_EQ(resolve_model_path("custom.pt", dir), dir / "custom.pt");  // a bare name inside the models folder

  const std::string message = resolve_error((dir / "nope.pt").string(), dir);
  EXPECT_NE(message.find("'" + (dir / "nope.pt").string() + "'"), std::string::npos) << message;
  EXPECT_NE(message.find("ViT-B-32"), std::string::npos) << message;  // lists the known names
}

}  // namespace
}  // namespace imgsearchd
