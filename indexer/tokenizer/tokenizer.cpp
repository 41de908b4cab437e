// CLIP's tokenizer, reproducing OpenAI CLIP's simple_tokenizer.py (MIT):
// clean the text (text_cleaning.h), split it into words with CLIP's regular
// expression, map each word's UTF-8 bytes to the BPE alphabet and apply the
// merges. The merges are applied with a priority queue, so a word of n bytes
// costs O(n log n) rather than the reference's O(n^2); the result is the same
// because every occurrence of the best-ranked pair is merged, left to right,
// before any other pair, exactly as the reference does.

#include "indexer/tokenizer/tokenizer.h"

#include <unicode/uchar.h>
#include <unicode/utf8.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <queue>
#include <unordered_map>
#include <utility>

#include "indexer/tokenizer/text_cleaning.h"

namespace imgsearchd {
namespace {

namespace fs = std::filesystem;

constexpr const char* kVocabularyFileName = "bpe_simple_vocab_16e6.txt.gz";
constexpr const char* kStartOfTextString = "<|startoftext|>";
constexpr const char* kEndOfTextString = "<|endoftext|>";
// simple_tokenizer.py uses lines 1 .. 49152-256-2 of the merges file.
constexpr size_t kMergeCount = 49152 - 256 - 2;
constexpr size_t kMaxCachedWords = 100000;
constexpr size_t kMaxCachedWordBytes = 256;

[[noreturn]] void throw_vocabulary_error(const fs::path& path, const std::string& problem) {
  throw TokenizerError("CLIP BPE vocabulary " + path.string() + ": " + problem);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_vocabulary_error(path, std::string("cannot open it: ") + std::strerror(errno));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw_vocabulary_error(path, "cannot read it");
  return data;
}

std::string gunzip(const fs::path& path, const std::string& compressed) {
  if (compressed.size() < 2 || static_cast<uint8_t>(compressed[0]) != 0x1F ||
      static_cast<uint8_t>(compressed[1]) != 0x8B) {
    throw_vocabulary_error(path, "not a gzip file (expected the gzip-compressed merges list " +
                                     std::string(kVocabularyFileName) + ")");
  }
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) throw_vocabulary_error(path, "zlib failed to start");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string text;
  std::array<char, 1 << 16> buffer;
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer.data());
    stream.avail_out = static_cast<uInt>(buffer.size());
    status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) {
      std::string reason = status == Z_BUF_ERROR ? "the compressed data ends too early"
                                                 : (stream.msg ? stream.msg : "zlib error " + std::to_string(status));
      inflateEnd(&stream);
      throw_vocabulary_error(path, "corrupt gzip data: " + reason);
    }
    text.append(buffer.data(), buffer.size() - stream.avail_out);
  }
  inflateEnd(&stream);
  return text;
}

bool is_valid_utf8(const std::string& text) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  const auto length = static_cast<int32_t>(text.size());
  int32_t i = 0;
  while (i < length) {
    UChar32 c;
    U8_NEXT(bytes, i, length, c);
    if (c < 0) return false;
  }
  return true;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return lines;
    start = end + 1;
  }
}

// The reference splits merge lines with str.split(); the symbols are made of
// non-space characters, so splitting at ASCII white space is the same for
// any file that is not broken in other ways.
bool is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f'); }

std::vector<std::string_view> split_on_spaces(std::string_view line) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_ascii_space(line[i])) ++i;
    const size_t start = i;
    while (i < line.size() && !is_ascii_space(line[i])) ++i;
    if (i > start) parts.push_back(line.substr(start, i - start));
  }
  return parts;
}

