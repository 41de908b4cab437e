// `imgsearchd serve` through its HTTP API, as a user's scripts and the web
// page see it: the service's figures on GET /metrics move as a dropped file
// is indexed, GET /api/status has the fields the page reads, and the
// configuration's search: defaults apply to API searches that do not say.
// Every wait is for a condition, with a deadline.
#include <cstdlib>
#include <sstream>

#include "serve_fixture.h"

namespace imgsearchd::test {
namespace {

class ServeApiTest : public ServeTest {
 protected:
  // GET /metrics, as text.
  std::string metrics_text() const {
    const std::string url = service_status().value("api", "");
    if (url.empty()) return "";
    httplib::Client client(url);
    client.set_read_timeout(30, 0);
    const httplib::Result result = client.Get("/metrics");
    if (!result || result->status != 200) return "";
    return result->body;
  }

  // The value of one series ("imgsearchd_files{state=\"ok\"}"), -1 if absent.
  static double metric(const std::string& text, const std::string& series) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
        return std::strtod(line.c_str() + series.size() + 1, nullptr);
      }
    }
    return -1;
  }
  double metric(const std::string& series) const { return metric(metrics_text(), series); }
};

TEST_F(ServeApiTest, MetricsMoveAsADroppedFileIsIndexed) {
  const std::vector<fs::path> files = copy_photos(photos_, 2);
  start_ready();
  wait_for_catalogue(paths_of(files));
  const std::string before = metrics_text();
  ASSERT_FALSE(before.empty()) << "GET /metrics did not answer";
  EXPECT_EQ(metric(before, "imgsearchd_files{state=\"ok\"}"), 2) << before;
  EXPECT_EQ(metric(before, "imgsearchd_files{state=\"failed\"}"), 0);
  EXPECT_EQ(metric(before, "imgsearchd_files{state=\"pending\"}"), 0);
  EXPECT_EQ(metric(before, "imgsearchd_queue_depth"), 0);
  EXPECT_EQ(metric(before, "imgsearchd_index_vectors"), 2);
  EXPECT_EQ(metric(before, "imgsearchd_images_embedded_total"), 2);
  EXPECT_EQ(metric(before, "imgsearchd_watcher_overflows_total"), 0);
  EXPECT_EQ(metric(before, "imgsearchd_rescans_total{kind=\"full\"}"), 1) << "the start-up reconcile";
  const double batches = metric(before, "imgsearchd_model_batch_seconds_count");
  EXPECT_GE(batches, 1) << before;
  EXPECT_EQ(metric(before, "imgsearchd_model_batch_seconds_bucket{le=\"+Inf\"}"), batches);
  EXPECT_GT(metric(before, "imgsearchd_model_batch_seconds_sum"), 0);
  EXPECT_NE(before.find("# TYPE imgsearchd_model_batch_seconds histogram\n"), std::string::npos);
  const double events = metric(before, "imgsearchd_watcher_events_total");
  EXPECT_GE(events, 0);

  // A photo dropped into the watched folder, and a file that is not one.
  const fs::path dropped = photos_ / "dropped.jpg";
  copy_photo(5, dropped);
  write_text(photos_ / "broken.jpg", "not a picture");
  wait_for("the metrics to count the dropped photo and the broken file", [&] {
    const std::string text = metrics_text();
    return metric(text, "imgsearchd_files{state=\"ok\"}") == 3 && metric(text, "imgsearchd_files{state=\"failed\"}") == 1 &&
           metric(text, "imgsearchd_images_embedded_total") == 3 && metric(text, "imgsearchd_index_vectors") == 3 &&
           metric(text, "imgsearchd_model_batch_seconds_count") > batches &&
           metric(text, "imgsearchd_watcher_events_total") > events && metric(text, "imgsearchd_queue_depth") == 0;
  });

  // A rescan of every root, then of one: each counted once done.
  ASSERT_EQ(http("POST", "/api/rescan").first, 202);
  wait_for("a full rescan counted", [&] { return metric("imgsearchd_rescans_total{kind=\"full\"}") == 2; });
  ASSERT_EQ(http("POST", "/api/rescan", nlohmann::json({{"root", photos_.string()}}).dump()).first, 202);
  wait_for("a root rescan counted", [&] { return metric("imgsearchd_rescans_total{kind=\"root\"}") == 1; });
  EXPECT_EQ(metric("imgsearchd_images_embedded_total"), 3) << "a rescan of unchanged files embeds nothing";

  // One text twice (the second differs in case and spaces): one miss, one hit.
  ASSERT_EQ(http("GET", "/api/search?q=a%20red%20bicycle").first, 200);
  ASSERT_EQ(http("GET", "/api/search?q=A%20Red%20%20Bicycle").first, 200);
  const std::string after = metrics_text();
  EXPECT_EQ(metric(after, "imgsearchd_text_cache_misses_total"), 1) << after;
  EXPECT_EQ(metric(after, "imgsearchd_text_cache_hits_total"), 1);
  EXPECT_EQ(metric(after, "imgsearchd_http_requests_total{route=\"GET /api/search\",status=\"200\"}"), 2);
  EXPECT_EQ(metric(after, "imgsearchd_ready"), 1);
  EXPECT_EQ(serve_->stop(), 0);
}

