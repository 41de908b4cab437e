// ClipTokenizer's ids against CLIP's reference tokenizer (simple_tokenizer.py
// and clip.tokenize(truncate=True)), run at test time with Debian's Python.

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "indexer/tokenizer/tokenizer.h"
#include "reference_runner.h"

namespace imgsearchd {
namespace {

// One code point as UTF-8 (written here so the inputs do not depend on the
// code under test).
std::string cp(char32_t c) {
  std::string out;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
  return out;
}

std::string long_text(int words) {
  const std::vector<std::string> vocabulary = {"a",     "photo",  "of",     "the",       "red",  "bicycle",
                                               "at",    "night",  "near",   "river",     "with", "lights,",
                                               "Dog's", "CAFÉ",   "naïve",  "2024",      "日本", "😀",
                                               "&amp;", "street", "market", "over-long", "text", "!"};
  std::string text;
  for (int i = 0; i < words; ++i) {
    if (i > 0) text += (i % 17 == 0) ? "\n" : " ";
    text += vocabulary[static_cast<size_t>(i * 7 + i / 5) % vocabulary.size()];
  }
  return text;
}

std::vector<std::string> broad_cases() {
  return {
      // ASCII sentences and punctuation
      "a diagram",
      "A photo of a DOG.",
      "Hello, World!",
      "the quick brown fox jumps over the lazy dog",
      "!!!???...",
      "(hello) [world] {foo} <bar> #hash @user $5 100% ^_^ ~tilde~ `tick` a|b a\\b a/b",
      "e-mail: someone@example.com, web: http://example.com/path?q=1&x=2#frag",
      "C++ & Python; semi-colons: colons...",
      // contractions
      "I'm you're we've they'll she'd it's don't",
      "'s 't 're 've 'm 'll 'd",
      "rock'n'roll O'Neil's IT'S WE'RE",
      "it" + cp(0x17F) + " " + cp(0x27) + cp(0x17F) + "un",  // long s, which regex matches as 's'
      "''s '''",
      // numbers
      "1234567890",
      "3.14159 1,000,000 -42 +7 1e10",
      cp(0xB2) + cp(0xB3) + " " + cp(0xBD) + " " + cp(0x2153) + " " + cp(0x216B) + " " + cp(0x2460),
      cp(0x663) + cp(0x664) + " " + cp(0x967) + cp(0x968) + " " + cp(0xE51),
      "10km 5kg 2nd 3rd 4th",
      // accented Latin
      "café naïve résumé",
      "Crème Brûlée À LA CARTE",
      "Ångström Øre Ærø",
      "cafe" + cp(0x301) + " e" + cp(0x301) + cp(0x302) + " n" + cp(0x300),  // decomposed: NFC composes
      "ÉCOLE ÇA ÑANDÚ",
      // German, Turkish, Greek
      "Straße STRASSE Fuß",
      cp(0x1E9E) + " capital sharp s",
      cp(0x130) + "stanbul D" + cp(0x130) + "YARBAKIR",
      "IŞIK ışık " + cp(0x131),
      "ΟΔΟΣ",
      "Σίσυφος ΣΊΣΥΦΟΣ",
      "ΣΑΣ. Σ ΑΣ' ΑΣ" + cp(0x301) + " άλφα",
      "α" + cp(0x345) + " x" + cp(0x345) + "y " + cp(0x345),
      // other scripts
      "Привет, мир! ЁЛКА",
      "日本語のテキスト",
      "中文测试，标点。",
      "한국어 텍스트",
      "مرحبا بالعالم",
      "שלום עולם",
      "नमस्ते दुनिया",
      "สวัสดีครับ",
      cp(0x1D400) + cp(0x1D401) + " " + cp(0x210C) + " " + cp(0x24B6) + cp(0x24D1),
      // emoji
      cp(0x1F600),
      "I " + cp(0x2764) + cp(0xFE0F) + " NY",
      cp(0x1F468) + cp(0x200D) + cp(0x1F469) + cp(0x200D) + cp(0x1F467) + cp(0x200D) + cp(0x1F466) + " family",
      cp(0x1F44D) + cp(0x1F3FD) + " thumbs " + cp(0x1F44B) + cp(0x1F3FF),
      cp(0x1F3F3) + cp(0xFE0F) + cp(0x200D) + cp(0x1F308),
      cp(0x1F1E9) + cp(0x1F1EA) + cp(0x1F1EB) + cp(0x1F1F7) + " flags",
      cp(0x1F3F4) + cp(0xE0067) + cp(0xE0062) + cp(0xE0073) + cp(0xE0063) + cp(0xE0074) + cp(0xE007F),
      "a" + cp(0x1F600) + "b" + cp(0x1F600) + cp(0x1F600),
      // HTML entities
      "&amp; &lt; &gt; &quot; &#39; &apos;",
      "&copy; 2024 &copy 2024 &COPY; &reg &trade;",
      "&eacute;t&eacute; &EACUTE;T&EACUTE; &Eacute;",
      "&NTILDE; &SZLIG; &nTILDE; &ntilde",
      "&amp;amp; &amp;amp;amp;amp;",
      "&#x1F600; &#128512; &#65;&#x42;&#X43;",
      "&#0; &#128; &#x80; &#x9F; &#1; &#13; &#xD800; &#1114112; &#99999999999999999999; &#x110000;",
      "&#59; &#x3B; &#12abc; &#xZZ; &#; &#x;",
      "&notit; &notin; &not &ampxyz &unknown; &; & amp; &&amp;",
      "&CounterClockwiseContourIntegral; &" + std::string(40, 'q') + "; &amp" + std::string(40, 'x'),
      "<b>bold &amp; brave &amp;amp;</b>",
      "a < b &amp;amp; c",
      "first &amp;amp;amp;\nsecond < line &amp;amp;amp;\nthird &amp;amp;amp;",
      "&lt;|endoftext|&gt; &#65313;&#65314; &fflig; &#8217;s",
      // white space
      "  leading and trailing  ",
      "tabs\tand\nnewlines\r\nand\rreturns\x0b\x0c",
      "non" + cp(0xA0) + "breaking" + cp(0x2003) + "em" + cp(0x3000) + "ideographic" + cp(0x202F) + "narrow",
      cp(0x200B) + " zero width " + cp(0x200C) + cp(0x200D),
      "\x1c\x1d file \x1eseparators\x1f",
      "next" + cp(0x85) + "line" + cp(0x2028) + "line" + cp(0x2029) + "para",
      // curly quotes, ligatures, width
      cp(0x201C) + "quoted" + cp(0x201D) + " " + cp(0x2018) + "single" + cp(0x2019) + " " + cp(0x201E) + "low" +
          cp(0x201C) + " " + cp(0x2039) + "angle" + cp(0x203A) + " " + cp(0xAB) + "guillemets" + cp(0xBB),
      "it" + cp(0x2019) + "s don" + cp(0x2018) + "t " + cp(0x2BC) + "apostrophe " + cp(0x201B) + cp(0x201F),
      cp(0xFB01) + "ne " + cp(0xFB02) + "ower " + cp(0xFB00) + " " + cp(0xFB03) + " " + cp(0xFB04) + " " +
          cp(0xFB05) + " " + cp(0xFB06),
      cp(0x132) + "sselmeer " + cp(0x1C5) + " " + cp(0x1C4) + " " + cp(0x1C9) + " " + cp(0x149),
      "ＦＵＬＬ　ＷＩＤＴＨ１２３！",
      "ﾊﾝｶｸ ｶﾀｶﾅ ｶﾞ " + cp(0xFFA1) + cp(0xFFE0),
      // control characters and terminal escapes
      "\x1b[31mred\x1b[0m \x1b[1;32mbold\x1b[m \x1b[9",
      "bom" + cp(0xFEFF) + "here " + cp(0xFFFC) + " " + cp(0x206A),
      std::string("nul\0char", 8),
      "c1 " + cp(0x80) + " " + cp(0x85) + " " + cp(0x92) + " " + cp(0x9F) + " " + cp(0x81),
      // CLIP's own markers in the text
      "<|startoftext|>hello<|endoftext|>",
      "<|ENDOFTEXT|> !<|endoftext|> <|" + cp(0x17F) + "tartoftext|>",
      // degenerate
      "",
      " ",
      "\t\n ",
      cp(0x3000),
      "a",
      "&",
      // long words
      std::string(500, 'a'),
      [] {
        std::string s;
        for (int i = 0; i < 15; ++i) s += "supercalifragilisticexpialidocious";
        return s;
      }(),
      [] {
        std::string s;
        for (int i = 0; i < 60; ++i) s += cp(0x1F600);
        return s;
      }(),
      // over-long text
      long_text(300),
  };
}

// Deterministic "random" strings from fragments that exercise the cleaning
// rules and from code points of long-stable Unicode blocks (whose properties
// Python 3.11's Unicode 14 and ICU 72's Unicode 15 agree on).
std::vector<std::string> random_cases() {
  const std::vector<std::string> fragments = {
      "a", "B", "z", "Q", "0", "7", " ", "  ", "\t", "\n", "\r\n", ".", ",", "!", "?", "-", "'", "'s", "'LL", "\"",
      "&", ";", "#", "x", "<", ">", "|", "&amp;", "&amp", "&lt", "&#", "&#x", "&#39;", "&eacute;", "&EACUTE;",
      "&not", "&notin;", "<|endoftext|>", "\x1b[", "m", "\x1b", cp(0xE9), "e" + cp(0x301), cp(0x3A3), cp(0x3C3),
      cp(0x130), cp(0xDF), cp(0x1E9E), cp(0xFB01), cp(0xFF21), cp(0xFF76), cp(0xFF9E), cp(0x201C), cp(0x2019),
      cp(0x85), cp(0x2028), cp(0x345), cp(0x17F), cp(0x1F600), cp(0x200D), cp(0x1F3FD), "日本", cp(0xD55C),
      cp(0x627), cp(0xA0), cp(0x3000), cp(0xFEFF), "\x1c", cp(0x967), cp(0x216B), cp(0xBD), std::string(1, '\0'),
      cp(0x80), cp(0x9D), cp(0x1C5), cp(0x2BC), cp(0x307), cp(0x300)};
  const std::vector<std::pair<char32_t, char32_t>> blocks = {
      {0x21, 0x7E},     {0xA0, 0x24F},    {0x370, 0x3FF},   {0x400, 0x4FF},   {0x600, 0x6FF},
      {0x900, 0x97F},   {0x1E00, 0x1FFF}, {0x2000, 0x206F}, {0x2100, 0x218F}, {0x2460, 0x24FF},
      {0x3040, 0x30FF}, {0x4E00, 0x4FFF}, {0xAC00, 0xAFFF}, {0xFF01, 0xFFEE}, {0x1F300, 0x1F64F}};
  std::mt19937 generator(20240607);
  std::vector<std::string> cases;
  for (int i = 0; i < 400; ++i) {
    std::string text;
    const uint32_t pieces = 1 + generator() % 24;
    for (uint32_t p = 0; p < pieces; ++p) {
      if (generator() % 3 == 0) {
        const auto& [first, last] = blocks[generator() % blocks.size()];
        text += cp(first + static_cast<char32_t>(generator() % (last - first + 1)));
      } else {
        text += fragments[generator() % fragments.size()];
      }
    }
    cases.push_back(text);
  }
  return cases;
}

std::vector<int32_t> ids_from(const nlohmann::json& value) { return value.get<std::vector<int32_t>>(); }

void expect_same_as_reference(const std::vector<std::string>& cases, const std::string& name) {
  const ClipTokenizer tokenizer(test::vocabulary_path());
  const nlohmann::json reference = test::run_reference("tokenize", name, cases);
  ASSERT_EQ(reference.size(), cases.size());
  int mismatches = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<int32_t> expected_encode = ids_from(reference[i]["encode"]);
    const std::vector<int32_t> expected_tokens = ids_from(reference[i]["tokenize"]);
    const std::vector<int32_t> encoded = tokenizer.encode(cases[i]);
    const std::vector<int32_t> tokens = tokenizer.tokenize(cases[i]);
    if (encoded != expected_encode || tokens != expected_tokens) {
      ++mismatches;
      ADD_FAILURE() << "ids differ from CLIP's reference tokenizer for " << test::visible(cases[i])
                    << "\n  reference cleaned text: " << reference[i]["clean"].dump()
                    << "\n  reference encode:   " << test::format_ids(expected_encode)
                    << "\n  imgsearchd encode:  " << test::format_ids(encoded)
                    << "\n  reference tokenize: " << test::format_ids(expected_tokens)
                    << "\n  imgsearchd tokenize:" << test::format_ids(tokens);
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << cases.size() << " strings";
}

TEST(TokenizerReference, BroadListOfTextsGivesTheReferenceIds) {
  expect_same_as_reference(broad_cases(), "broad");
}

TEST(TokenizerReference, RandomTextsGiveTheReferenceIds) { expect_same_as_reference(random_cases(), "random"); }

TEST(TokenizerReference, OverLongTextIsTruncatedLikeTheReference) {
  const ClipTokenizer tokenizer(test::vocabulary_path());
  const std::string text = long_text(300);
  const std::vector<int32_t> tokens = tokenizer.tokenize(text);
  ASSERT_EQ(tokens.size(), 77u);
  EXPECT_EQ(tokens.front(), ClipTokenizer::kStartOfText);
  EXPECT_EQ(tokens.back(), ClipTokenizer::kEndOfText);
  const std::vector<int32_t> encoded = tokenizer.encode(text);
  ASSERT_GT(encoded.size(), 300u);
  // The first 75 ids of the text are kept, then end-of-text.
  EXPECT_EQ(std::vector<int32_t>(tokens.begin() + 1, tokens.end() - 1),
            std::vector<int32_t>(encoded.begin(), encoded.begin() + 75));
  const nlohmann::json reference = test::run_reference("tokenize", "overlong", {text});
  ASSERT_EQ(reference.size(), 1u);
  EXPECT_EQ(tokens, ids_from(reference[0]["tokenize"]));
}

}  // namespace
}  // namespace imgsearchd
