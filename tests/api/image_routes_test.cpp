// The image routes: metadata, the original file (content type, ETag, Range),
// thumbnails (libvips, cached on disk, ETag); unknown ids and path tricks.
#include <vips/vips.h>

#include "api_test_server.h"

namespace imgsearchd::test {
namespace {

class ImageRoutesTest : public ApiTest {};

// Width and height as libvips reads them from the file.
std::pair<int, int> dimensions_of_buffer(const std::string& bytes) {
  VipsImage* image = vips_image_new_from_buffer(bytes.data(), bytes.size(), "", nullptr);
  if (image == nullptr) return {0, 0};
  const std::pair<int, int> size{vips_image_get_width(image), vips_image_get_height(image)};
  g_object_unref(image);
  return size;
}

TEST_F(ImageRoutesTest, MetadataHasAllPathsSizeDimensionsFormatAndTime) {
  // A copy of a photo: the same content under two paths. Its name reads like
  // libvips load options, which must not be applied.
  const fs::path copy = photos_dir_ / "copy[shrink=8].jpg";
  fs::copy_file(photos_[2], copy);
  index_folders({photos_dir_});
  start_server();
  const VectorId id = id_of(photos_[2]);
  const httplib::Result result = client().Get("/api/images/" + std::to_string(id));
  ASSERT_EQ(result->status, 200) << result->body;
  const nlohmann::json image = body_json(result);
  EXPECT_EQ(image["id"], std::to_string(id));
  EXPECT_EQ(image["paths"], nlohmann::json::array({copy.string(), photos_[2].string()}));
  EXPECT_EQ(image["bytes"], fs::file_size(photos_[2]));
  const std::pair<int, int> size = dimensions_of_buffer(read_text(photos_[2]));
  EXPECT_EQ(image["width"], size.first);
  EXPECT_EQ(image["height"], size.second);
  EXPECT_EQ(image["format"], "jpeg");
  const std::string mtime = image["mtime"].get<std::string>();
  EXPECT_EQ(mtime.size(), 24u) << mtime;  // 2026-12-01T14:38:43.123Z
  EXPECT_EQ(mtime.back(), 'Z');
  EXPECT_EQ(image["files"].size(), 2u);
  const httplib::Result thumbnail = client().Get("/api/images/" + std::to_string(id) + "/thumbnail?size=64");
  ASSERT_EQ(thumbnail->status, 200) << thumbnail->body;
  EXPECT_EQ(std::max(dimensions_of_buffer(thumbnail->body).first, dimensions_of_buffer(thumbnail->body).second), 64);
}

TEST_F(ImageRoutesTest, FileHasContentTypeETagAndRanges) {
  start_server();
  const VectorId id = id_of(photos_[1]);
  const std::string path = "/api/images/" + std::to_string(id) + "/file";
  const std::string bytes = read_text(photos_[1]);
  const httplib::Result whole = client().Get(path);
  ASSERT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body, bytes);
  EXPECT_EQ(whole->get_header_value("Content-Type"), "image/jpeg");
  const std::string etag = whole->get_header_value("ETag");
  EXPECT_EQ(etag, "\"" + std::to_string(id) + "\"");

  const httplib::Result cached = client().Get(path, {{"If-None-Match", etag}});
  EXPECT_EQ(cached->status, 304);
  EXPECT_TRUE(cached->body.empty());

  const httplib::Result part = client().Get(path, {{"Range", "bytes=100-199"}});
  ASSERT_EQ(part->status, 206);
  EXPECT_EQ(part->body, bytes.substr(100, 100));
  EXPECT_EQ(part->get_header_value("Content-Range"), "bytes 100-199/" + std::to_string(bytes.size()));

  // Errors and other routes are never cut by a Range.
  expect_error(client().Get("/api/images/12345/file", {{"Range", "bytes=0-3"}}), 404, "not_found", "12345");
  const httplib::Result metadata = client().Get("/api/images/" + std::to_string(id), {{"Range", "bytes=0-3"}});
  EXPECT_EQ(metadata->status, 200);
  EXPECT_TRUE(nlohmann::json::parse(metadata->body, nullptr, false).is_object()) << metadata->body;

