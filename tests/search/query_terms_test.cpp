// rclip's term syntax and the checks on weighted terms.
#include <gtest/gtest.h>

#include "indexer/search/query_terms.h"
#include "store/core/errors.h"

namespace imgsearchd {
namespace {

TEST(QueryTerms, WeightsAndImagesFollowRclip) {
  QueryTerm beach = parse_cli_term("2:beach");
  EXPECT_EQ(beach.kind, QueryTerm::Kind::text);
  EXPECT_EQ(beach.text, "beach");
  EXPECT_FLOAT_EQ(beach.weight, 2);

  QueryTerm snow = parse_cli_term("snow", -1);
  EXPECT_EQ(snow.text, "snow");
  EXPECT_FLOAT_EQ(snow.weight, -1);

  QueryTerm half = parse_cli_term("0.5:a red car", -1);
  EXPECT_EQ(half.text, "a red car");
  EXPECT_FLOAT_EQ(half.weight, -0.5f);

  // A colon that does not follow a number is part of the text.
  EXPECT_EQ(parse_cli_term("note: a cat").text, "note: a cat");
  EXPECT_FLOAT_EQ(parse_cli_term("note: a cat").weight, 1);

  for (const char* path : {"./ref.jpg", "/photos/ref.jpg", "../ref.jpg"}) {
    const QueryTerm image = parse_cli_term(path);
    EXPECT_EQ(image.kind, QueryTerm::Kind::image_file) << path;
    EXPECT_EQ(image.file, path);
  }
  const QueryTerm weighted_image = parse_cli_term("3:./ref.jpg", -1);
  EXPECT_EQ(weighted_image.kind, QueryTerm::Kind::image_file);
  EXPECT_EQ(weighted_image.file, "./ref.jpg");
  EXPECT_FLOAT_EQ(weighted_image.weight, -3);
  EXPECT_EQ(parse_cli_term("file:///photos/a.jpg").file, "/photos/a.jpg");
  EXPECT_EQ(parse_cli_term("ref.jpg").kind, QueryTerm::Kind::text) << "rclip: a path needs ./ or /";
}

TEST(QueryTerms, BadTermsAreRefusedWithTheTerm) {
  for (const char* bad : {"2:", "nan:beach", "https://example.com/a.jpg"}) {
    try {
      parse_cli_term(bad);
      FAIL() << bad;
    } catch (const InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(check_query_terms({}), InvalidInput);
  EXPECT_THROW(check_query_terms({QueryTerm::of_text("a", 0)}), InvalidInput);
  EXPECT_THROW(check_query_terms({QueryTerm::of_text("")}), InvalidInput);
  EXPECT_THROW(check_query_terms({QueryTerm::of_bytes("", "upload")}), InvalidInput);
  EXPECT_NO_THROW(check_query_terms({QueryTerm::of_text("a"), QueryTerm::of_id(7, -1)}));
}

}  // namespace
}  // namespace imgsearchd