// bytes_to_unicode(): the printable byte values stand for themselves, the
// others for U+0100 onwards. Returns each byte's character as UTF-8, in the
// order the reference lists them (which fixes their ids).
std::vector<std::pair<uint8_t, std::string>> byte_alphabet() {
  std::vector<int> printable;
  for (int b = '!'; b <= '~'; ++b) printable.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) printable.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) printable.push_back(b);
  std::vector<std::pair<uint8_t, std::string>> alphabet;
  for (int b : printable) alphabet.emplace_back(b, detail::code_points_to_utf8(std::u32string(1, char32_t(b))));
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    if (std::find(printable.begin(), printable.end(), b) == printable.end()) {
      alphabet.emplace_back(b, detail::code_points_to_utf8(std::u32string(1, char32_t(256 + extra++))));
    }
  }
  return alphabet;
}

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// --- splitting cleaned text into words ---------------------------------------
// CLIP's pattern, matched with the regex module and IGNORECASE:
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// On lower-cased text IGNORECASE matters in two places only, both checked
// against the regex module for every code point: 's' also matches U+017F
// (long s), and U+0345 (combining ypogegrammeni, which folds to a Greek
// letter) matches none of the classes, so it is skipped like a space.

constexpr char32_t kLongS = 0x017F;
constexpr char32_t kYpogegrammeni = 0x0345;

bool is_letter(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_L_MASK) != 0; }
bool is_number(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_N_MASK) != 0; }
bool is_other(char32_t c) {
  return !detail::is_regex_space(c) && !is_letter(c) && !is_number(c) && c != kYpogegrammeni;
}

// Length of `literal` (ASCII, lower case) at text[pos], case-insensitively as
// the regex module sees lower-cased text; 0 if it does not match.
size_t match_literal(std::u32string_view text, size_t pos, std::string_view literal) {
  if (text.size() - pos < literal.size()) return 0;
  for (size_t i = 0; i < literal.size(); ++i) {
    const char32_t c = text[pos + i];
    const char32_t want = static_cast<unsigned char>(literal[i]);
    if (c != want && !(want == U's' && c == kLongS)) return 0;
  }
  return literal.size();
}

std::vector<std::u32string_view> split_words(std::u32string_view text) {
  static constexpr std::string_view kLiterals[] = {
      "<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
  std::vector<std::u32string_view> words;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length = 0;
    for (std::string_view literal : kLiterals) {
      if ((length = match_literal(text, pos, literal)) != 0) break;
    }
    if (length == 0) {
      const char32_t c = text[pos];
      if (is_letter(c)) {
        while (pos + length < text.size() && is_letter(text[pos + length])) ++length;
      } else if (is_number(c)) {
        length = 1;
      } else if (is_other(c)) {
        while (pos + length < text.size() && is_other(text[pos + length])) ++length;
      }
    }
    if (length == 0) {  // white space (or U+0345): not part of any word
      ++pos;
      continue;
    }
    words.push_back(text.substr(pos, length));
    pos += length;
  }
  return words;
}

}  // namespace

struct ClipTokenizer::Impl {
  // Ids of each byte as a word's inner symbol and as its last symbol ("</w>").
  std::array<int32_t, 256> byte_id{};
  std::array<int32_t, 256> final_byte_id{};
  // (left id, right id) -> rank of that merge; per rank, the pair and result.
  std::unordered_map<uint64_t, int32_t> merge_rank;
  std::vector<std::pair<int32_t, int32_t>> merge_pair;
  std::vector<int32_t> merge_result;

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  void load(const fs::path& path);
  std::vector<int32_t> bpe(std::string_view word) const;
  std::vector<int32_t> bpe_cached(const std::string& word) const;
  int32_t rank_of(int32_t left, int32_t right) const {
    auto it = merge_rank.find(pair_key(left, right));
    return it == merge_rank.end() ? -1 : it->second;
  }
};

