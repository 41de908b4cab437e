// Two real `imgsearchd serve` processes with different roots and data
// folders sharing one PostgreSQL catalogue (a throwaway cluster): each finds
// the other's images, a folder copied from one root to the other costs no
// model call, a file held by the other is a 404 naming it (and its
// advertised address), and one killed with SIGKILL loses nothing it
// committed.
#include "serve_fixture.h"
#include "tests/support/postgres_cluster.h"

namespace imgsearchd::test {
namespace {

// One service: its folders, configuration and process.
struct Service {
  std::string source;
  fs::path dir, photos, data, config;
  ServeProcess process;
  int starts = 0;

  // `follow_interval_s`: how often the service looks for other services'
  // commits when none is announced (0: the default); `advertise_url`: its
  // store.postgresql.advertise_url (empty: none).
  void write_config(const std::string& dsn, int follow_interval_s = 0, const std::string& advertise_url = "") {
    write_text(config, "data_dir: " + data.string() +
                           "\nmodel:\n  name: " + kModelA.string() +
                           "\n  threads: 1\n  batch_size: 4\nindexer:\n  decode_threads: 1\n  queue_size: 8\n"
                           "  roots:\n    - " + photos.string() +
                           "\nwatch:\n  settle_delay_ms: 100\n  poll_interval_s: 1\n  reconcile_interval_s: 0\n"
                           "api:\n  listen: 127.0.0.1:0\nstore:\n  backend: postgresql\n  postgresql:\n"
                           "    dsn: \"" + dsn + "\"\n    source: " + source + "\n" +
                           (follow_interval_s > 0 ? "    follow_interval_s: " + std::to_string(follow_interval_s) + "\n"
                                                  : std::string()) +
                           (advertise_url.empty() ? "" : "    advertise_url: " + advertise_url + "\n"));
  }

  void start() { process.start(config, dir / ("serve-" + std::to_string(++starts) + ".log")); }

  nlohmann::json status() const {
    nlohmann::json status = nlohmann::json::parse(read_text(data / "service.json"), nullptr, false);
    return status.is_object() ? status : nlohmann::json::object();
  }
  uint64_t counter(const std::string& name) const {
    const nlohmann::json s = status();
    return s.contains("counters") ? s["counters"].value(name, uint64_t{0}) : 0;
  }
  bool watching() const { return status().value("state", "") == "watching"; }

  // GET or POST on the service's HTTP API: the status code and the JSON body.
  std::pair<int, nlohmann::json> http(const std::string& method, const std::string& target,
                                      const std::string& body = "") const {
    const std::string url = status().value("api", "");
    if (url.empty()) return {0, {}};
    httplib::Client client(url);
    client.set_read_timeout(30, 0);
    const httplib::Result result =
        method == "POST" ? client.Post(target, body, "application/json") : client.Get(target);
    if (!result) return {0, {}};
    return {result->status, nlohmann::json::parse(result->body, nullptr, /*allow_exceptions=*/false)};
  }

  // GET on the service's HTTP API: the status code and the body as it is.
  std::pair<int, std::string> get_raw(const std::string& target, const httplib::Headers& headers = {}) const {
    const std::string url = status().value("api", "");
    if (url.empty()) return {0, {}};
    httplib::Client client(url);
    client.set_read_timeout(30, 0);
    const httplib::Result result = client.Get(target, headers);
    if (!result) return {0, {}};
    return {result->status, result->body};
  }

