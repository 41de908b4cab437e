// Internal to the indexing pipeline: what flows between its stages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "store/core/content_id.h"

namespace imgsearchd::indexing {

// A file the scan found new, changed, or not yet embedded for the model.
struct WorkFile {
  std::string path;
  StatSignature signature;  // as scanned
  bool known = false;       // the catalogue has a row for this path
};

// What a worker made of one WorkFile, for the batcher.
struct WorkItem {
  enum class Kind {
    embed,        // new content, decoded: run it through the model
    attach,       // content already embedded for the model: record the path only
    record,       // no model: record the path with its content, nothing to embed
    attach_after, // content another item of this run is embedding: attach once that is committed
    failed,       // could not be indexed: record the reason
    vanished,     // gone since the scan: delete the path if the catalogue has it
    deferred,     // changed while being read: leave it for the next run
  };
  Kind kind = Kind::failed;
  std::string path;
  StatSignature signature;   // of the version that was read (fstat of the hashed descriptor)
  ContentHash hash;          // embed, attach, record, attach_after; failed when `claimed`
  bool claimed = false;      // failed: this item was the one embedding its content (see ContentClaims)
  bool known = false;        // vanished: the catalogue has the path
  // embed: the R x R x 3 centre crop, 8-bit (HWC); the batcher normalises it
  // as it gathers the batch, so queued images take a quarter of the memory.
  std::vector<uint8_t> crop;
  std::string reason;        // failed
};

struct ContentHashHasher {
  size_t operator()(const ContentHash& hash) const {
    return static_cast<size_t>(hash.high ^ (hash.low * 0x9e3779b97f4a7c15ULL));
  }
};

// The new contents in flight: the first worker to meet a content that has no
// embedding claims it and decodes it; a file with the same content met while
// the claim is held attaches after it instead of being embedded again. The
// batcher releases a claim once its content is committed (later files then
// find the embedding in the catalogue), so this holds only what is in flight;
// claims of contents that failed stay, so their copies fail with them.
class ContentClaims {
 public:
  // True for the caller that now holds the claim.
  bool claim(const ContentHash& hash) {
    std::lock_guard<std::mutex> lock(mutex_);
    return claimed_.insert(hash).second;
  }

  void release(const ContentHash& hash) {
    std::lock_guard<std::mutex> lock(mutex_);
    claimed_.erase(hash);
  }

 private:
  std::mutex mutex_;
  std::unordered_set<ContentHash, ContentHashHasher> claimed_;
};

}  // namespace imgsearchd::indexing
