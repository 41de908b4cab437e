// Internal to the tokenizer: the text cleaning CLIP's simple_tokenizer.py does
// before splitting text into words, reproduced code point for code point:
//
//   whitespace_clean(basic_clean(text)).lower()
//   basic_clean      = ftfy.fix_text, html.unescape twice, strip
//   whitespace_clean = runs of \s become one space, strip
//
// ftfy.fix_text is reproduced as ftfy 6.3 does it with its default settings,
// step for step and in its order (HTML entities unless the text has a '<',
// C1 controls, Latin ligatures, character width, curly quotes, line breaks,
// terminal escapes, control characters, NFC, repeated until nothing changes),
// with one exception: mojibake repair (fix_encoding, which guesses that text
// was decoded with the wrong codec and re-decodes it) is not reproduced. It
// changes nothing in well-formed text. tests/reference/tokenizer_reference.py
// makes the same choice.
#pragma once

#include <string>
#include <string_view>

namespace imgsearchd::detail {

// UTF-8 -> code points; each ill-formed sequence (maximal subpart) becomes
// U+FFFD, as Python's bytes.decode("utf-8", "replace") does.
std::u32string utf8_to_code_points(std::string_view utf8);
std::string code_points_to_utf8(std::u32string_view text);

// ftfy.fix_text (6.3, defaults) without mojibake repair.
std::u32string ftfy_fix_text(std::u32string_view text);

// whitespace_clean(basic_clean(text)).lower(): what CLIP splits into words.
std::u32string clip_clean_text(std::u32string_view text);

// Python's str.isspace, and the regex module's \s (Unicode White_Space),
// which differ in U+001C..U+001F.
bool is_python_space(char32_t c);
bool is_regex_space(char32_t c);

}  // namespace imgsearchd::detail
