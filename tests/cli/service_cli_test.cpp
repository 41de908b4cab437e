// search, similar, status and rescan as a user runs them next to the real
// `imgsearchd serve`: through the service while it answers (its /metrics
// count the requests), from the index directly once it has stopped, with the
// same output either way; a configured token is sent; a service that holds
// the data folder's writer lock but does not answer is reported, never
// passed over in silence.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <vector>

#include "serve_fixture.h"

namespace imgsearchd::test {
namespace {

class ServiceCliTest : public ServeTest {
 protected:
  // Six photos, indexed by a running service.
  void start_with_photos() {
    for (size_t i = 0; i < 6; ++i) {
      const fs::path file = photos_ / ("photo-" + std::to_string(i) + ".jpg");
      copy_photo(i, file);
      photos_list_.push_back(file);
    }
    start_ready();
    wait_for_catalogue(paths_of(photos_list_));
  }

  // How many requests the service counted for `route` ("POST /api/search") with `status`.
  long requests(const std::string& route, int status = 200, const std::string& token = "") const {
    httplib::Client client(service_status().value("api", ""));
    if (!token.empty()) client.set_bearer_token_auth(token);
    const httplib::Result result = client.Get("/metrics");
    if (!result || result->status != 200) {
      ADD_FAILURE() << "GET /metrics failed";
      return -1;
    }
    const std::string key =
        "imgsearchd_http_requests_total{route=\"" + route + "\",status=\"" + std::to_string(status) + "\"} ";
    const size_t at = result->body.find(key);
    return at == std::string::npos ? 0 : std::stol(result->body.substr(at + key.size()));
  }

  // The answers to every read-only command (JSON and text), in one map.
  std::map<std::string, CommandResult> ask_everything() {
    std::map<std::string, CommandResult> answers;
    answers["search json"] = cli({"search", "--json", "-k", "4", "a photo of a dog"});
    answers["search page"] = cli({"search", "--json", "-k", "2", "--offset", "1", "--min-score", "-0.5", "a dog"});
    answers["search text"] = cli({"search", "-k", "3", "a photo of a dog"});
    const nlohmann::json top = answers["search json"].json();
    const std::string id = top["results"][0]["id"].is_string() ? top["results"][0]["id"].get<std::string>() : "0";
    answers["similar id"] = cli({"similar", "--json", "-k", "3", id});
    answers["similar path"] = cli({"similar", "--json", "-k", "3", photos_list_[2].string()});
    answers["similar text"] = cli({"similar", "-k", "3", photos_list_[2].string()});
    answers["status json"] = cli({"status", "--json"});
    for (const auto& [what, answer] : answers) EXPECT_EQ(answer.exit_code, 0) << what << ": " << answer.err;
    return answers;
  }

