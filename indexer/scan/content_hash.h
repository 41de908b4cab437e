// Content hashing: an image's identity is the XXH3-128 hash of its bytes
// (see store/content_id.h). The text form equals what `xxhsum -H2` prints.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

#include "store/core/content_id.h"

namespace imgsearchd {

// What was hashed: the hash and the file's stat signature taken with fstat on
// the very descriptor that was read, so the caller knows which version of the
// file the hash belongs to.
struct HashedFile {
  ContentHash hash;
  StatSignature signature;
};

enum class HashError {
  none,
  vanished,               // the file (or a folder above it) no longer exists
  unreadable,             // permission denied, I/O error, ...
  not_a_regular_file,     // a folder, FIFO, device, socket
  changed_while_reading,  // size or mtime changed during the read: try again once it settles
};

// Expected failures are values: `message` names the file and says what went wrong.
struct FileHashResult {
  std::optional<HashedFile> file;
  HashError error = HashError::none;
  std::string message;
  bool ok() const { return file.has_value(); }
};

// Reads the whole file with large sequential reads. Never blocks on a FIFO.
FileHashResult hash_file(const std::filesystem::path& file);

// The same hash over bytes already in memory (an uploaded image).
ContentHash hash_bytes(const void* data, size_t size);

}  // namespace imgsearchd
