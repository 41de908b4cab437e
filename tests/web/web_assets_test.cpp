// The page's own files over a real server on loopback: /, /web/app.js and
// /web/style.css are the repository's api/web/ files, with their content
// types, reachable without the token (a browser cannot send one for them),
// and read from ApiOptions::web_dir when the page is installed beside the
// binary. No model or index is needed for them.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "api/server.h"
#include "tests/support/scratch.h"

namespace imgsearchd::test {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const fs::path kWebSource = fs::path(IMGSEARCHD_SOURCE_DIR) / "api" / "web";

class WebAssetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = test::fresh_dir("web");
  }

  void start(ApiOptions options) {
    options.host = "127.0.0.1";
    options.port = 0;
    ApiContext context;
    context.catalog_file = scratch_ / "no-catalogue.sqlite";
    server_ = std::make_unique<ApiServer>(std::move(options), std::move(context));
    server_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }

  fs::path scratch_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(WebAssetsTest, ThePageScriptAndStyleAreTheRepositorysFiles) {
  start({});
  const struct {
    const char* route;
    const char* file;
    const char* type;
  } files[] = {
      {"/", "index.html", "text/html; charset=utf-8"},
      {"/web/app.js", "app.js", "text/javascript; charset=utf-8"},
      {"/web/style.css", "style.css", "text/css; charset=utf-8"},
  };
  for (const auto& file : files) {
    const httplib::Result result = client_->Get(file.route);
    ASSERT_TRUE(result) << file.route;
    EXPECT_EQ(result->status, 200) << file.route;
    EXPECT_EQ(result->get_header_value("Content-Type"), file.type) << file.route;
    EXPECT_EQ(result->body, read_text(kWebSource / file.file)) << file.route;
  }
  // The page loads exactly these.
  const std::string page = read_text(kWebSource / "index.html");
  EXPECT_NE(page.find("src=\"/web/app.js\""), std::string::npos);
  EXPECT_NE(page.find("href=\"/web/style.css\""), std::string::npos);
  // No inline script or style is needed, so the policy allows none.
  const std::string policy = client_->Get("/")->get_header_value("Content-Security-Policy");
  EXPECT_EQ(policy.find("unsafe-inline"), std::string::npos) << policy;
  EXPECT_NE(policy.find("script-src 'self'"), std::string::npos) << policy;
}

TEST_F(WebAssetsTest, WithATokenThePageFilesNeedNoneAndTheApiDoes) {
  ApiOptions options;
  options.token = "web-assets-test-token-0123";
  start(options);
  for (const char* route : {"/", "/web/app.js", "/web/style.css"}) {
    const httplib::Result result = client_->Get(route);
    ASSERT_TRUE(result) << route;
    EXPECT_EQ(result->status, 200) << route;
  }
  const httplib::Result status = client_->Get("/api/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 401);
}

TEST_F(WebAssetsTest, AnInstalledPageFolderIsServedAndAMissingFileIsAJson404) {
  const fs::path folder = scratch_ / "page";
  fs::create_directories(folder);
  std::ofstream(folder / "index.html") << "<html>installed</html>";
  std::ofstream(folder / "app.js") << "// installed\n";
  ApiOptions options;
  options.web_dir = folder;
  start(options);
  EXPECT_EQ(client_->Get("/")->body, "<html>installed</html>");
  EXPECT_EQ(client_->Get("/web/app.js")->body, "// installed\n");
  const httplib::Result missing = client_->Get("/web/style.css");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->get_header_value("Content-Type"), "application/json");
  EXPECT_NE(missing->body.find("style.css"), std::string::npos) << missing->body;
  // Only the page's own names: nothing else of the folder is reachable.
  std::ofstream(folder / "secret.txt") << "not for the web";
  EXPECT_EQ(client_->Get("/web/secret.txt")->status, 404);
  EXPECT_EQ(client_->Get("/web/../page/secret.txt")->status, 404);
}

}  // namespace
}  // namespace imgsearchd::test