void ClipTokenizer::Impl::load(const fs::path& path) {
  const std::string text = gunzip(path, read_file(path));
  if (!is_valid_utf8(text)) throw_vocabulary_error(path, "the merges list is not valid UTF-8");
  const std::vector<std::string_view> lines = split_lines(text);
  if (lines.size() < kMergeCount + 1) {
    throw_vocabulary_error(path, "expected a header line and at least " + std::to_string(kMergeCount) +
                                     " merges, found " + std::to_string(lines.size()) + " lines");
  }
  std::vector<std::pair<std::string_view, std::string_view>> merges;
  merges.reserve(kMergeCount);
  for (size_t i = 1; i <= kMergeCount; ++i) {
    const std::vector<std::string_view> parts = split_on_spaces(lines[i]);
    if (parts.size() != 2) {
      throw_vocabulary_error(path, "line " + std::to_string(i + 1) +
                                       " should be two symbols separated by a space, found \"" +
                                       std::string(lines[i].substr(0, 80)) + "\"");
    }
    merges.emplace_back(parts[0], parts[1]);
  }

  // The vocabulary in id order, as the reference builds it: the byte
  // alphabet, the same with "</w>", each merge's result, the two markers.
  std::vector<std::string> vocabulary;
  const auto alphabet = byte_alphabet();
  for (const auto& entry : alphabet) vocabulary.push_back(entry.second);
  for (const auto& entry : alphabet) vocabulary.push_back(entry.second + "</w>");
  for (const auto& merge : merges) vocabulary.push_back(std::string(merge.first) + std::string(merge.second));
  vocabulary.emplace_back(kStartOfTextString);
  vocabulary.emplace_back(kEndOfTextString);
  std::unordered_map<std::string_view, int32_t> encoder;
  for (size_t id = 0; id < vocabulary.size(); ++id) encoder[vocabulary[id]] = static_cast<int32_t>(id);

  for (const auto& [byte, character] : alphabet) {
    byte_id[byte] = encoder.at(character);
    final_byte_id[byte] = encoder.at(character + "</w>");
  }
  merge_pair.assign(merges.size(), {-1, -1});
  merge_result.assign(merges.size(), -1);
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    auto left = encoder.find(merges[rank].first);
    auto right = encoder.find(merges[rank].second);
    // A merge of symbols that no word can contain never applies.
    if (left == encoder.end() || right == encoder.end()) continue;
    merge_rank[pair_key(left->second, right->second)] = static_cast<int32_t>(rank);
    merge_pair[rank] = {left->second, right->second};
    merge_result[rank] = encoder.at(vocabulary[2 * alphabet.size() + rank]);
  }
  if (encoder.at(kStartOfTextString) != kStartOfText || encoder.at(kEndOfTextString) != kEndOfText) {
    throw_vocabulary_error(path, "the start and end markers do not get CLIP's ids 49406 and 49407");
  }
}

std::vector<int32_t> ClipTokenizer::Impl::bpe(std::string_view word) const {
  // The word as a linked list of symbols; merging keeps the left position.
  const auto n = static_cast<int32_t>(word.size());
  if (n == 0) return {};
  std::vector<int32_t> symbol(n), next(n), prev(n);
  std::vector<bool> alive(n, true);
  for (int32_t i = 0; i < n; ++i) {
    const auto byte = static_cast<uint8_t>(word[i]);
    symbol[i] = i == n - 1 ? final_byte_id[byte] : byte_id[byte];
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  using Candidate = std::pair<int32_t, int32_t>;  // (rank, left position)
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto push_pair = [&](int32_t left) {
    if (left < 0 || next[left] < 0) return;
    const int32_t rank = rank_of(symbol[left], symbol[next[left]]);
    if (rank >= 0) queue.emplace(rank, left);
  };
  for (int32_t i = 0; i + 1 < n; ++i) push_pair(i);

  std::vector<int32_t> positions;
  std::vector<int32_t> merged;
  while (!queue.empty()) {
    // Every occurrence of the best pair, left to right (the queue orders
    // equal ranks by position). Stale entries no longer hold the pair.
    const int32_t rank = queue.top().first;
    positions.clear();
    while (!queue.empty() && queue.top().first == rank) {
      positions.push_back(queue.top().second);
      queue.pop();
    }
    const auto [left_id, right_id] = merge_pair[rank];
    merged.clear();
    for (int32_t pos : positions) {
      if (!alive[pos] || next[pos] < 0) continue;
      const int32_t right = next[pos];
      if (symbol[pos] != left_id || symbol[right] != right_id) continue;
      symbol[pos] = merge_result[rank];
      alive[right] = false;
      next[pos] = next[right];
      if (next[right] >= 0) prev[next[right]] = pos;
      merged.push_back(pos);
    }
    // New neighbours never form the pair just merged (its result is longer
    // than either half), so they can wait until this rank is done.
    for (int32_t pos : merged) {
      if (!alive[pos]) continue;
      push_pair(prev[pos]);
      push_pair(pos);
    }
  }
  std::vector<int32_t> ids;
  for (int32_t i = 0; i >= 0; i = next[i]) ids.push_back(symbol[i]);
  return ids;
}

std::vector<int32_t> ClipTokenizer::Impl::bpe_cached(const std::string& word) const {
  if (word == kStartOfTextString) return {kStartOfText};
  if (word == kEndOfTextString) return {kEndOfText};
  if (word.size() > kMaxCachedWordBytes) return bpe(word);
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    auto it = cache.find(word);
    if (it != cache.end()) return it->second;
  }
  std::vector<int32_t> ids = bpe(word);
  std::lock_guard<std::mutex> lock(cache_mutex);
  if (cache.size() >= kMaxCachedWords) cache.clear();  // bounded memory; hits come back quickly
  cache.emplace(word, ids);
  return ids;
}

