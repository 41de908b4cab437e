// ClipTokenizer: CLIP's known ids, truncation, bad vocabulary files, where the
// vocabulary is found, concurrent use.

#include "indexer/tokenizer/tokenizer.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "reference_runner.h"

namespace imgsearchd {
namespace {

namespace fs = std::filesystem;

std::vector<int32_t> padded(std::vector<int32_t> ids, size_t length = 77) {
  ids.resize(length, 0);
  return ids;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

void write_gzip(const fs::path& path, const std::string& text) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
  ASSERT_EQ(gzclose(file), Z_OK);
}

std::string real_merges_text() {
  gzFile file = gzopen(test::vocabulary_path().c_str(), "rb");
  EXPECT_NE(file, nullptr);
  std::string text;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  gzclose(file);
  return text;
}

fs::path scratch(const std::string& name) {
  const fs::path dir = test::tokenizer_work_dir() / "vocabularies";
  fs::create_directories(dir);
  return dir / name;
}

void expect_vocabulary_error(const fs::path& path, const std::string& expected_words) {
  try {
    ClipTokenizer tokenizer(path);
    ADD_FAILURE() << "no TokenizerError for " << path;
  } catch (const TokenizerError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << "message does not name the file: " << message;
    EXPECT_NE(message.find(expected_words), std::string::npos) << "message: " << message;
  }
}

TEST(Tokenizer, KnownClipIds) {
  const ClipTokenizer tokenizer(test::vocabulary_path());
  EXPECT_EQ(tokenizer.tokenize("a diagram"), padded({49406, 320, 22697, 49407}));
  EXPECT_EQ(tokenizer.encode("a dog"), (std::vector<int32_t>{320, 1929}));
  EXPECT_EQ(tokenizer.encode("A CAT"), (std::vector<int32_t>{320, 2368}));
  EXPECT_EQ(tokenizer.encode(""), std::vector<int32_t>{});
  EXPECT_EQ(tokenizer.tokenize(""), padded({49406, 49407}));
}

TEST(Tokenizer, ContextLengthIsRespected) {
  const ClipTokenizer tokenizer(test::vocabulary_path());
  EXPECT_EQ(tokenizer.tokenize("a diagram", 4), (std::vector<int32_t>{49406, 320, 22697, 49407}));
  EXPECT_EQ(tokenizer.tokenize("a diagram", 3), (std::vector<int32_t>{49406, 320, 49407}));
  EXPECT_EQ(tokenizer.tokenize("a diagram", 2), (std::vector<int32_t>{49406, 49407}));
  EXPECT_EQ(tokenizer.tokenize("a diagram", 10).size(), 10u);
  EXPECT_THROW(tokenizer.tokenize("a diagram", 1), TokenizerError);
}

TEST(Tokenizer, OverLongTextKeepsEndOfText) {
  const ClipTokenizer tokenizer(test::vocabulary_path());
  std::string text;
  for (int i = 0; i < 300; ++i) text += "word" + std::to_string(i % 10) + " ";
  const std::vector<int32_t> tokens = tokenizer.tokenize(text);
  ASSERT_EQ(tokens.size(), 77u);
  EXPECT_EQ(tokens.front(), ClipTokenizer::kStartOfText);
  EXPECT_EQ(tokens.back(), ClipTokenizer::kEndOfText);
  for (size_t i = 1; i + 1 < tokens.size(); ++i) {
    EXPECT_NE(tokens[i], 0) << "padding inside truncated text at " << i;
    EXPECT_NE(tokens[i], ClipTokenizer::kEndOfText) << "end-of-text before the end at " << i;
  }
}

TEST(Tokenizer, IllFormedUtf8BecomesReplacementCharacter) {
  const ClipTokenizer tokenizer(test::vocabulary_path());
  const std::string replacement = "\xEF\xBF\xBD";
  EXPECT_EQ(tokenizer.encode("a\xFF" "b"), tokenizer.encode("a" + replacement + "b"));
  EXPECT_EQ(tokenizer.encode("cat\xE2\x82"), tokenizer.encode("cat" + replacement));
  EXPECT_EQ(tokenizer.encode("\xF0\x80\x80 x"), tokenizer.encode(replacement + replacement + replacement + " x"));
  EXPECT_NE(tokenizer.encode("a\xFF" "b"), tokenizer.encode("ab"));
}

TEST(Tokenizer, MissingVocabularyFileIsNamed) {
  expect_vocabulary_error(scratch("does-not-exist.txt.gz"), "cannot open");
}

TEST(Tokenizer, UncompressedVocabularyFileIsRejected) {
  const fs::path path = scratch("plain.txt.gz");
  write_bytes(path, real_merges_text());
  expect_vocabulary_error(path, "not a gzip file");
}

TEST(Tokenizer, TruncatedVocabularyFileIsRejected) {
  const std::string bytes = read_bytes(test::vocabulary_path());
  const fs::path path = scratch("truncated.txt.gz");
  write_bytes(path, bytes.substr(0, bytes.size() / 2));
  expect_vocabulary_error(path, "corrupt gzip data");
}

TEST(Tokenizer, GarbledVocabularyFileIsRejected) {
  std::string bytes = read_bytes(test::vocabulary_path());
  for (size_t i = 20; i < 2000; ++i) bytes[i] = static_cast<char>(bytes[i] ^ 0x5A);
  const fs::path path = scratch("garbled.txt.gz");
  write_bytes(path, bytes);
  expect_vocabulary_error(path, "corrupt gzip data");
}

TEST(Tokenizer, VocabularyWithTooFewMergesIsRejected) {
  const fs::path path = scratch("short.txt.gz");
  write_gzip(path, "#version: 0.2\ni n\nt h\n");
  expect_vocabulary_error(path, "48894 merges");
}

TEST(Tokenizer, VocabularyWithMalformedLineIsRejected) {
  std::string text = real_merges_text();
  // Line 6 (the fifth merge) gets a third symbol.
  size_t pos = 0;
  for (int line = 1; line < 6; ++line) pos = text.find('\n', pos) + 1;
  text.insert(text.find('\n', pos), " extra");
  const fs::path path = scratch("three-symbols.txt.gz");
  write_gzip(path, text);
  expect_vocabulary_error(path, "line 6");
}

TEST(Tokenizer, VocabularyThatIsNotUtf8IsRejected) {
  std::string text = real_merges_text();
  text[text.find('\n') + 1] = '\xFF';
  const fs::path path = scratch("latin1.txt.gz");
  write_gzip(path, text);
  expect_vocabulary_error(path, "not valid UTF-8");
}

TEST(Tokenizer, DefaultVocabularyPathHonoursDataDir) {
  const fs::path dir = scratch("data-dir");
  fs::create_directories(dir);
  fs::copy_file(test::vocabulary_path(), dir / "bpe_simple_vocab_16e6.txt.gz", fs::copy_options::overwrite_existing);
  ASSERT_EQ(setenv("IMGSEARCHD_DATA_DIR", dir.c_str(), 1), 0);
  EXPECT_EQ(ClipTokenizer::default_vocabulary_path(), dir / "bpe_simple_vocab_16e6.txt.gz");

  // A data dir without the file: the installed or source copy is used.
  const fs::path empty = scratch("empty-data-dir");
  fs::create_directories(empty);
  ASSERT_EQ(setenv("IMGSEARCHD_DATA_DIR", empty.c_str(), 1), 0);
  const fs::path fallback = ClipTokenizer::default_vocabulary_path();
  EXPECT_TRUE(fs::is_regular_file(fallback)) << fallback;
  EXPECT_EQ(fallback.filename(), "bpe_simple_vocab_16e6.txt.gz");
  EXPECT_NE(fallback.parent_path(), empty);
  unsetenv("IMGSEARCHD_DATA_DIR");

  const ClipTokenizer tokenizer(ClipTokenizer::default_vocabulary_path());
  EXPECT_EQ(tokenizer.tokenize("a diagram"), padded({49406, 320, 22697, 49407}));
}

TEST(Tokenizer, ConcurrentUseGivesTheSameIds) {
  const ClipTokenizer tokenizer(test::vocabulary_path());
  const std::vector<std::string> texts = {
      "a red bicycle at night", "Straße in München", "日本語のテキスト", "&amp; ﬁsh", "cats and dogs",
      "supercalifragilisticexpialidocious", "ΟΔΟΣ", "😀👍🏽", "over and over and over again"};
  std::vector<std::vector<int32_t>> expected;
  {
    const ClipTokenizer fresh(test::vocabulary_path());
    for (const std::string& text : texts) expected.push_back(fresh.tokenize(text));
  }
  std::vector<std::thread> threads;
  std::vector<int> mismatches(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          if (tokenizer.tokenize(texts[(i + t) % texts.size()]) != expected[(i + t) % texts.size()]) ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace imgsearchd
