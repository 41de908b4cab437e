// Internal to the tokenizer: the two HTML unescapers CLIP's text cleaning runs,
// reproduced exactly. Text is handled as code points (UTF-32) because both
// reference implementations count and compare code points.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace imgsearchd::detail {

// Python 3.11's html.unescape: every HTML5 named reference (also the legacy
// ones without ';', also as the longest prefix of an unknown name), decimal
// and hexadecimal references with their replacements for forbidden code points.
std::u32string python_html_unescape(std::u32string_view text);

// ftfy 6's fixes.unescape_html: only references ending in ';' (at most 24
// letters or digits), plus upper-cased names such as "&EACUTE;".
std::u32string ftfy_unescape_html(std::u32string_view text);

// The HTML5 entity names (as written after '&') and ftfy's upper-case ones,
// for tests that compare every entity with Python.
std::vector<std::string_view> html5_entity_names();
std::vector<std::string_view> ftfy_uppercase_entity_names();

}  // namespace imgsearchd::detail
