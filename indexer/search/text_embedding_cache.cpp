#include "indexer/search/text_embedding_cache.h"

#include <functional>

namespace imgsearchd {

namespace {
bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
}  // namespace

std::string normalise_query_text(const std::string& text) {
  std::string key;
  key.reserve(text.size());
  bool pending_space = false;
  for (char c : text) {
    if (is_ascii_space(c)) {
      pending_space = !key.empty();
      continue;
    }
    if (pending_space) key.push_back(' ');
    pending_space = false;
    key.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return key;
}

size_t TextEmbeddingCache::KeyHash::operator()(const Key& key) const {
  return std::hash<std::string>()(key.second) ^ (std::hash<int64_t>()(key.first) * 0x9e3779b97f4a7c15ULL);
}

TextEmbeddingCache::TextEmbeddingCache(size_t capacity) : capacity_(capacity) {}

std::optional<std::vector<float>> TextEmbeddingCache::find(int64_t model, const std::string& text) {
  const Key key{model, normalise_query_text(text)};
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = by_key_.find(key);
  if (found == by_key_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  entries_.splice(entries_.begin(), entries_, found->second);
  return found->second->second;
}

void TextEmbeddingCache::put(int64_t model, const std::string& text, std::vector<float> embedding) {
  if (capacity_ == 0) return;
  Key key{model, normalise_query_text(text)};
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = by_key_.find(key);
  if (found != by_key_.end()) {
    found->second->second = std::move(embedding);
    entries_.splice(entries_.begin(), entries_, found->second);
    return;
  }
  entries_.emplace_front(key, std::move(embedding));
  by_key_.emplace(std::move(key), entries_.begin());
  while (entries_.size() > capacity_) {
    by_key_.erase(entries_.back().first);
    entries_.pop_back();
  }
}

TextEmbeddingCache::Stats TextEmbeddingCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return Stats{hits_, misses_, entries_.size()};
}

}  // namespace imgsearchd
