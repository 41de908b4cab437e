// CLIP's text cleaning (ftfy subset, html.unescape, whitespace, lower-case).
// Python-specific rules are reproduced by hand because no library offers
// them; Unicode data (categories, normalisation, case mapping) comes from ICU.

#include "indexer/tokenizer/text_cleaning.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>

#include "indexer/tokenizer/html_unescape.h"
#include "store/core/errors.h"

namespace imgsearchd::detail {
namespace {

icu::UnicodeString to_icu(std::u32string_view text) {
  icu::UnicodeString out;
  for (char32_t c : text) out.append(static_cast<UChar32>(c));
  return out;
}

std::u32string from_icu(const icu::UnicodeString& text) {
  std::u32string out;
  out.reserve(static_cast<size_t>(text.length()));
  for (int32_t i = 0; i < text.length();) {
    const UChar32 c = text.char32At(i);
    out += static_cast<char32_t>(c);
    i += U16_LENGTH(c);
  }
  return out;
}

const icu::Normalizer2& normalizer(bool compatibility) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* instance =
      compatibility ? icu::Normalizer2::getNFKCInstance(status) : icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status) || instance == nullptr) {
    throw Unavailable(std::string("ICU normalizer unavailable: ") + u_errorName(status));
  }
  return *instance;
}

std::u32string normalize(std::u32string_view text, bool compatibility) {
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString normalized = normalizer(compatibility).normalize(to_icu(text), status);
  if (U_FAILURE(status)) {
    throw InternalError(std::string("ICU normalization failed: ") + u_errorName(status));
  }
  return from_icu(normalized);
}

// --- ftfy 6.3 fixers, in the order fix_and_explain applies them -------------

// fix_c1_controls: U+0080..U+009F read as Windows-1252 bytes, the five bytes
// Windows-1252 leaves undefined kept as they are (ftfy's sloppy-windows-1252).
constexpr std::array<char32_t, 32> kWindows1252C1 = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,  // 80-87
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,  // 88-8F
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,  // 90-97
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,  // 98-9F
};

std::u32string fix_c1_controls(std::u32string text) {
  for (char32_t& c : text) {
    if (c >= 0x80 && c <= 0x9F) c = kWindows1252C1[c - 0x80];
  }
  return text;
}

// fix_latin_ligatures: ftfy's LIGATURES table.
std::u32string_view latin_ligature(char32_t c) {
  switch (c) {
    case U'Ĳ': return U"IJ";
    case U'ĳ': return U"ij";
    case U'ŉ': return U"ʼn";
    case U'Ǳ': return U"DZ";
    case U'ǲ': return U"Dz";
    case U'ǳ': return U"dz";
    case U'Ǆ': return U"DŽ";
    case U'ǅ': return U"Dž";
    case U'ǆ': return U"dž";
    case U'Ǉ': return U"LJ";
    case U'ǈ': return U"Lj";
    case U'ǉ': return U"lj";
    case U'Ǌ': return U"NJ";
    case U'ǋ': return U"Nj";
    case U'ǌ': return U"nj";
    case U'ﬀ': return U"ff";
    case U'ﬁ': return U"fi";
    case U'ﬂ': return U"fl";
    case U'ﬃ': return U"ffi";
    case U'ﬄ': return U"ffl";
    case U'ﬅ': return U"ſt";
    case U'ﬆ': return U"st";
    default: return {};
  }
}

std::u32string fix_latin_ligatures(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    std::u32string_view letters = latin_ligature(c);
    if (letters.empty()) {
      out += c;
    } else {
      out += letters;
    }
  }
  return out;
}

// fix_character_width: U+3000 becomes a space, U+FF01..U+FFEF their NFKC form.
constexpr char32_t kWidthFormsFirst = 0xFF01;
constexpr char32_t kWidthFormsLast = 0xFFEF;

const std::array<std::u32string, kWidthFormsLast - kWidthFormsFirst + 1>& width_map() {
  static const auto map = [] {
    std::array<std::u32string, kWidthFormsLast - kWidthFormsFirst + 1> m;
    for (char32_t c = kWidthFormsFirst; c <= kWidthFormsLast; ++c) {
      std::u32string alternate = normalize(std::u32string(1, c), /*compatibility=*/true);
      if (alternate != std::u32string(1, c)) m[c - kWidthFormsFirst] = alternate;
    }
    return m;
  }();
  return map;
}

std::u32string fix_character_width(std::u32string_view text) {
  const auto& map = width_map();
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c == 0x3000) {
      out += U' ';
    } else if (c >= kWidthFormsFirst && c <= kWidthFormsLast && !map[c - kWidthFormsFirst].empty()) {
      out += map[c - kWidthFormsFirst];
    } else {
      out += c;
    }
  }
  return out;
}

// uncurl_quotes: [\u02bc\u2018-\u201b] -> ' and [\u201c-\u201f] -> ".
std::u32string uncurl_quotes(std::u32string text) {
  for (char32_t& c : text) {
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) {
      c = U'\'';
    } else if (c >= 0x201C && c <= 0x201F) {
      c = U'"';
    }
  }
  return text;
}

// fix_line_breaks: CRLF, CR, U+2028, U+2029 and U+0085 become LF.
std::u32string fix_line_breaks(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c == U'\r' && i + 1 < text.size() && text[i + 1] == U'\n') {
      out += U'\n';
      ++i;
    } else if (c == U'\r' || c == 0x2028 || c == 0x2029 || c == 0x0085) {
      out += U'\n';
    } else {
      out += c;
    }
  }
  return out;
}

// (fix_surrogates has nothing to do: decoded UTF-8 holds no surrogates.)

bool is_python_re_digit(char32_t c) { return u_charType(static_cast<UChar32>(c)) == U_DECIMAL_DIGIT_NUMBER; }