  std::vector<fs::path> photos_list_;
};

// The same images, paths and order; scores equal to float precision.
void expect_same_hits(const nlohmann::json& got, const nlohmann::json& want, const std::string& what) {
  ASSERT_EQ(got["results"].size(), want["results"].size()) << what << "\n" << got << "\n" << want;
  for (size_t i = 0; i < got["results"].size(); ++i) {
    const nlohmann::json& a = got["results"][i];
    const nlohmann::json& b = want["results"][i];
    EXPECT_TRUE(a["id"].is_string()) << what << ": ids are JSON strings: " << a;
    EXPECT_EQ(a["id"], b["id"]) << what << " result " << i;
    EXPECT_EQ(a["path"], b["path"]) << what << " result " << i;
    EXPECT_EQ(a["paths"], b["paths"]) << what << " result " << i;
    EXPECT_NEAR(a["score"].get<double>(), b["score"].get<double>(), 1e-5) << what << " result " << i;
  }
  for (const char* key : {"query", "model", "k", "offset", "min_score"}) EXPECT_EQ(got[key], want[key]) << what << " " << key;
}

TEST_F(ServiceCliTest, TheSameAnswersThroughTheServiceAndDirectly) {
  start_with_photos();
  const long searches = requests("POST /api/search"), uploads = requests("POST /api/search/image");
  const long statuses = requests("GET /api/status");
  std::map<std::string, CommandResult> served = ask_everything();
  // Through the service: two text searches and a search by id (POST
  // /api/search), one upload per similar PATH, one status per command.
  EXPECT_EQ(requests("POST /api/search"), searches + 4);
  EXPECT_EQ(requests("POST /api/search/image"), uploads + 2);
  EXPECT_EQ(requests("GET /api/status"), statuses + 7);
  for (const auto& [what, answer] : served) EXPECT_EQ(answer.err, "") << what << " said something on stderr";

  const nlohmann::json status = served["status json"].json();
  ASSERT_TRUE(status["service"].is_object()) << status;
  EXPECT_EQ(status["service"]["state"], "watching");
  EXPECT_EQ(status["service"]["pid"], serve_->pid());
  EXPECT_EQ(status["files_ok"], 6);

  // The query image itself is left out, by id as by path.
  const nlohmann::json by_id = served["similar id"].json();
  EXPECT_TRUE(by_id["query"]["id"].is_string()) << by_id["query"];
  for (const auto& hit : by_id["results"]) EXPECT_NE(hit["id"], by_id["query"]["id"]);
  const nlohmann::json by_path = served["similar path"].json();
  ASSERT_TRUE(by_path["query"]["id"].is_string()) << by_path["query"];
  for (const auto& hit : by_path["results"]) EXPECT_NE(hit["path"], photos_list_[2].string());

  // A rescan through the service.
  const CommandResult rescan = cli({"rescan", "--json"});
  ASSERT_EQ(rescan.exit_code, 0) << rescan.err;
  EXPECT_EQ(rescan.json()["roots"], nlohmann::json::array({photos_.string()}));
  const CommandResult one_root = cli({"rescan", photos_.string()});
  ASSERT_EQ(one_root.exit_code, 0) << one_root.err;
  EXPECT_EQ(one_root.out, "rescan queued for 1 root:\n  " + photos_.string() + "\n");
  const CommandResult not_a_root = cli({"rescan", (dir_ / "elsewhere").string()});
  EXPECT_EQ(not_a_root.exit_code, 1);
  EXPECT_NE(not_a_root.err.find("is not one of the indexed roots"), std::string::npos) << not_a_root.err;
  wait_for_catalogue(paths_of(photos_list_));

  // The service's errors read as the direct ones, with the same exit codes.
  const CommandResult unknown_id = cli({"similar", "12345"});
  EXPECT_EQ(unknown_id.exit_code, 1);
  EXPECT_NE(unknown_id.err.find("no indexed image has the id 12345"), std::string::npos) << unknown_id.err;
  const CommandResult not_an_image = cli({"similar", config_.string()});
  EXPECT_EQ(not_an_image.exit_code, 2) << not_an_image.err;

  // Another data folder's command line leaves this service alone, even at its address.
  const fs::path other = dir_ / "other.yaml";
  write_text(other, "data_dir: " + (dir_ / "other-data").string() + "\nmodel:\n  name: " + model_.string() +
                        "\napi:\n  listen: " + service_status().value("api", "").substr(7) + "\n");
  const long before_other = requests("POST /api/search");
  const CommandResult elsewhere = run_imgsearchd(other, {"search", "a dog"}, dir_);
  EXPECT_EQ(elsewhere.exit_code, 1);
  EXPECT_NE(elsewhere.err.find("nothing indexed yet"), std::string::npos) << elsewhere.err;
  EXPECT_EQ(requests("POST /api/search"), before_other);

  ASSERT_EQ(serve_->stop(), 0) << serve_->log();
  EXPECT_EQ(cli({"similar", config_.string()}).exit_code, 2) << "the same exit code directly";
  std::map<std::string, CommandResult> direct = ask_everything();
  for (const char* what : {"search json", "search page", "similar id", "similar path"})
    expect_same_hits(served[what].json(), direct[what].json(), what);
  EXPECT_EQ(served["search text"].out, direct["search text"].out);
  EXPECT_EQ(served["similar text"].out, direct["similar text"].out);
  for (const auto& [what, answer] : direct) EXPECT_EQ(answer.err, "") << what << " said something on stderr";
  const nlohmann::json after = direct["status json"].json();
  EXPECT_TRUE(after["service"].is_null()) << after;
  for (const char* key : {"files_ok", "files_failed", "contents", "data_dir", "catalog"})
    EXPECT_EQ(after[key], status[key]) << key;

  // Without a service there is nothing to ask for a rescan.
  const CommandResult no_service = cli({"rescan"});
  EXPECT_EQ(no_service.exit_code, 1);
  EXPECT_NE(no_service.err.find("service is not running"), std::string::npos) << no_service.err;
  EXPECT_NE(no_service.err.find("imgsearchd index"), std::string::npos) << no_service.err;
}

TEST_F(ServiceCliTest, AConfiguredTokenIsSentAndAWrongOneFailsClearly) {
  const std::string token = "0123456789abcdef0123456789abcdef";
  write_config("", "  token: " + token + "\n");
  start_with_photos();
  const long before = requests("POST /api/search", 200, token);
  const CommandResult search = cli({"search", "--json", "a photo"});
  ASSERT_EQ(search.exit_code, 0) << search.err;
  EXPECT_EQ(search.json()["results"].size(), 6u);
  EXPECT_EQ(requests("POST /api/search", 200, token), before + 1) << "answered by the service, with the token";

  // The same data folder with another token: refused, and said so (no
  // silent answer from the catalogue behind the service's back).
  const fs::path wrong = dir_ / "wrong-token.yaml";
  std::string text = read_text(config_);
  text.replace(text.find(token), token.size(), "ffffffffffffffffffffffffffffffff");
  write_text(wrong, text);
  const CommandResult refused = run_imgsearchd(wrong, {"search", "--json", "a photo"}, dir_);
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.err.find("refused the request (401)"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("api.token"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.out, "");
}

TEST_F(ServiceCliTest, AServiceThatHoldsTheLockButDoesNotAnswerIsReported) {
  start_with_photos();
  const nlohmann::json served = cli({"search", "--json", "a photo"}).json();

  // A hung service: stopped, so its port takes the connection but nothing answers.
  serve_->signal(SIGSTOP);
  const CommandResult hung = cli({"search", "--json", "a photo"});
  serve_->signal(SIGCONT);
  ASSERT_EQ(hung.exit_code, 0) << hung.err;
  expect_same_hits(hung.json(), served, "hung service");
  EXPECT_NE(hung.err.find("the imgsearchd service (process " + std::to_string(serve_->pid()) + ") holds " +
                          (data_ / "writer.lock").string() + " but it does not answer (GET /api/status at http://127.0.0.1:"),
            std::string::npos)
      << hung.err;
  EXPECT_NE(hung.err.find("answering from the catalogue directly"), std::string::npos) << hung.err;
  ASSERT_EQ(serve_->stop(), 0) << serve_->log();

  // A service holding the lock whose address is unknown (api.listen chose a
  // port and no status file names it): this test plays the service.
  WriterLock lock = WriterLock::acquire(data_, WriterLock::Role::serve);
  const CommandResult search = cli({"search", "--json", "a photo"});
  ASSERT_EQ(search.exit_code, 0) << search.err;
  expect_same_hits(search.json(), served, "silent service");
  EXPECT_NE(search.err.find("holds " + (data_ / "writer.lock").string() + " but its address is unknown"),
            std::string::npos)
      << search.err;
  const CommandResult status = cli({"status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.err.find("answering from the catalogue directly"), std::string::npos) << status.err;
  EXPECT_NE(status.out.find("files: 6 indexed"), std::string::npos) << status.out;
  const CommandResult rescan = cli({"rescan"});
  EXPECT_EQ(rescan.exit_code, 1);
  EXPECT_NE(rescan.err.find("holds " + (data_ / "writer.lock").string()), std::string::npos) << rescan.err;
  EXPECT_NE(rescan.err.find("nothing was rescanned"), std::string::npos) << rescan.err;
}

}  // namespace
}  // namespace imgsearchd::test
