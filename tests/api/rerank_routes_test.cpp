// Reranking, weighted terms and duplicates through the HTTP API: the same
// library as the command line, over a real server on loopback.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "api_test_server.h"

namespace imgsearchd::test {
namespace {

class RerankRoutesTest : public ApiTest {
 protected:
  // A pixel-identical copy of the first photo (other bytes: a second content
  // with the same picture), indexed.
  fs::path add_pixel_identical_copy() {
    const fs::path copies = photos_dir_ / "copies";
    fs::create_directories(copies);
    const fs::path copy = copies / "same-picture.jpg";
    fs::copy_file(photos_[0], copy);
    append_bytes(copy);
    index_folders({photos_dir_});
    return copy;
  }

  static int rank_of(const nlohmann::json& page, const std::string& id) {
    const std::vector<std::string> ids = result_ids(page);
    const auto found = std::find(ids.begin(), ids.end(), id);
    return found == ids.end() ? -1 : static_cast<int>(found - ids.begin());
  }
};

TEST_F(RerankRoutesTest, CollapseDiversityAndNormaliseOnBothSearchForms) {
  const fs::path copy = add_pixel_identical_copy();
  start_server();
  const std::string original = std::to_string(id_of(photos_[0])), twin = std::to_string(id_of(copy));

  const nlohmann::json plain = body_json(post_json({{"id", original}, {"k", 100}}));
  ASSERT_EQ(plain["results"].size(), kPhotos) << "16 photos and the copy, the query left out";
  EXPECT_EQ(plain["results"][0]["id"], twin);

  // The query's twin collapses under nothing (it is first); ask with text instead.
  const httplib::Result collapsed = client().Get("/api/search?q=a%20dog&k=100&collapse=0.95");
  ASSERT_EQ(collapsed->status, 200) << collapsed->body;
  const nlohmann::json page = body_json(collapsed);
  ASSERT_EQ(page["results"].size(), kPhotos) << "17 images, two of them one picture";
  const int kept = std::max(rank_of(page, original), rank_of(page, twin));
  ASSERT_GE(kept, 0);
  EXPECT_TRUE(rank_of(page, original) == -1 || rank_of(page, twin) == -1) << "only one of the two is shown";
  ASSERT_EQ(page["results"][kept]["duplicates"].size(), 1u);
  EXPECT_GE(page["results"][kept]["duplicates"][0]["similarity"].get<double>(), 0.95);
  EXPECT_TRUE(page["results"][kept]["duplicates"][0]["id"].is_string());

  // Diversity keeps the first result and moves the twin of the first down.
  const nlohmann::json diverse = body_json(post_json({{"text", "a dog"}, {"k", 100}, {"diversity", 0.6}}));
  const nlohmann::json relevance = body_json(post_json({{"text", "a dog"}, {"k", 100}}));
  EXPECT_EQ(diverse["results"][0]["id"], relevance["results"][0]["id"]);
  EXPECT_NE(result_ids(diverse), result_ids(relevance));

  // minmax: 1 at the top, the raw cosine beside it.
  const nlohmann::json normalised = body_json(post_json({{"text", "a dog"}, {"k", 3}, {"normalise", "minmax"}}));
  EXPECT_FLOAT_EQ(normalised["results"][0]["score"].get<float>(), 1.0f);
  EXPECT_EQ(normalised["results"][0]["cosine"], relevance["results"][0]["score"]);

  // Pages of a reranked list follow each other.
  std::vector<std::string> paged;
  for (size_t offset = 0; offset < 100;) {
    const nlohmann::json part = body_json(post_json({{"text", "a dog"}, {"k", 5}, {"offset", offset}, {"diversity", 0.6}}));
    for (const std::string& id : result_ids(part)) paged.push_back(id);
    if (part["next_offset"].is_null()) break;
    offset = part["next_offset"].get<size_t>();
  }
  EXPECT_EQ(paged, result_ids(diverse));
}

TEST_F(RerankRoutesTest, WeightedTermsLeaveIndexedImagesOutUnlessAsked) {
  start_server();
  const std::string image = std::to_string(id_of(photos_[2]));
  const nlohmann::json left_out = body_json(post_json({{"terms", {{{"text", "a dog"}}, {{"id", image}, {"weight", 3}}}},
                                                       {"k", 100}}));
  EXPECT_EQ(rank_of(left_out, image), -1);
  EXPECT_EQ(left_out["excluded_ids"], nlohmann::json::array({image}));
  const nlohmann::json kept = body_json(post_json({{"terms", {{{"text", "a dog"}}, {{"id", image}, {"weight", 3}}}},
                                                   {"k", 100}, {"include_query_images", true}}));
  EXPECT_EQ(rank_of(kept, image), 0);

  // A negative term moves its image to the end.
  const nlohmann::json pushed = body_json(post_json({{"terms", {{{"text", "a dog"}}, {{"id", image}, {"weight", -1}}}},
                                                     {"k", 100}, {"include_query_images", true}}));
  EXPECT_EQ(rank_of(pushed, image), static_cast<int>(kPhotos) - 1);

  expect_error(post_json({{"terms", nlohmann::json::array()}}), 400, "invalid_request", "terms must be a non-empty array");
  expect_error(post_json({{"terms", {{{"text", "a"}, {"id", image}}}}}), 400, "invalid_request",
               "terms[0] needs exactly one of text, id or image");
  expect_error(post_json({{"terms", {{{"text", "a"}, {"weight", 0}}}}}), 400, "invalid_request", "non-zero number");
  expect_error(post_json({{"terms", {{{"id", image}}, {{"id", image}, {"weight", -1}}}}}), 400, "invalid_request",
               "cancel out");
  expect_error(post_json({{"terms", {{{"id", "12345"}}}}}), 404, "not_found", "12345");
}

// GET /api/duplicates until the job is no longer running (a deadline, no
// timing assumption).
nlohmann::json wait_for_duplicates(httplib::Client& client) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  nlohmann::json job;
  while (std::chrono::steady_clock::now() < until) {
    const httplib::Result result = client.Get("/api/duplicates");
    if (!result || result->status != 200) return nlohmann::json();
    job = nlohmann::json::parse(result->body);
    if (job["state"] != "running") return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "the duplicates job still runs: " << job.dump();
  return job;
}

TEST_F(RerankRoutesTest, DuplicatesJobGroupsTheCopy) {
  const fs::path copy = add_pixel_identical_copy();
  fs::copy_file(photos_[5], photos_dir_ / "copies" / "exact.jpg");
  index_folders({photos_dir_});
  start_server();
  expect_error(client().Get("/api/duplicates"), 404, "not_found", "POST /api/duplicates starts one");

  const httplib::Result started = client().Post("/api/duplicates", R"({"min_score": 0.95})", "application/json");
  ASSERT_EQ(started->status, 202) << started->body;
  EXPECT_EQ(started->get_header_value("Location"), "/api/duplicates");
  EXPECT_EQ(body_json(started)["job"], 1);
  EXPECT_EQ(body_json(started)["images_total"], kPhotos + 1);

  const nlohmann::json job = wait_for_duplicates(client());
  ASSERT_EQ(job["state"], "done") << job.dump(1);
  EXPECT_EQ(job["job"], 1);
  EXPECT_EQ(job["images_done"], kPhotos + 1);
  const nlohmann::json& out = job["result"];
  EXPECT_FLOAT_EQ(out["min_score"].get<float>(), 0.95f);
  ASSERT_EQ(out["group_count"], 2) << out.dump(1);
  std::set<std::string> ids;
  for (const auto& member : out["groups"][0]["members"]) ids.insert(member["id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{std::to_string(id_of(photos_[0])), std::to_string(id_of(copy))}));
  EXPECT_EQ(out["groups"][1]["paths"], 2);
  EXPECT_EQ(out["groups"][1]["images"], 1);

  // No body: min_score 0.95, a new job.
  const httplib::Result again = client().Post("/api/duplicates", "", "application/json");
  ASSERT_EQ(again->status, 202) << again->body;
  EXPECT_EQ(body_json(again)["job"], 2);
  EXPECT_EQ(wait_for_duplicates(client())["result"]["group_count"], 2);

  expect_error(client().Post("/api/duplicates", R"({"min_score": 2})", "application/json"), 400, "invalid_request",
               "min_score must be");
  expect_error(client().Post("/api/duplicates", R"({"min_score": "high"})", "application/json"), 400,
               "invalid_request", "min_score must be a number");
  expect_error(client().Post("/api/duplicates", R"({"min": 1})", "application/json"), 400, "invalid_request",
               "unknown field");
  expect_error(client().Post("/api/duplicates", "{", "application/json"), 400, "invalid_request", "not valid JSON");
  expect_error(client().Get("/api/duplicates?min_score=0.9"), 400, "invalid_request", "goes with POST");
}

TEST_F(RerankRoutesTest, ADuplicatesJobHoldsNoRequestThreadAndRunsOneAtATime) {
  std::mutex mutex;
  std::condition_variable changed;
  bool entered = false, released = false;
  ApiOptions options = default_options();
  options.threads = 1;  // the job must not hold the only request thread
  options.testing.before_duplicates_search = [&] {
    std::unique_lock<std::mutex> lock(mutex);
    entered = true;
    changed.notify_all();
    changed.wait(lock, [&] { return released; });
  };
  start_server(options);
  auto release = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    released = true;
    changed.notify_all();
  };
  const httplib::Result started = client().Post("/api/duplicates", R"({"min_score": 0.95})", "application/json");
  ASSERT_EQ(started->status, 202) << started->body;
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(60), [&] { return entered; }));
  }
  // The job is running; requests are answered meanwhile.
  EXPECT_EQ(client().Get("/health")->status, 200);
  EXPECT_EQ(client().Get("/api/search?q=a%20dog")->status, 200);
  const httplib::Result running = client().Get("/api/duplicates");
  ASSERT_EQ(running->status, 200);
  EXPECT_EQ(body_json(running)["state"], "running");
  EXPECT_EQ(body_json(running)["images_done"], 0);
  // The same search again is that job; another waits for it.
  const httplib::Result same = client().Post("/api/duplicates", R"({"min_score": 0.95})", "application/json");
  ASSERT_EQ(same->status, 202);
  EXPECT_EQ(body_json(same)["job"], 1);
  const httplib::Result other = client().Post("/api/duplicates", R"({"min_score": 0.9})", "application/json");
  ASSERT_EQ(other->status, 409) << other->body;
  EXPECT_NE(body_json(other)["error"]["message"].get<std::string>().find("is running"), std::string::npos);
  release();
  EXPECT_EQ(wait_for_duplicates(client())["state"], "done");
  const httplib::Result next = client().Post("/api/duplicates", R"({"min_score": 0.9})", "application/json");
  ASSERT_EQ(next->status, 202) << next->body;
  EXPECT_EQ(body_json(next)["job"], 2);
  EXPECT_EQ(wait_for_duplicates(client())["state"], "done");
}

TEST_F(RerankRoutesTest, BadRerankOptionsAreRefusedByName) {
  start_server();
  expect_error(client().Get("/api/search?q=a&collapse=1.5"), 400, "invalid_request", "collapse must be");
  expect_error(client().Get("/api/search?q=a&diversity=lots"), 400, "invalid_request", "diversity must be a number");
  expect_error(client().Get("/api/search?q=a&normalise=zscore"), 400, "invalid_request", "normalise must be none or minmax");
  expect_error(client().Get("/api/search?q=a&pool=0"), 400, "invalid_request", "pool must be between");
  expect_error(post_json({{"text", "a"}, {"diversity", -1}}), 400, "invalid_request", "diversity must be between 0 and 1");
  expect_error(post_json({{"text", "a"}, {"collapse", "high"}}), 400, "invalid_request", "collapse must be a number");
}

}  // namespace
}  // namespace imgsearchd::test
