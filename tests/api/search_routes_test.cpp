// The search routes through a real server: text, JSON (text, image, id,
// embedding), uploads, similar; paging; the cache of text embeddings; and
// every way a search request can be wrong.
#include <set>

#include "api_test_server.h"

namespace imgsearchd::test {
namespace {

std::string base64(const std::string& bytes) {
  static const char* const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += alphabet[(n >> shift) & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t n = uint8_t(bytes[i]) << 16;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

class SearchRoutesTest : public ApiTest {};

TEST_F(SearchRoutesTest, TextSearchAnswersHitsWithStringIdsPathsAndSizes) {
  start_server();
  const httplib::Result result = client().Get("/api/search?q=a%20dog%20on%20a%20beach&k=5");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
  const nlohmann::json page = body_json(result);
  ASSERT_EQ(page["results"].size(), 5u);
  EXPECT_EQ(page["offset"], 0);
  EXPECT_EQ(page["next_offset"], 5);
  EXPECT_TRUE(page["took_ms"].is_number());
  float previous = 2;
  for (const nlohmann::json& hit : page["results"]) {
    ASSERT_TRUE(hit["id"].is_string()) << hit;  // 63-bit ids do not fit a JavaScript number
    const fs::path path = hit["path"].get<std::string>();
    EXPECT_EQ(hit["id"], std::to_string(id_of(path)));
    EXPECT_EQ(hit["paths"], nlohmann::json::array({path.string()}));
    EXPECT_EQ(hit["bytes"], fs::file_size(path));
    EXPECT_GT(hit["width"].get<int>(), 0);
    EXPECT_GT(hit["height"].get<int>(), 0);
    const float score = hit["score"].get<float>();
    EXPECT_LE(score, previous);
    previous = score;
  }
  // The same answer as the engine gives directly.
  SearchOptions five;
  five.k = 5;
  const SearchPage direct = engine_->by_text("a dog on a beach", five);
  for (size_t i = 0; i < direct.hits.size(); ++i) EXPECT_EQ(page["results"][i]["id"], std::to_string(direct.hits[i].id));
}

TEST_F(SearchRoutesTest, PagesFollowEachOtherAndTheLastHasNoNextOffset) {
  start_server();
  const nlohmann::json all = body_json(client().Get("/api/search?q=street&k=16"));
  ASSERT_EQ(all["results"].size(), kPhotos);
  EXPECT_TRUE(all["next_offset"].is_null());
  std::vector<std::string> paged;
  std::optional<size_t> offset = 0;
  while (offset) {
    const nlohmann::json page = body_json(client().Get("/api/search?q=street&k=6&offset=" + std::to_string(*offset)));
    EXPECT_EQ(page["offset"], *offset);
    for (const std::string& id : result_ids(page)) paged.push_back(id);
    offset = page["next_offset"].is_null() ? std::nullopt : std::optional<size_t>(page["next_offset"].get<size_t>());
  }
  EXPECT_EQ(paged, result_ids(all));
  // min_score above every score leaves nothing.
  const nlohmann::json none = body_json(client().Get("/api/search?q=street&min_score=1.5"));
  EXPECT_TRUE(none["results"].empty());
  EXPECT_TRUE(none["next_offset"].is_null());
}

TEST_F(SearchRoutesTest, RepeatedTextIsServedFromTheEmbeddingCache) {
  start_server();
  ASSERT_EQ(client().Get("/api/search?q=a%20red%20bicycle")->status, 200);
  const TextEmbeddingCache::Stats first = engine_->text_cache_stats();
  const httplib::Result again = client().Get("/api/search?q=%20A%20RED%20%20bicycle%20");
  ASSERT_EQ(again->status, 200);
  const TextEmbeddingCache::Stats second = engine_->text_cache_stats();
  EXPECT_EQ(second.hits, first.hits + 1);
  EXPECT_EQ(second.misses, first.misses);
  EXPECT_EQ(result_ids(body_json(again)), result_ids(body_json(client().Get("/api/search?q=a%20red%20bicycle"))));
}

TEST_F(SearchRoutesTest, JsonSearchByTextIdEmbeddingAndImage) {
  start_server();
  const nlohmann::json by_query = body_json(client().Get("/api/search?q=kitchen&k=4"));
  const nlohmann::json by_text = body_json(post_json({{"text", "kitchen"}, {"k", 4}}));
  EXPECT_EQ(result_ids(by_text), result_ids(by_query));

  const std::vector<float> embedding = engine_->text_embedding("kitchen");
  const nlohmann::json by_embedding = body_json(post_json({{"embedding", embedding}, {"k", 4}}));
  EXPECT_EQ(result_ids(by_embedding), result_ids(by_query));

  const std::string id = std::to_string(id_of(photos_[3]));
  const nlohmann::json by_id = body_json(post_json({{"id", id}, {"k", 5}}));
  ASSERT_EQ(by_id["results"].size(), 5u);
  EXPECT_EQ(by_id["excluded"], id);
  for (const std::string& hit : result_ids(by_id)) EXPECT_NE(hit, id);  // itself left out

  const std::string bytes = read_text(photos_[3]);
  const nlohmann::json by_image = body_json(post_json({{"image", base64(bytes)}, {"k", 5}}));
  EXPECT_EQ(by_image["excluded"], id);
  EXPECT_EQ(result_ids(by_image), result_ids(by_id));
  const nlohmann::json by_data_url = body_json(post_json({{"image", "data:image/jpeg;base64," + base64(bytes)}, {"k", 5}}));
  EXPECT_EQ(result_ids(by_data_url), result_ids(by_id));
}

TEST_F(SearchRoutesTest, UploadsAsRawBodyOrMultipartField) {
  start_server();
  const std::string id = std::to_string(id_of(photos_[5]));
  const nlohmann::json expected = body_json(client().Get("/api/images/" + id + "/similar?k=4"));
  ASSERT_EQ(expected["results"].size(), 4u);

  const std::string bytes = read_text(photos_[5]);
  const httplib::Result raw = client().Post("/api/search/image?k=4", bytes, "image/jpeg");
  ASSERT_EQ(raw->status, 200) << raw->body;
  EXPECT_EQ(result_ids(body_json(raw)), result_ids(expected));

  // As curl --data-binary sends it without a Content-Type: labelled a form,
  // which httplib limits to 8 KiB. The message says what to do.
  expect_error(client().Post("/api/search/image?k=4", bytes, "application/x-www-form-urlencoded"), 413, "too_large",
               "Content-Type: image/jpeg");

  const httplib::MultipartFormDataItems items = {{"image", bytes, "photo.jpg", "image/jpeg"}};
  const httplib::Result form = client().Post("/api/search/image?k=4", items);
  ASSERT_EQ(form->status, 200) << form->body;
  EXPECT_EQ(result_ids(body_json(form)), result_ids(expected));

  // New content (not indexed) is embedded now: the same JPEG with bytes
  // after its end is another content that decodes the same.
  const httplib::Result fresh = client().Post("/api/search/image?k=3", bytes + "trailing bytes", "image/jpeg");
  ASSERT_EQ(fresh->status, 200) << fresh->body;
  EXPECT_EQ(body_json(fresh)["results"].size(), 3u);
}

TEST_F(SearchRoutesTest, SimilarLeavesTheImageItselfOut) {
  start_server();
  const std::string id = std::to_string(id_of(photos_[0]));
  const httplib::Result result = client().Get("/api/images/" + id + "/similar?k=15");
  ASSERT_EQ(result->status, 200) << result->body;
  const nlohmann::json page = body_json(result);
  EXPECT_EQ(page["results"].size(), kPhotos - 1);
  EXPECT_TRUE(page["next_offset"].is_null());
  for (const std::string& hit : result_ids(page)) EXPECT_NE(hit, id);
}

TEST_F(SearchRoutesTest, MalformedJsonAndWrongTypesAre400) {
  start_server();
  expect_error(client().Post("/api/search", "{\"text\": ", "application/json"), 400, "invalid_request",
               "not valid JSON");
  expect_error(client().Post("/api/search", "[1, 2]", "application/json"), 400, "invalid_request", "JSON object");
  expect_error(post_json({{"text", 5}}), 400, "invalid_request", "text must be a string");
  expect_error(post_json({{"text", "x"}, {"k", "5"}}), 400, "invalid_request", "k must be");
  expect_error(post_json({{"text", "x"}, {"k", 2.5}}), 400, "invalid_request", "k must be");
  expect_error(post_json({{"text", "x"}, {"min_score", "high"}}), 400, "invalid_request", "min_score");
  expect_error(post_json({{"id", nlohmann::json::array({1})}}), 400, "invalid_request", "id must be");
  expect_error(post_json({{"embedding", "1,2,3"}}), 400, "invalid_request", "embedding must be an array");
  expect_error(post_json({{"embedding", {0.1, "x"}}}), 400, "invalid_request", "embedding[1]");
  expect_error(post_json({{"embedding", {0.1, 0.2}}}), 400, "invalid_request", "the model's have");
  expect_error(post_json({{"image", "not base64!"}}), 400, "invalid_request", "not base64");
  expect_error(post_json({{"text", "x"}, {"limit", 3}}), 400, "invalid_request", "unknown field 'limit'");
  expect_error(post_json({{"text", "   "}}), 400, "invalid_request", "text is empty");
}

TEST_F(SearchRoutesTest, ExactlyOneQueryKind) {
  start_server();
  expect_error(post_json({{"k", 3}}), 400, "invalid_request", "give one of text, image (base64), id, embedding or terms");
  expect_error(post_json({{"text", "cat"}, {"id", "12"}}), 400, "invalid_request", "got text and id");
  expect_error(post_json({{"image", "AAAA"}, {"embedding", {1.0}}}), 400, "invalid_request", "got image and embedding");
  expect_error(post_json({{"text", "cat"}, {"terms", {{{"text", "dog"}}}}}), 400, "invalid_request", "got text and terms");
  expect_error(client().Get("/api/search?k=3"), 400, "invalid_request", "q is required");
}

TEST_F(SearchRoutesTest, KOfZeroMinusOneAndABillionAre400) {
  start_server();
  for (const std::string k : {"0", "-1", "1000000000"}) {
    SCOPED_TRACE(k);
    expect_error(client().Get(("/api/search?q=cat&k=" + k).c_str()), 400, "invalid_request", "k must be");
    expect_error(post_json(nlohmann::json::parse("{\"text\": \"cat\", \"k\": " + k + "}")), 400, "invalid_request",
                 "k must be");
    expect_error(client().Get(("/api/images/" + std::to_string(id_of(photos_[0])) + "/similar?k=" + k).c_str()), 400,
                 "invalid_request", "k must be");
    expect_error(client().Post(("/api/search/image?k=" + k).c_str(), read_text(photos_[0]), "image/jpeg"), 400,
                 "invalid_request", "k must be");
    expect_error(post_json(nlohmann::json::parse("{\"terms\": [{\"text\": \"cat\"}], \"k\": " + k + "}")), 400,
                 "invalid_request", "k must be");
  }
  expect_error(client().Get("/api/search?q=cat&k=abc"), 400, "invalid_request", "k must be");
  expect_error(client().Get("/api/search?q=cat&offset=100001"), 400, "invalid_request", "offset must be at most");
  expect_error(client().Get("/api/search?q=cat&min_score=nan"), 400, "invalid_request", "min_score must be a number");
  expect_error(client().Get("/api/search?q=cat&kk=3"), 400, "invalid_request", "unknown parameter 'kk'");
  expect_error(client().Get(("/api/search?q=" + std::string(3000, 'a')).c_str()), 400, "invalid_request",
               "3000 bytes long");
}

TEST_F(SearchRoutesTest, UnknownIdsAre404) {
  start_server();
  expect_error(post_json({{"id", "12345"}}), 404, "not_found", "12345");
  expect_error(client().Get("/api/images/12345/similar"), 404, "not_found", "12345");
  expect_error(post_json({{"id", "99999999999999999999"}}), 400, "invalid_request", "63 bits");
}

TEST_F(SearchRoutesTest, NonImageEmptyAndOversizedUploads) {
  start_server();
  expect_error(client().Post("/api/search/image", "this is not an image at all", "image/jpeg"), 400,
               "invalid_request", "cannot search by this image");
  expect_error(client().Post("/api/search/image", "", "image/jpeg"), 400, "invalid_request", "is empty");
  const httplib::MultipartFormDataItems wrong_field = {{"file", read_text(photos_[0]), "a.jpg", "image/jpeg"}};
  expect_error(client().Post("/api/search/image", wrong_field), 400, "invalid_request", "no field named image");
  expect_error(post_json({{"image", base64("GIF89a but truncated")}}), 400, "invalid_request", "cannot search");
  const std::string huge(kMaxBody + 1, 'x');
  expect_error(client().Post("/api/search/image", huge, "image/jpeg"), 413, "too_large", "api.max_body_bytes");
  expect_error(client().Post("/api/search", huge, "application/json"), 413, "too_large", "api.max_body_bytes");
}

}  // namespace
}  // namespace imgsearchd::test
