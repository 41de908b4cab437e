// The real imgsearchd binary: `model pull` and `model list`, their exit codes
// and messages, against a server on loopback.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "indexer/weights/model_registry.h"
#include "tests/support/download_server.h"
#include "tests/support/files.h"
#include "tests/support/process.h"
#include "tests/support/scratch.h"

namespace imgsearchd {
namespace {

namespace fs = std::filesystem;
using test::CommandResult;
using test::FileServer;
using test::read_text;

class ModelCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::fresh_dir("cli");
    fs::create_directories(dir_ / "home");
  }

  // Runs imgsearchd with a private HOME and XDG_DATA_HOME so no user file is read or written.
  CommandResult imgsearchd(const std::vector<std::string>& arguments) {
    return test::run_imgsearchd(arguments, dir_,
                                {{"HOME=" + (dir_ / "home").string(), "XDG_DATA_HOME=" + (dir_ / "xdg").string()}, {}});
  }

  fs::path dir_;
};

TEST_F(ModelCliTest, PullWithoutNetworkFailsAndSaysWhereToPutTheFile) {
  const std::string url = "http://127.0.0.1:" + std::to_string(test::closed_port()) + "/x";
  const std::string sha = test::sha256_hex("the file");
  const fs::path models = dir_ / "models";

  const CommandResult run = imgsearchd({"model", "pull", "--url", url, "--sha256", sha, "--dir", models.string()});

  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("could not download " + url), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("put the file at\n  " + (models / "x").string() + "\n"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("SHA-256 must be " + sha), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(models / "x"));
  EXPECT_FALSE(fs::exists(models / "x.part"));
}

TEST_F(ModelCliTest, PullsAKnownModelFromAMirrorAndListShowsIt) {
  const std::string weights = test::test_bytes(200000, 7);
  FileServer server(weights);
  const fs::path models = dir_ / "models";

  const CommandResult pull = imgsearchd({"model", "pull", "ViT-B-32", "--url", server.url("/ViT-B-32.pt"), "--sha256",
                                         test::sha256_hex(weights), "--dir", models.string()});
  ASSERT_EQ(pull.exit_code, 0) << pull.err;
  EXPECT_EQ(read_text(models / "ViT-B-32.pt"), weights);
  EXPECT_NE(pull.out.find((models / "ViT-B-32.pt").string()), std::string::npos) << pull.out;

  const CommandResult list = imgsearchd({"model", "list", "--dir", models.string()});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("ViT-B-32       present"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find((models / "ViT-B-32.pt").string()), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("ViT-B-16       missing"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find((models / "ViT-B-16.pt").string()), std::string::npos) << list.out;

  // These bytes are not OpenAI's file: --verify reads them and says so.
  const CommandResult verify = imgsearchd({"model", "list", "--verify", "--dir", models.string()});
  EXPECT_EQ(verify.exit_code, 1);
  EXPECT_NE(verify.out.find("ViT-B-32       BAD SHA-256"), std::string::npos) << verify.out;
  EXPECT_NE(verify.err.find("does not have its published SHA-256"), std::string::npos) << verify.err;
}

TEST_F(ModelCliTest, ListUsesTheDefaultModelsFolderAndShowsPartialDownloads) {
  const fs::path models = dir_ / "xdg" / "imgsearchd" / "models";
  fs::create_directories(models);
  std::ofstream(models / "ViT-L-14.pt.part") << "12345";

  const CommandResult list = imgsearchd({"model", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("models folder: " + models.string()), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("ViT-L-14       partial, 5 bytes"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("imgsearchd model pull NAME"), std::string::npos) << list.out;
}

TEST_F(ModelCliTest, PullRejectsAnUnknownNameAndABadChecksum) {
  const CommandResult unknown = imgsearchd({"model", "pull", "ViT-X-1"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("unknown model 'ViT-X-1'"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("ViT-B-32, ViT-B-16, ViT-L-14"), std::string::npos) << unknown.err;

  const CommandResult bad_sha = imgsearchd({"model", "pull", "--url", "http://127.0.0.1:1/x.pt", "--sha256", "1234"});
  EXPECT_EQ(bad_sha.exit_code, 2);  // a caller mistake (store/core/errors.h)
  EXPECT_NE(bad_sha.err.find("--sha256 must be 64 hex digits"), std::string::npos) << bad_sha.err;
}

}  // namespace
}  // namespace imgsearchd
