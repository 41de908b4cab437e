// The tokenizer's HTML unescapers against Python's html.unescape and ftfy's
// rules, for every HTML5 entity name and the numeric edge cases.

#include "indexer/tokenizer/html_unescape.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "indexer/tokenizer/text_cleaning.h"
#include "reference_runner.h"

namespace imgsearchd {
namespace {

std::string unescape_with(const std::string& which, const std::string& text) {
  const std::u32string code_points = detail::utf8_to_code_points(text);
  return detail::code_points_to_utf8(which == "html-unescape" ? detail::python_html_unescape(code_points)
                                                              : detail::ftfy_unescape_html(code_points));
}

// `name` keeps each test's files apart.
void expect_same_as_python(const std::string& which, const std::string& name, const std::vector<std::string>& texts) {
  const nlohmann::json reference = test::run_reference(which, name, texts);
  ASSERT_EQ(reference.size(), texts.size());
  int mismatches = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string expected = reference[i].get<std::string>();
    const std::string actual = unescape_with(which, texts[i]);
    if (actual != expected && ++mismatches <= 20) {
      ADD_FAILURE() << which << " of " << test::visible(texts[i]) << ": Python gives " << test::visible(expected)
                    << ", imgsearchd gives " << test::visible(actual);
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << texts.size() << " strings";
}

std::vector<std::string> entity_texts() {
  std::vector<std::string> texts;
  std::vector<std::string_view> names = detail::html5_entity_names();
  const std::vector<std::string_view> upper = detail::ftfy_uppercase_entity_names();
  names.insert(names.end(), upper.begin(), upper.end());
  EXPECT_GT(names.size(), 3000u);
  for (std::string_view view : names) {
    const std::string name(view);
    texts.push_back("&" + name);
    texts.push_back("x&" + name + "y z");
    texts.push_back("&" + name + ";");
    texts.push_back("&&" + name + "&amp;");
    texts.push_back("&" + name.substr(0, name.size() / 2) + "; &" + name + "123");
  }
  return texts;
}

std::vector<std::string> numeric_texts() {
  std::vector<std::string> texts = {
      "&#0;", "&#00065;", "&#65", "&#65x", "&#x41;", "&#X41", "&#x;", "&#;", "&#", "&#-1;", "&#+1;",
      "&#x110000;", "&#1114111;", "&#1114112;", "&#99999999999999999999999;", "&#xFFFFFFFFFFFFFFFFFFFF;",
      "&#xD800;", "&#xDFFF;", "&#xFFFE;", "&#x10FFFF;", "&#xFDD0;", "&#11;", "&#12;", "&#13;", "&#59;",
      "&#12abc;", "&#xZZ;", "&#x1F600;&#128512;", "&# 65;", "&#\u0661\u0662;",
  };
  for (int number = 0; number < 0xA0; ++number) {
    texts.push_back("&#" + std::to_string(number) + ";");
    texts.push_back("&#" + std::to_string(number));
  }
  return texts;
}

TEST(HtmlUnescape, EveryEntityMatchesPythonsHtmlUnescape) {
  expect_same_as_python("html-unescape", "html-entities", entity_texts());
}

TEST(HtmlUnescape, NumericReferencesMatchPythonsHtmlUnescape) {
  expect_same_as_python("html-unescape", "html-numeric", numeric_texts());
}

TEST(HtmlUnescape, EveryEntityMatchesFtfysUnescape) {
  expect_same_as_python("ftfy-unescape", "ftfy-entities", entity_texts());
}

TEST(HtmlUnescape, NumericReferencesMatchFtfysUnescape) {
  expect_same_as_python("ftfy-unescape", "ftfy-numeric", numeric_texts());
}

TEST(HtmlUnescape, KnownExamples) {
  EXPECT_EQ(unescape_with("html-unescape", "&amp;amp; &copy 2024 &notit; &ampxyz"), "&amp; © 2024 ¬it; &xyz");
  EXPECT_EQ(unescape_with("ftfy-unescape", "&amp;amp; &copy 2024 &EACUTE; &#59;"), "&amp; &copy 2024 É &#59;");
}

}  // namespace
}  // namespace imgsearchd
