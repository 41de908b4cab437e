// An LRU cache of text embeddings, so a repeated text query (the page asking
// again, a script polling) costs no model time. Keyed by the model and the
// text in a normalised form: ASCII white space collapsed and trimmed, ASCII
// letters lower-cased. The tokenizer does all of that itself before it splits
// words, so two texts with the same key always have the same embedding.
// Immich keeps 100 text embeddings; so does this by default.
//
// Threads: every method may be called from many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace imgsearchd {

// The cache key of a text: see above.
std::string normalise_query_text(const std::string& text);

class TextEmbeddingCache {
 public:
  explicit TextEmbeddingCache(size_t capacity = 100);

  // The embedding cached for (model, normalised text), made most recent.
  std::optional<std::vector<float>> find(int64_t model, const std::string& text);
  // Caches an embedding, dropping the least recently used one beyond capacity.
  void put(int64_t model, const std::string& text, std::vector<float> embedding);

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    size_t size = 0;
  };
  Stats stats() const;

 private:
  using Key = std::pair<int64_t, std::string>;
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  using Entries = std::list<std::pair<Key, std::vector<float>>>;

  const size_t capacity_;
  mutable std::mutex mutex_;
  Entries entries_;  // most recently used first
  std::unordered_map<Key, Entries::iterator, KeyHash> by_key_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace imgsearchd
