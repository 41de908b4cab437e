// Internal to store/: the vector index file. A header of our own (what the
// index reflects, and checksums), then FAISS's own serialisation:
//
//   magic "IMGSVIDX", format version, index kind, model id, dim, generation,
//   vector count, catalogue id, FAISS byte count, XXH3-64 of the FAISS bytes,
//   XXH3-64 of the header; then the FAISS bytes (faiss::write_index).
//
// Written by hand because FAISS has no place for our metadata; the checksum
// is checked before FAISS parses anything, so a damaged file is reported as
// corrupt instead of making FAISS allocate or read garbage.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVFFlat.h>

#include "store/faiss/vector_index.h"


namespace imgsearchd::index_file {

struct Header {
  IndexKind kind = IndexKind::flat;
  ModelId model = 0;
  uint32_t dim = 0;
  uint64_t generation = 0;
  uint64_t count = 0;
  std::string catalog_id;  // at most 32 characters
};

// A file that cannot be used; the message says what is wrong with it.
struct Corrupt : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads and checks the header only (cheap: decides whether the file is stale).
Header read_header(const std::filesystem::path& file);
// Checks the FAISS bytes' checksum, then parses them: an IndexIDMap2 over
// IndexFlatIP (kind flat, or ivf not trained yet) or an IndexIVFFlat (kind
// ivf). Throws Corrupt.
std::unique_ptr<faiss::Index> read_index(const std::filesystem::path& file, const Header& header);

// Writes `file` atomically: write() fills a temporary file beside it,
// commit() makes it durable and renames it over `file`. Destroyed without
// commit(), it removes the temporary file. Throws StoreError naming `file`.
class AtomicWriter {
 public:
  explicit AtomicWriter(const std::filesystem::path& file);
  ~AtomicWriter();
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  void write(const Header& header, const faiss::Index& index);
  void commit();

 private:
  [[noreturn]] void fail(const std::string& what);

  std::filesystem::path file_;
  std::filesystem::path temp_;
  FILE* out_ = nullptr;
  bool committed_ = false;  // renamed into place
};

}  // namespace imgsearchd::index_file
