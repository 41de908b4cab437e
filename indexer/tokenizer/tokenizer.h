// CLIP's byte-level BPE tokenizer: text -> token ids identical to OpenAI's
// simple_tokenizer.py (the reference every CLIP checkpoint was trained with).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/core/errors.h"

namespace imgsearchd {

// The vocabulary is missing or malformed (the tokenizer is unavailable), or a
// caller asked for an impossible context length (invalid input).
class TokenizerError : public Error {
 public:
  explicit TokenizerError(const std::string& message, ErrorKind kind = ErrorKind::unavailable)
      : Error(kind, message) {}
};

class ClipTokenizer {
 public:
  static constexpr int32_t kStartOfText = 49406;
  static constexpr int32_t kEndOfText = 49407;

  // Reads the BPE merges file (bpe_simple_vocab_16e6.txt.gz).
  // Throws TokenizerError naming the file if it is missing or malformed.
  explicit ClipTokenizer(const std::filesystem::path& bpe_merges_gz);
  ~ClipTokenizer();
  ClipTokenizer(const ClipTokenizer&) = delete;
  ClipTokenizer& operator=(const ClipTokenizer&) = delete;

  // Text -> BPE ids without start/end markers, as the reference's encode():
  // the text is cleaned first (ftfy's fixes except mojibake repair, HTML
  // entities unescaped, white space collapsed, lower-cased). Ill-formed UTF-8
  // becomes U+FFFD. Safe to call from several threads at once.
  std::vector<int32_t> encode(std::string_view utf8_text) const;

  // [start, ids..., end] padded with 0 to context_length. Over-long text is
  // truncated so that the last token is always end-of-text (clip.tokenize
  // with truncate=True). Throws TokenizerError if context_length < 2.
  std::vector<int32_t> tokenize(std::string_view utf8_text, int context_length = 77) const;

  // The vocabulary file shipped with imgsearchd: $IMGSEARCHD_DATA_DIR, the
  // installed share folder, then the source tree's data/ folder. Throws
  // TokenizerError listing the places it looked if none holds the file.
  static std::filesystem::path default_vocabulary_path();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imgsearchd
