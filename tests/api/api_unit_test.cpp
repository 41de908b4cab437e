// The API's parts without a server: the route table against the OpenAPI
// document in the repository, the access rules, parameters, metrics, and the
// cache of text embeddings, the 404 for an image another service holds.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

#include "api/access.h"
#include "api/errors.h"
#include "api/holders.h"
#include "api/params.h"
#include "api/routes.h"
#include "api/server.h"
#include "indexer/search/text_embedding_cache.h"
#include "store/core/errors.h"
#include "tests/support/scratch.h"

namespace imgsearchd {
namespace {

TEST(OpenApiDocument, ListsExactlyTheRoutesOfTheRouteTable) {
  std::ifstream in(std::string(IMGSEARCHD_SOURCE_DIR) + "/api/openapi.json");
  ASSERT_TRUE(in);
  const nlohmann::json document = nlohmann::json::parse(in);
  EXPECT_EQ(document["openapi"].get<std::string>().substr(0, 2), "3.");
  std::set<std::string> documented;
  for (const auto& [path, operations] : document["paths"].items()) {
    for (const auto& [method, operation] : operations.items()) {
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(upper + " " + path);
      EXPECT_TRUE(operation.contains("responses")) << upper << " " << path;
    }
  }
  std::set<std::string> routed;
  for (const api::Route& route : api::route_table()) {
    EXPECT_TRUE(routed.insert(std::string(route.method) + " " + route.path).second) << "twice: " << route.path;
  }
  EXPECT_EQ(documented, routed);
  // The document built into the binary is the repository's.
  std::ifstream again(std::string(IMGSEARCHD_SOURCE_DIR) + "/api/openapi.json");
  const std::string text((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
  EXPECT_EQ(api::builtin_openapi_document(), text);
}

TEST(RoutePattern, PathParametersMatchOneSegment) {
  EXPECT_EQ(api::route_pattern("/api/images/{id}/file"), "/api/images/([^/]+)/file");
  EXPECT_EQ(api::route_pattern("/openapi.json"), "/openapi\\.json");
}

TEST(Access, LoopbackHosts) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "localhost", "LocalHost"}) EXPECT_TRUE(api::is_loopback_host(host)) << host;
  for (const char* host : {"0.0.0.0", "::", "192.168.0.1", "128.0.0.1", "localhost.evil", ""}) EXPECT_FALSE(api::is_loopback_host(host)) << host;
}

TEST(Access, TokensCompareWhole) {
  EXPECT_TRUE(api::tokens_equal("secret", "secret"));
  EXPECT_FALSE(api::tokens_equal("secre", "secret"));
  EXPECT_FALSE(api::tokens_equal("secrets", "secret"));
  EXPECT_FALSE(api::tokens_equal("Secret", "secret"));
  EXPECT_FALSE(api::tokens_equal("", ""));  // no token configured is never a match
  EXPECT_EQ(api::bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(api::bearer_token("bearer  abc"), "abc");
  EXPECT_EQ(api::bearer_token("Basic abc"), "");
  EXPECT_EQ(api::bearer_token("Bearer"), "");
}

TEST(Access, HostHeaders) {
  EXPECT_EQ(api::host_of_host_header("[::1]:7878"), "::1");
  EXPECT_EQ(api::host_of_host_header("LocalHost:7878"), "localhost");
  EXPECT_EQ(api::host_of_host_header("localhost."), "localhost");
  EXPECT_EQ(api::host_of_host_header("::1"), "");  // IPv6 needs brackets
  const api::HostCheck loopback("127.0.0.1", {"photos.local"});
  EXPECT_TRUE(loopback.allowed("127.0.0.1:7878", "127.0.0.1"));
  EXPECT_TRUE(loopback.allowed("photos.local:7878", "127.0.0.1"));
  EXPECT_FALSE(loopback.allowed("evil.example:7878", "127.0.0.1"));
  EXPECT_FALSE(loopback.allowed("", "127.0.0.1"));
  const api::HostCheck everywhere("0.0.0.0", {});
  EXPECT_TRUE(everywhere.allowed("192.168.1.7:7878", "::ffff:192.168.1.7"));
  EXPECT_FALSE(everywhere.allowed("evil.example:7878", "192.168.1.7"));
  const api::HostCheck named("192.168.1.7", {});
  EXPECT_TRUE(named.allowed("192.168.1.7", "192.168.1.7"));
}

TEST(Access, ListenAddresses) {
  EXPECT_EQ(parse_listen_address("127.0.0.1:7878").host, "127.0.0.1");
  EXPECT_EQ(parse_listen_address("127.0.0.1:7878").port, 7878);
  EXPECT_EQ(parse_listen_address("[::1]:80").host, "::1");
  EXPECT_EQ(parse_listen_address("localhost:0").port, 0);
  for (const char* bad : {"127.0.0.1", ":7878", "::1:7878", "host:99999", "host:12a", "[::1]7878"}) {
    EXPECT_THROW(parse_listen_address(bad), InvalidInput) << bad;
  }
  try {
    parse_listen_address("nope");
  } catch (const InvalidInput& error) {
    EXPECT_NE(std::string(error.what()).find("api.listen"), std::string::npos);
  }
}

TEST(Access, TokenFromTheConfigOrAFile) {
  const std::filesystem::path dir = test::fresh_dir("api");
  std::ofstream(dir / "token") << "  0123456789abcdef0123\n";
  std::ofstream(dir / "empty") << "\n";
  EXPECT_EQ(load_api_token("", ""), "");
  EXPECT_EQ(load_api_token("inline", ""), "inline");
  EXPECT_EQ(load_api_token("", dir / "token"), "0123456789abcdef0123");
  EXPECT_THROW(load_api_token("inline", dir / "token"), InvalidInput);
  EXPECT_THROW(load_api_token("", dir / "empty"), InvalidInput);
  try {
    load_api_token("", dir / "missing");
    FAIL();
  } catch (const InvalidInput& error) {
    EXPECT_NE(std::string(error.what()).find((dir / "missing").string()), std::string::npos) << error.what();
  }
}

TEST(Params, ImageIds) {
  EXPECT_EQ(api::parse_image_id("4073747244805229272"), 4073747244805229272LL);
  EXPECT_EQ(api::parse_image_id("9223372036854775807"), 9223372036854775807LL);
  for (const char* bad : {"", "-1", "+1", "9223372036854775808", "12345678901234567890", "1e5", "0x1f", " 1", "../x"}) {
    EXPECT_THROW(api::parse_image_id(bad), InvalidInput) << bad;
  }
}

TEST(Params, Base64) {
  EXPECT_EQ(api::decode_base64("aGVsbG8=", "image"), "hello");
  EXPECT_EQ(api::decode_base64("aGVs\nbG8h", "image"), "hello!");
  EXPECT_EQ(api::decode_base64("data:image/png;base64,aGk=", "image"), "hi");
  EXPECT_THROW(api::decode_base64("aGVsbG8*", "image"), InvalidInput);
  EXPECT_THROW(api::decode_base64("a", "image"), InvalidInput);
  EXPECT_THROW(api::decode_base64("aG=Vs", "image"), InvalidInput);
  EXPECT_THROW(api::decode_base64("data:image/png,abc", "image"), InvalidInput);
}

TEST(Metrics, ExpositionFormat) {
  MetricsRegistry metrics;
  metrics.observe_request("GET /api/search", 200, 0.004);
  metrics.observe_request("GET /api/search", 200, 0.2);
  metrics.set_gauge("imgsearchd_files", "Files.", 10, {{"state", "ok"}});
  metrics.set_gauge("imgsearchd_label_test", "Quoting.", 1, {{"path", "a\"b\\c\nd"}});
  const std::string text = metrics.exposition();
  EXPECT_NE(text.find("# TYPE imgsearchd_http_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("imgsearchd_http_requests_total{route=\"GET /api/search\",status=\"200\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("imgsearchd_http_request_duration_seconds_bucket{route=\"GET /api/search\",le=\"0.005\"} 1\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("imgsearchd_http_request_duration_seconds_bucket{route=\"GET /api/search\",le=\"0.25\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("imgsearchd_http_request_duration_seconds_bucket{route=\"GET /api/search\",le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("imgsearchd_http_request_duration_seconds_count{route=\"GET /api/search\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("imgsearchd_files{state=\"ok\"} 10\n"), std::string::npos);
  EXPECT_NE(text.find("imgsearchd_label_test{path=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << text;
  EXPECT_EQ(metrics.value("imgsearchd_files", {{"state", "ok"}}), 10);
}

TEST(Metrics, TheServicesFiguresAsTheyAreReadAtEachScrape) {
  MetricsRegistry metrics;
  ServiceMetrics service;
  service.files_ok = 12;
  service.files_failed = 2;
  service.files_pending = 5;
  service.queue_depth = 3;
  service.images_embedded = 40;
  // Batches of 0.03 s, 0.3 s twice and 100 s (past every bound).
  service.model_batch_seconds = HistogramSnapshot{{0.05, 0.5, 5}, {1, 2, 0, 1}, 100.63};
  service.watcher_events = 77;
  service.watcher_overflows = 1;
  service.full_rescans = 2;
  service.root_rescans = 4;
  service.vectors = 11;
  metrics.set_service(service);
  service.images_embedded = 44;  // a later scrape: the total, not an increment
  metrics.set_service(service);
  metrics.set_text_cache(3, 9);
  const std::string text = metrics.exposition();
  for (const std::string line : {
           "# TYPE imgsearchd_files gauge",
           "imgsearchd_files{state=\"ok\"} 12",
           "imgsearchd_files{state=\"failed\"} 2",
           "imgsearchd_files{state=\"pending\"} 5",
           "imgsearchd_queue_depth 3",
           "# TYPE imgsearchd_images_embedded_total counter",
           "imgsearchd_images_embedded_total 44",
           "# TYPE imgsearchd_model_batch_seconds histogram",
           "imgsearchd_model_batch_seconds_bucket{le=\"0.05\"} 1",
           "imgsearchd_model_batch_seconds_bucket{le=\"0.5\"} 3",
           "imgsearchd_model_batch_seconds_bucket{le=\"5\"} 3",
           "imgsearchd_model_batch_seconds_bucket{le=\"+Inf\"} 4",
           "imgsearchd_model_batch_seconds_sum 100.63",
           "imgsearchd_model_batch_seconds_count 4",
           "imgsearchd_watcher_events_total 77",
           "imgsearchd_watcher_overflows_total 1",
           "imgsearchd_rescans_total{kind=\"full\"} 2",
           "imgsearchd_rescans_total{kind=\"root\"} 4",
           "imgsearchd_index_vectors 11",
           "# TYPE imgsearchd_text_cache_hits_total counter",
           "imgsearchd_text_cache_hits_total 3",
           "imgsearchd_text_cache_misses_total 9",
       }) {
    EXPECT_NE(text.find(line + "\n"), std::string::npos) << "missing: " << line << "\n" << text;
  }
}

// Paths of other services sharing the catalogue are "<source>:<path>"; an
// image held only there is a 404 naming them, with an error.holder field.
TEST(Holders, AnImageHeldOnlyByOtherServicesIsA404NamingThem) {
  const std::vector<SourcePath> foreign =
      api::foreign_paths({"/home/me/a.jpg", "nas:/srv/a.jpg", "desktop:/d/a:b.jpg"});
  ASSERT_EQ(foreign.size(), 2u) << "this service's own path is not foreign";
  EXPECT_EQ(foreign[1].source, "desktop");
  EXPECT_EQ(foreign[1].path, "/d/a:b.jpg");
  const api::Holder with_address = api::pick_holder(foreign, {{"desktop", "http://desktop.lan:7860"}});
  EXPECT_EQ(with_address.path.source, "desktop") << "the one that can be reached";
  EXPECT_EQ(api::holder_url(*with_address.address, 42, "/thumbnail?size=64"),
            "http://desktop.lan:7860/api/images/42/thumbnail?size=64");
  EXPECT_EQ(api::pick_holder(foreign, {}).path.source, "nas") << "else the first";

  // An SQLite catalogue knows no other service's address.
  const Catalog catalog = Catalog::open(test::fresh_dir("holders") / "catalog.db");
  httplib::Response response;
  try {
    api::throw_held_elsewhere(catalog, 42, foreign, "/file", "laptop");
  } catch (...) {
    EXPECT_EQ(api::respond_current_exception(response), 404);
  }
  const nlohmann::json body = nlohmann::json::parse(response.body);
  const nlohmann::json& error = body["error"];
  EXPECT_EQ(error["code"], 404);
  EXPECT_EQ(error["type"], "not_found");
  const std::string message = error["message"];
  EXPECT_NE(message.find("the image 42 is not on this service ('laptop')"), std::string::npos) << message;
  EXPECT_NE(message.find("held by services 'nas' and 'desktop'"), std::string::npos) << message;
  EXPECT_NE(message.find("/srv/a.jpg on 'nas'"), std::string::npos) << message;
  EXPECT_NE(message.find("advertises no address"), std::string::npos) << message;
  EXPECT_EQ(error["holder"], (nlohmann::json{{"source", "nas"}, {"path", "/srv/a.jpg"}, {"url", nullptr}}));
}

TEST(TextEmbeddingCache, KeysByModelAndNormalisedTextAndDropsTheLeastRecent) {
  EXPECT_EQ(normalise_query_text("  A Red\tBicycle \n"), "a red bicycle");
  EXPECT_EQ(normalise_query_text("Café"), "café");  // non-ASCII left to the tokenizer
  TextEmbeddingCache cache(2);
  cache.put(1, "a dog", {1.0f});
  cache.put(1, "a cat", {2.0f});
  EXPECT_EQ(cache.find(1, "A  DOG"), std::vector<float>{1.0f});  // "a dog" is now the most recent
  EXPECT_FALSE(cache.find(2, "a dog"));                           // another model
  cache.put(1, "a bird", {3.0f});                                 // drops "a cat"
  EXPECT_FALSE(cache.find(1, "a cat"));
  EXPECT_TRUE(cache.find(1, "a dog"));
  EXPECT_TRUE(cache.find(1, "a bird"));
  EXPECT_EQ(cache.stats().size, 2u);
  EXPECT_EQ(cache.stats().hits, 3u);
  EXPECT_EQ(cache.stats().misses, 2u);
}

}  // namespace
}  // namespace imgsearchd