TEST_F(ServeApiTest, StatusHasWhatThePageShows) {
  const std::vector<fs::path> files = copy_photos(photos_, 2);
  write_text(photos_ / "notes.jpg", "a shopping list");
  start_ready();
  wait_for_catalogue(paths_of(files));
  const auto [code, status] = http("GET", "/api/status");
  ASSERT_EQ(code, 200);
  EXPECT_EQ(status["state"], "watching");
  EXPECT_EQ(status["files_ok"], 2);
  EXPECT_EQ(status["files_failed"], 1);
  EXPECT_EQ(status["searchable"], 2);
  EXPECT_EQ(status["vectors"], 2);
  EXPECT_EQ(status["pending_paths"], 0);
  EXPECT_TRUE(status["run"].is_null()) << "no run in flight: " << status.dump();
  EXPECT_EQ(status["device"], "cpu");
  EXPECT_EQ(status["model"], model_.string());
  ASSERT_EQ(status["roots"].size(), 1u);
  EXPECT_EQ(status["roots"][0]["path"], photos_.string());
  EXPECT_EQ(status["roots"][0]["watcher"], "inotify");
  ASSERT_EQ(status["failures"].size(), 1u) << status.dump();
  EXPECT_EQ(status["failures"][0]["path"], (photos_ / "notes.jpg").string());
  EXPECT_FALSE(status["failures"][0]["reason"].get<std::string>().empty());
  EXPECT_EQ(status["counters"]["reconciles"], 1);
  EXPECT_TRUE(status["counters"].contains("watcher_events"));
  EXPECT_EQ(serve_->stop(), 0);
}

TEST_F(ServeApiTest, TheConfigurationsSearchDefaultsApplyToApiSearches) {
  // Two copies of one picture (other bytes, same pixels: cosine 1) and three
  // other photos.
  write_small_photo(photos_ / "twin-a.jpg", "a");
  write_small_photo(photos_ / "twin-b.jpg", "b");
  std::vector<fs::path> files = copy_photos(photos_, 3);
  files.push_back(photos_ / "twin-a.jpg");
  files.push_back(photos_ / "twin-b.jpg");
  write_config("", "search:\n  k: 2\n  min_score: 0.99\n  collapse: 0.98\n  pool: 50\n");
  start_ready();
  wait_for_catalogue(paths_of(files));

  // Every option given: the ids of the photos.
  const auto [all_code, all] = http("GET", "/api/search?q=a%20photo&k=10&min_score=-1&collapse=0");
  ASSERT_EQ(all_code, 200) << all.dump();
  ASSERT_EQ(all["results"].size(), 5u) << all.dump();
  std::map<std::string, std::string> ids;
  for (const auto& hit : all["results"]) {
    ids[fs::path(hit["path"].get<std::string>()).filename()] = hit["id"];
    EXPECT_TRUE(hit["duplicates"].empty()) << "collapse=0 turns collapsing off: " << all.dump();
  }

  // collapse not given: the twins are one result, the other listed under it.
  const auto [collapsed_code, collapsed] = http("GET", "/api/search?q=a%20photo&min_score=-1&k=10");
  ASSERT_EQ(collapsed_code, 200) << collapsed.dump();
  ASSERT_EQ(collapsed["results"].size(), 4u) << collapsed.dump();
  size_t listed_under = 0;
  for (const auto& hit : collapsed["results"]) listed_under += hit["duplicates"].size();
  EXPECT_EQ(listed_under, 1u) << collapsed.dump();

  // k not given either: 2 results.
  const auto [code, page] = http("GET", "/api/search?q=a%20photo&min_score=-1");
  ASSERT_EQ(code, 200) << page.dump();
  EXPECT_EQ(page["results"].size(), 2u) << page.dump();
  const auto [json_code, posted] = http("POST", "/api/search", R"({"text": "a photo", "min_score": -1})");
  ASSERT_EQ(json_code, 200) << posted.dump();
  EXPECT_EQ(posted["results"].size(), 2u);

  // min_score 0.99: only the twin is that close; similar and POST by id alike.
  const auto [similar_code, similar] = http("GET", "/api/images/" + ids["twin-a.jpg"] + "/similar");
  ASSERT_EQ(similar_code, 200) << similar.dump();
  ASSERT_EQ(similar["results"].size(), 1u) << similar.dump();
  EXPECT_EQ(similar["results"][0]["id"], ids["twin-b.jpg"]);
  const auto [by_id_code, by_id] = http("POST", "/api/search", nlohmann::json({{"id", ids["twin-b.jpg"]}}).dump());
  ASSERT_EQ(by_id_code, 200) << by_id.dump();
  ASSERT_EQ(by_id["results"].size(), 1u) << by_id.dump();
  EXPECT_EQ(by_id["results"][0]["id"], ids["twin-a.jpg"]);
  // The request's own options win.
  const auto [wide_code, wide] =
      http("GET", "/api/images/" + ids["twin-a.jpg"] + "/similar?min_score=-1&k=10&collapse=0");
  ASSERT_EQ(wide_code, 200);
  EXPECT_EQ(wide["results"].size(), 4u) << wide.dump();

  // The command line through the service asks for exactly what it was given.
  const CommandResult cli_all = cli({"search", "--json", "-k", "10", "--min-score", "-1", "--collapse", "0", "a photo"});
  ASSERT_EQ(cli_all.exit_code, 0) << cli_all.err;
  EXPECT_EQ(cli_all.json()["results"].size(), 5u);
  EXPECT_EQ(serve_->stop(), 0);
}

}  // namespace
}  // namespace imgsearchd::test