  const httplib::Result past_end = client().Get(path, {{"Range", "bytes=" + std::to_string(bytes.size()) + "-"}});
  expect_error(past_end, 416, "range_not_satisfiable", "end of the file");
  EXPECT_EQ(past_end->get_header_value("Content-Range"), "bytes */" + std::to_string(bytes.size()));
}

TEST_F(ImageRoutesTest, AFileChangedSinceIndexingIsNotServedAsThatId) {
  start_server();
  const VectorId id = id_of(photos_[4]);
  {
    std::ofstream out(photos_[4], std::ios::binary | std::ios::app);
    out << "changed";
  }
  expect_error(client().Get("/api/images/" + std::to_string(id) + "/file"), 404, "not_found",
               "changed or gone since");
  fs::remove(photos_[4]);
  expect_error(client().Get("/api/images/" + std::to_string(id) + "/thumbnail"), 404, "not_found",
               "changed or gone since");
}

TEST_F(ImageRoutesTest, ThumbnailsAreSmallJpegOrWebpCachedOnDiskWithETag) {
  start_server();
  const VectorId id = id_of(photos_[6]);
  const std::string path = "/api/images/" + std::to_string(id) + "/thumbnail";
  const httplib::Result jpeg = client().Get(path + "?size=128");
  ASSERT_EQ(jpeg->status, 200) << jpeg->body;
  EXPECT_EQ(jpeg->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_EQ(jpeg->body.substr(0, 3), "\xFF\xD8\xFF");
  const std::pair<int, int> size = dimensions_of_buffer(jpeg->body);
  EXPECT_EQ(std::max(size.first, size.second), 128);
  EXPECT_TRUE(fs::exists(scratch_ / "thumbnails" / (std::to_string(id) + "-128.jpeg")));

  // From the cache: the same bytes even once the original is gone.
  const std::string etag = jpeg->get_header_value("ETag");
  EXPECT_FALSE(etag.empty());
  EXPECT_EQ(client().Get(path + "?size=128", {{"If-None-Match", etag}})->status, 304);

  const httplib::Result webp = client().Get(path + "?format=webp");
  ASSERT_EQ(webp->status, 200) << webp->body;
  EXPECT_EQ(webp->get_header_value("Content-Type"), "image/webp");
  EXPECT_EQ(webp->body.substr(8, 4), "WEBP");
  EXPECT_EQ(std::max(dimensions_of_buffer(webp->body).first, dimensions_of_buffer(webp->body).second), 256);

  expect_error(client().Get(path + "?size=5"), 400, "invalid_request", "size must be");
  expect_error(client().Get(path + "?size=big"), 400, "invalid_request", "size must be");
  expect_error(client().Get(path + "?format=gif"), 400, "invalid_request", "format must be");
}

TEST_F(ImageRoutesTest, UnknownIdsAre404) {
  start_server();
  for (const std::string suffix : {"", "/file", "/thumbnail", "/similar"}) {
    SCOPED_TRACE(suffix);
    expect_error(client().Get("/api/images/4073747244805229272" + suffix), 404, "not_found", "4073747244805229272");
  }
}

TEST_F(ImageRoutesTest, PathTricksInIdsAreRefused) {
  start_server();
  std::vector<std::string> tricks = {"/api/images/../../etc/passwd"};
  // Every route that takes an id, each with every trick.
  for (const std::string id : {"..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "-1", "1%00", "0x10", "12;cat",
                               "%2e%2e", "1e3", "+12"}) {
    for (const std::string suffix : {"", "/file", "/thumbnail", "/similar"}) tricks.push_back("/api/images/" + id + suffix);
  }
  for (const std::string& trick : tricks) {
    SCOPED_TRACE(trick);
    const httplib::Result result = client().Get(trick);
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->status == 400 || result->status == 404) << result->status << " " << result->body;
    EXPECT_EQ(result->body.find("root:"), std::string::npos);
    expect_error(result, result->status, result->status == 400 ? "invalid_request" : "not_found", "");
  }
}

}  // namespace
}  // namespace imgsearchd::test