ClipTokenizer::ClipTokenizer(const fs::path& bpe_merges_gz) : impl_(std::make_unique<Impl>()) {
  impl_->load(bpe_merges_gz);
}

ClipTokenizer::~ClipTokenizer() = default;

std::vector<int32_t> ClipTokenizer::encode(std::string_view utf8_text) const {
  const std::u32string text = detail::clip_clean_text(detail::utf8_to_code_points(utf8_text));
  std::vector<int32_t> ids;
  for (std::u32string_view word : split_words(text)) {
    const std::vector<int32_t> word_ids = impl_->bpe_cached(detail::code_points_to_utf8(word));
    ids.insert(ids.end(), word_ids.begin(), word_ids.end());
  }
  return ids;
}

std::vector<int32_t> ClipTokenizer::tokenize(std::string_view utf8_text, int context_length) const {
  if (context_length < 2) {
    throw TokenizerError("context length must be at least 2 (room for the start and end markers), got " +
                         std::to_string(context_length),
                         ErrorKind::invalid_input);
  }
  std::vector<int32_t> tokens;
  tokens.reserve(static_cast<size_t>(context_length));
  tokens.push_back(kStartOfText);
  const std::vector<int32_t> ids = encode(utf8_text);
  tokens.insert(tokens.end(), ids.begin(), ids.end());
  tokens.push_back(kEndOfText);
  if (tokens.size() > static_cast<size_t>(context_length)) {
    tokens.resize(static_cast<size_t>(context_length));
    tokens.back() = kEndOfText;
  }
  tokens.resize(static_cast<size_t>(context_length), 0);
  return tokens;
}

fs::path ClipTokenizer::default_vocabulary_path() {
  std::vector<fs::path> folders;
  if (const char* data_dir = std::getenv("IMGSEARCHD_DATA_DIR"); data_dir != nullptr && *data_dir != '\0') {
    folders.emplace_back(data_dir);
  }
  folders.emplace_back(IMGSEARCHD_DATA_INSTALL_DIR);
  folders.emplace_back(IMGSEARCHD_SOURCE_DATA_DIR);
  std::string looked;
  for (const fs::path& folder : folders) {
    const fs::path candidate = folder / kVocabularyFileName;
    std::error_code error;
    if (fs::is_regular_file(candidate, error)) return candidate;
    looked += "\n  " + candidate.string();
  }
  throw TokenizerError(std::string("CLIP BPE vocabulary ") + kVocabularyFileName +
                       " not found; looked in (set IMGSEARCHD_DATA_DIR to the folder that holds it):" + looked);
}

}  // namespace imgsearchd