bool is_ascii_letter(char32_t c) { return (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z'); }

// remove_terminal_escapes: "\033\[((?:\d|;)*)([a-zA-Z])" removed.
std::u32string remove_terminal_escapes(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == 0x1B && i + 1 < text.size() && text[i + 1] == U'[') {
      size_t end = i + 2;
      while (end < text.size() && (is_python_re_digit(text[end]) || text[end] == U';')) ++end;
      if (end < text.size() && is_ascii_letter(text[end])) {
        i = end + 1;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

// remove_control_chars: ftfy's CONTROL_CHARS.
bool is_removed_control_char(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
         c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

std::u32string remove_control_chars(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (!is_removed_control_char(c)) out += c;
  }
  return out;
}

template <typename Predicate>
bool contains_any(std::u32string_view text, Predicate predicate) {
  return std::any_of(text.begin(), text.end(), predicate);
}

bool is_c1_control(char32_t c) { return c >= 0x80 && c <= 0x9F; }
bool is_width_form(char32_t c) { return c == 0x3000 || (c >= kWidthFormsFirst && c <= kWidthFormsLast); }
bool is_curly_quote(char32_t c) { return c == 0x02BC || (c >= 0x2018 && c <= 0x201F); }
bool is_line_break(char32_t c) { return c == U'\r' || c == 0x2028 || c == 0x2029 || c == 0x0085; }
// Below U+0300 no character composes with what precedes it, so such text is
// already in NFC (which saves the conversion to ICU for most queries).
bool may_need_nfc(char32_t c) { return c >= 0x300; }

// ftfy.fix_and_explain for one segment: all fixers until nothing changes.
// Each fixer is skipped when the text holds nothing it would change.
std::u32string fix_segment(std::u32string text, bool unescape_html) {
  while (true) {
    const std::u32string original = text;
    if (unescape_html && text.find(U'&') != std::u32string::npos) text = ftfy_unescape_html(text);
    // ftfy's fix_encoding (mojibake repair) would run here: not reproduced.
    if (contains_any(text, is_c1_control)) text = fix_c1_controls(std::move(text));
    if (contains_any(text, [](char32_t c) { return !latin_ligature(c).empty(); })) text = fix_latin_ligatures(text);
    if (contains_any(text, is_width_form)) text = fix_character_width(text);
    if (contains_any(text, is_curly_quote)) text = uncurl_quotes(std::move(text));
    if (contains_any(text, is_line_break)) text = fix_line_breaks(text);
    if (text.find(0x1B) != std::u32string::npos) text = remove_terminal_escapes(text);
    if (contains_any(text, is_removed_control_char)) text = remove_control_chars(text);
    if (contains_any(text, may_need_nfc)) text = normalize(text, /*compatibility=*/false);
    if (text == original) return text;
  }
}

// str.strip() with no argument.
std::u32string_view python_strip(std::u32string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && is_python_space(text[begin])) ++begin;
  while (end > begin && is_python_space(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

// regex.sub(r'\s+', ' ', text)
std::u32string collapse_whitespace(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  bool in_space = false;
  for (char32_t c : text) {
    if (is_regex_space(c)) {
      if (!in_space) out += U' ';
      in_space = true;
    } else {
      out += c;
      in_space = false;
    }
  }
  return out;
}

// str.lower(): full Unicode lower-casing, final sigma included, no locale.
std::u32string python_lower(std::u32string_view text) {
  icu::UnicodeString s = to_icu(text);
  s.toLower(icu::Locale::getRoot());
  return from_icu(s);
}

}  // namespace

bool is_regex_space(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }

bool is_python_space(char32_t c) { return is_regex_space(c) || (c >= 0x1C && c <= 0x1F); }

std::u32string utf8_to_code_points(std::string_view utf8) {
  std::u32string out;
  out.reserve(utf8.size());
  const auto* bytes = reinterpret_cast<const uint8_t*>(utf8.data());
  const auto length = static_cast<int32_t>(utf8.size());
  int32_t i = 0;
  while (i < length) {
    UChar32 c;
    U8_NEXT_OR_FFFD(bytes, i, length, c);
    out += static_cast<char32_t>(c);
  }
  return out;
}

std::string code_points_to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    uint8_t buffer[U8_MAX_LENGTH];
    int32_t length = 0;
    U8_APPEND_UNSAFE(buffer, length, static_cast<UChar32>(c));
    out.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(length));
  }
  return out;
}

std::u32string ftfy_fix_text(std::u32string_view text) {
  // ftfy works line by line (and at most max_decode_length code points at a
  // time); once a segment contains '<', HTML entities stay as they are in it
  // and in every later segment ("auto" mode).
  constexpr size_t kMaxDecodeLength = 1000000;
  bool unescape_html = true;
  std::u32string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t newline = text.find(U'\n', pos);
    size_t end = newline == std::u32string_view::npos ? text.size() : newline + 1;
    if (end - pos > kMaxDecodeLength) end = pos + kMaxDecodeLength;
    const std::u32string_view segment = text.substr(pos, end - pos);
    if (segment.find(U'<') != std::u32string_view::npos) unescape_html = false;
    out += fix_segment(std::u32string(segment), unescape_html);
    pos = end;
  }
  return out;
}

std::u32string clip_clean_text(std::u32string_view text) {
  // basic_clean
  std::u32string cleaned = ftfy_fix_text(text);
  cleaned = python_html_unescape(python_html_unescape(cleaned));
  cleaned = std::u32string(python_strip(cleaned));
  // whitespace_clean
  cleaned = std::u32string(python_strip(collapse_whitespace(cleaned)));
  return python_lower(cleaned);
}

}  // namespace imgsearchd::detail