  // Every path `imgsearchd search --json -k 100` returns.
  std::set<std::string> searched_paths() const {
    const CommandResult result = run_imgsearchd(config, {"search", "--json", "-k", "100", "a photo"}, dir);
    std::set<std::string> paths;
    if (result.exit_code != 0) return paths;
    const nlohmann::json json = nlohmann::json::parse(result.out, nullptr, false);
    if (!json.is_object()) return paths;
    for (const auto& hit : json["results"])
      for (const auto& path : hit["paths"]) paths.insert(path.get<std::string>());
    return paths;
  }
};

class SharedCatalogueServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kModelA)) << kModelA << " is missing: run the indexing_models test fixture";
    dsn_ = PostgresCluster::shared().create_database();
    const fs::path root = fresh_dir("daemon");
    for (auto [service, name] : {std::pair{&laptop_, "laptop"}, std::pair{&nas_, "nas"}}) {
      service->source = name;
      service->dir = root / name;
      service->photos = service->dir / "photos";
      service->data = service->dir / "data";
      service->config = service->dir / "config.yaml";
      fs::create_directories(service->photos);
      service->write_config(dsn_);
    }
  }

  bool wait_for(const std::string& what, const std::function<bool()>& condition) {
    const auto until = std::chrono::steady_clock::now() + kDeadline;
    while (std::chrono::steady_clock::now() < until) {
      if (condition()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "timed out waiting for " << what << "\nlaptop: " << laptop_.status().dump()
                  << "\nnas: " << nas_.status().dump() << "\nlaptop log:\n" << laptop_.process.log()
                  << "\nnas log:\n" << nas_.process.log();
    return false;
  }

  std::string dsn_;
  Service laptop_, nas_;
};

TEST_F(SharedCatalogueServeTest, EachServiceFindsTheOthersImagesAndACopiedFolderCostsNoModelCall) {
  for (size_t i = 0; i < 3; ++i) copy_photo(i, laptop_.photos / ("l" + std::to_string(i) + ".jpg"));
  for (size_t i = 3; i < 5; ++i) copy_photo(i, nas_.photos / ("n" + std::to_string(i) + ".jpg"));
  laptop_.start();
  nas_.start();
  const std::set<std::string> everything = {
      (laptop_.photos / "l0.jpg").string(), (laptop_.photos / "l1.jpg").string(),
      (laptop_.photos / "l2.jpg").string(), "nas:" + (nas_.photos / "n3.jpg").string(),
      "nas:" + (nas_.photos / "n4.jpg").string()};
  wait_for("the laptop to find the NAS's images", [&] { return laptop_.searched_paths() == everything; });
  wait_for("the NAS to find the laptop's images", [&] { return nas_.searched_paths().size() == 5; });
  EXPECT_TRUE(nas_.searched_paths().count("laptop:" + (laptop_.photos / "l0.jpg").string()));

  // The laptop's photos copied to the NAS: hashed, found known, no model call.
  wait_for("both services to settle", [&] { return laptop_.watching() && nas_.watching(); });
  const uint64_t calls = nas_.counter("model_calls");
  const uint64_t embedded = nas_.counter("embedded");
  fs::create_directories(nas_.photos / "from-laptop");
  for (size_t i = 0; i < 3; ++i) {
    fs::copy_file(laptop_.photos / ("l" + std::to_string(i) + ".jpg"),
                  nas_.photos / "from-laptop" / ("l" + std::to_string(i) + ".jpg"));
  }
  const std::string copy = "nas:" + (nas_.photos / "from-laptop" / "l1.jpg").string();
  wait_for("the laptop to see the NAS's copies", [&] { return laptop_.searched_paths().count(copy) == 1; });
  EXPECT_EQ(nas_.counter("model_calls"), calls);
  EXPECT_EQ(nas_.counter("embedded"), embedded);
  EXPECT_EQ(laptop_.searched_paths().size(), everything.size() + 3);
  EXPECT_EQ(laptop_.process.stop(), 0) << laptop_.process.log();
  EXPECT_EQ(nas_.process.stop(), 0) << nas_.process.log();
}

// Files and thumbnails are served by the service that holds them. Another
// service answers 404 naming the holder and, when the holder advertised its
// address (store.postgresql.advertise_url), the holder's URL for the same
// resource; its search hits of such images say where they are.
TEST_F(SharedCatalogueServeTest, AnotherServicesFileIsA404NamingTheHolderAndItsAdvertisedUrl) {
  const std::string laptop_url = "http://laptop.test:7861";
  laptop_.write_config(dsn_, /*follow_interval_s=*/0, laptop_url + "/");
  copy_photo(0, laptop_.photos / "l0.jpg");
  copy_photo(1, laptop_.photos / "l1.jpg");
  copy_photo(2, nas_.photos / "n2.jpg");
  laptop_.start();
  nas_.start();
  const std::string query = R"({"text": "a photo", "k": 100})";
  nlohmann::json from_nas, from_laptop;
  wait_for("both services to find all three photos", [&] {
    from_nas = nas_.http("POST", "/api/search", query).second;
    from_laptop = laptop_.http("POST", "/api/search", query).second;
    return from_nas.is_object() && from_nas["results"].size() == 3 && from_laptop.is_object() &&
           from_laptop["results"].size() == 3;
  });
  // Ids by path, and each hit as the NAS and the laptop show it.
  const auto hit_of = [](const nlohmann::json& page, const std::string& path) {
    for (const auto& hit : page["results"])
      if (hit["paths"].size() == 1 && hit["paths"][0] == path) return hit;
    return nlohmann::json();
  };
  const std::string l0 = (laptop_.photos / "l0.jpg").string();
  const std::string n2 = (nas_.photos / "n2.jpg").string();
  const nlohmann::json laptop_hit_on_nas = hit_of(from_nas, "laptop:" + l0);
  const nlohmann::json nas_hit_on_laptop = hit_of(from_laptop, "nas:" + n2);
  const nlohmann::json own_hit_on_laptop = hit_of(from_laptop, l0);
  ASSERT_TRUE(laptop_hit_on_nas.is_object()) << from_nas.dump();
  ASSERT_TRUE(nas_hit_on_laptop.is_object()) << from_laptop.dump();
  ASSERT_TRUE(own_hit_on_laptop.is_object()) << from_laptop.dump();
  const std::string laptop_id = laptop_hit_on_nas["id"].get<std::string>();
  const std::string nas_id = nas_hit_on_laptop["id"].get<std::string>();

  // Search hits: another service's say which and where; own ones are as before.
  EXPECT_EQ(laptop_hit_on_nas.value("source", ""), "laptop") << laptop_hit_on_nas.dump();
  EXPECT_EQ(laptop_hit_on_nas.value("holder_url", ""), laptop_url + "/api/images/" + laptop_id + "/file");
  EXPECT_EQ(nas_hit_on_laptop.value("source", ""), "nas") << nas_hit_on_laptop.dump();
  EXPECT_FALSE(nas_hit_on_laptop.contains("holder_url")) << "the NAS advertises no address";
  EXPECT_FALSE(own_hit_on_laptop.contains("source")) << own_hit_on_laptop.dump();
  EXPECT_FALSE(own_hit_on_laptop.contains("holder_url"));

  // The NAS asked for the laptop's file, thumbnail and metadata: 404 naming
  // the laptop, with its URL of the same resource.
  const std::string base = "/api/images/" + laptop_id;
  for (const auto& [target, resource] : std::vector<std::pair<std::string, std::string>>{
           {base + "/file", base + "/file"},
           {base + "/thumbnail?size=64", base + "/thumbnail?size=64"},
           {base + "/thumbnail", base + "/thumbnail"},
           {base, base}}) {
    const auto [code, body] = nas_.http("GET", target);
    EXPECT_EQ(code, 404) << target << ": " << body.dump();
    ASSERT_TRUE(body.contains("error")) << target << ": " << body.dump();
    const nlohmann::json& error = body["error"];
    const std::string message = error.value("message", "");
    EXPECT_EQ(error.value("type", ""), "not_found");
    EXPECT_NE(message.find("held by service 'laptop'"), std::string::npos) << message;
    EXPECT_NE(message.find(l0), std::string::npos) << "names the file: " << message;
    EXPECT_NE(message.find(laptop_url + resource), std::string::npos) << message;
    EXPECT_EQ(error["holder"].value("source", ""), "laptop") << body.dump();
    EXPECT_EQ(error["holder"].value("path", ""), l0) << body.dump();
    EXPECT_EQ(error["holder"].value("url", ""), laptop_url + resource) << body.dump();
  }

  // The laptop asked for the NAS's: the NAS is named, with no address.
  {
    const auto [code, body] = laptop_.http("GET", "/api/images/" + nas_id + "/thumbnail?size=64");
    EXPECT_EQ(code, 404) << body.dump();
    const std::string message = body["error"].value("message", "");
    EXPECT_NE(message.find("held by service 'nas'"), std::string::npos) << message;
    EXPECT_NE(message.find("advertises no address"), std::string::npos) << message;
    EXPECT_TRUE(body["error"]["holder"]["url"].is_null()) << body.dump();
  }
  // An id nobody holds is a plain 404.
  {
    const auto [code, body] = nas_.http("GET", "/api/images/12345/file");
    EXPECT_EQ(code, 404);
    EXPECT_FALSE(body["error"].contains("holder")) << body.dump();
  }

  // The holder serves its own: the file at the path the NAS pointed to.
  const auto [file_code, file] = laptop_.get_raw(base + "/file");
  EXPECT_EQ(file_code, 200);
  EXPECT_EQ(file, read_text(laptop_.photos / "l0.jpg")) << "the photo's bytes";
  const auto [thumb_code, thumbnail] = laptop_.get_raw(base + "/thumbnail?size=64");
  EXPECT_EQ(thumb_code, 200);
  EXPECT_EQ(thumbnail.substr(0, 3), "\xFF\xD8\xFF") << "a JPEG";
  // Asked by the name it advertises (as a caller sent there would), the
  // laptop answers; that name is no service's but the laptop's.
  EXPECT_EQ(laptop_.get_raw(base + "/file", {{"Host", "laptop.test:7861"}}).first, 200);
  EXPECT_EQ(nas_.get_raw("/api/images/" + nas_id + "/file", {{"Host", "laptop.test:7861"}}).first, 403);
  const auto [own_code, own] = nas_.get_raw("/api/images/" + nas_id + "/file");
  EXPECT_EQ(own_code, 200);
  EXPECT_EQ(own, read_text(nas_.photos / "n2.jpg"));
  EXPECT_EQ(laptop_.process.stop(), 0) << laptop_.process.log();
  EXPECT_EQ(nas_.process.stop(), 0) << nas_.process.log();
}

TEST_F(SharedCatalogueServeTest, AServiceKilledMidBatchLosesNothingAndTheOtherKeepsGoing) {
  for (size_t i = 0; i < 2; ++i) copy_photo(i, nas_.photos / ("n" + std::to_string(i) + ".jpg"));
  nas_.start();
  laptop_.start();
  wait_for("the NAS's start-up indexing", [&] { return laptop_.searched_paths().size() == 2; });
  // Many photos for the laptop, killed while it indexes them.
  for (size_t i = 2; i < 14; ++i) copy_photo(i, laptop_.photos / ("l" + std::to_string(i) + ".jpg"));
  wait_for("the laptop to commit some", [&] { return laptop_.counter("embedded") >= 4; });
  laptop_.process.signal(SIGKILL);
  laptop_.process.wait_exit();
  // The NAS keeps serving what was committed; the laptop, restarted, finishes.
  EXPECT_GE(nas_.searched_paths().size(), 2u);
  laptop_.start();
  wait_for("the laptop to finish after the restart", [&] { return nas_.searched_paths().size() == 14; });
  EXPECT_EQ(laptop_.searched_paths().size(), 14u);
  EXPECT_EQ(laptop_.process.stop(), 0) << laptop_.process.log();
  EXPECT_EQ(nas_.process.stop(), 0) << nas_.process.log();
}

// A service follows another service's commits as they are announced
// (LISTEN/NOTIFY): the laptop looks for them on its own only every 10
// minutes, far beyond the deadline, so only the announcements can bring
// the NAS's images into its searches in time.
TEST_F(SharedCatalogueServeTest, AServiceFollowsAnotherServicesCommitsAsTheyAreAnnounced) {
  laptop_.write_config(dsn_, /*follow_interval_s=*/600);
  laptop_.start();
  wait_for("the laptop to load its model and finish its start-up reconcile", [&] {
    const nlohmann::json s = laptop_.status();
    return s.value("model_loaded", false) && s.value("startup_reconcile_done", false) && laptop_.watching();
  });
  const std::string query = R"({"text": "a photo", "k": 100})";
  const auto searched = [&] {
    std::set<std::string> paths;
    const nlohmann::json page = laptop_.http("POST", "/api/search", query).second;
    if (!page.is_object() || !page.contains("results")) return paths;
    for (const auto& hit : page["results"])
      for (const auto& path : hit["paths"]) paths.insert(path.get<std::string>());
    return paths;
  };
  EXPECT_TRUE(searched().empty());
  for (size_t i = 0; i < 2; ++i) copy_photo(i, nas_.photos / ("n" + std::to_string(i) + ".jpg"));
  nas_.start();
  const std::set<std::string> theirs = {"nas:" + (nas_.photos / "n0.jpg").string(),
                                        "nas:" + (nas_.photos / "n1.jpg").string()};
  wait_for("the laptop to find the NAS's images", [&] { return searched() == theirs; });
  // Later commits too: a photo the NAS sees while it watches.
  copy_photo(2, nas_.photos / "n2.jpg");
  wait_for("the laptop to find the NAS's new image", [&] { return searched().size() == 3; });
  EXPECT_EQ(laptop_.process.stop(), 0) << laptop_.process.log();
  EXPECT_EQ(nas_.process.stop(), 0) << nas_.process.log();
}

// PostgreSQL stopped while a service indexes: searches of what was
// committed go on, the service says what is wrong and waits, and once the
// database is back it finishes, each photo recorded once.
TEST_F(SharedCatalogueServeTest, APostgresqlRestartMidIndexingLosesNothing) {
  PostgresCluster& cluster = PostgresCluster::shared();
  copy_photo(0, laptop_.photos / "first.jpg");
  laptop_.start();
  wait_for("the first photo", [&] { return laptop_.searched_paths().size() == 1; });
  for (size_t i = 1; i < 12; ++i) copy_photo(i, laptop_.photos / ("l" + std::to_string(i) + ".jpg"));
  wait_for("some of the rest to be embedded", [&] { return laptop_.counter("embedded") >= 4; });
  ASSERT_EQ(cluster.stop_server(), "");
  wait_for("the service to say the catalogue is away", [&] {
    return laptop_.status().value("state", "") == "waiting for the catalogue" &&
           !laptop_.status().value("catalogue_problem", "").empty();
  });
  EXPECT_TRUE(laptop_.process.running()) << laptop_.process.log();
  ASSERT_EQ(cluster.start_server(), "");
  wait_for("every photo after the restart", [&] { return laptop_.searched_paths().size() == 12; });
  wait_for("the service to settle", [&] { return laptop_.watching(); });
  EXPECT_EQ(laptop_.status().value("catalogue_problem", "?"), "");
  const std::string database = dsn_.substr(dsn_.rfind("dbname=") + 7);
  EXPECT_EQ(cluster.sql_text(database, "SELECT count(*) FROM files"), "12");
  EXPECT_EQ(cluster.sql_text(database, "SELECT count(*) FROM contents"), "12");
  EXPECT_EQ(cluster.sql_text(database, "SELECT count(*) FROM embeddings"), "12");
  EXPECT_EQ(laptop_.process.stop(), 0) << laptop_.process.log();
}

// PostgreSQL stopped while a service runs: its searches go on from its
// replica, with the paths the hits last resolved to and a flag saying the
// catalogue is unreachable; /health and `imgsearchd status` name the
// database. Once it is back, the answers are whole again.
TEST_F(SharedCatalogueServeTest, SearchesAreAnsweredFromTheReplicaWhilePostgresqlIsDown) {
  PostgresCluster& cluster = PostgresCluster::shared();
  for (size_t i = 0; i < 3; ++i) copy_photo(i, laptop_.photos / ("l" + std::to_string(i) + ".jpg"));
  for (size_t i = 3; i < 5; ++i) copy_photo(i, nas_.photos / ("n" + std::to_string(i) + ".jpg"));
  laptop_.start();
  nas_.start();
  const std::set<std::string> everything = {
      (laptop_.photos / "l0.jpg").string(), (laptop_.photos / "l1.jpg").string(),
      (laptop_.photos / "l2.jpg").string(), "nas:" + (nas_.photos / "n3.jpg").string(),
      "nas:" + (nas_.photos / "n4.jpg").string()};
  const std::string query = R"({"text": "a photo", "k": 100})";
  const auto searched = [&](const nlohmann::json& page) {
    std::set<std::string> paths;
    if (!page.is_object() || !page.contains("results")) return paths;
    for (const auto& hit : page["results"])
      for (const auto& path : hit["paths"]) paths.insert(path.get<std::string>());
    return paths;
  };
  wait_for("the laptop to find every image", [&] { return searched(laptop_.http("POST", "/api/search", query).second) == everything; });
  const std::string database = dsn_.substr(dsn_.rfind("dbname=") + 7);
  EXPECT_EQ(laptop_.http("GET", "/health").second.value("status", ""), "ok");

  ASSERT_EQ(cluster.stop_server(), "");
  const auto [code, page] = laptop_.http("POST", "/api/search", query);
  EXPECT_EQ(code, 200) << page.dump() << "\n" << laptop_.process.log();
  EXPECT_EQ(searched(page), everything) << page.dump();
  const std::string problem = page.value("catalogue_problem", "");
  EXPECT_NE(problem.find("dbname=" + database), std::string::npos) << page.dump();
  const auto [health_code, health] = laptop_.http("GET", "/health");
  EXPECT_EQ(health_code, 200);
  EXPECT_EQ(health.value("status", ""), "degraded") << health.dump();
  EXPECT_NE(health.value("catalogue_problem", "").find("dbname=" + database), std::string::npos) << health.dump();
  const CommandResult status = run_imgsearchd(laptop_.config, {"status", "--json"}, laptop_.dir);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  const nlohmann::json status_json = nlohmann::json::parse(status.out, nullptr, false);
  ASSERT_TRUE(status_json.is_object()) << status.out << status.err;
  EXPECT_NE(status_json.value("catalog_problem", "").find("dbname=" + database), std::string::npos) << status.out;

  ASSERT_EQ(cluster.start_server(), "");
  wait_for("the catalogue to answer again", [&] { return laptop_.http("GET", "/health").second.value("status", "") == "ok"; });
  const nlohmann::json whole = laptop_.http("POST", "/api/search", query).second;
  EXPECT_EQ(searched(whole), everything);
  EXPECT_FALSE(whole.contains("catalogue_problem")) << whole.dump();
  EXPECT_EQ(laptop_.process.stop(), 0) << laptop_.process.log();
  EXPECT_EQ(nas_.process.stop(), 0) << nas_.process.log();
}

}  // namespace
}  // namespace imgsearchd::test
