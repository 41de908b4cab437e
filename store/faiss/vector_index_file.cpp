#include "store/faiss/vector_index_file.h"

#include <faiss/IndexFlat.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "store/core/store_error.h"

namespace imgsearchd::index_file {
namespace {

constexpr char kMagic[8] = {'I', 'M', 'G', 'S', 'V', 'I', 'D', 'X'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kCatalogIdSize = 32;
constexpr size_t kHeaderSize = 8 + 4 + 4 + 8 + 4 + 4 + 8 + 8 + kCatalogIdSize + 8 + 8 + 8;  // 104

// The header as stored: Header plus what locates and checks the FAISS bytes.
struct StoredHeader {
  Header header;
  uint64_t payload_bytes = 0;
  uint64_t payload_hash = 0;
};

// Fixed-width fields in the machine's byte order (little-endian on every
// supported platform; the catalogue's embeddings assume the same).
class Encoder {
 public:
  explicit Encoder(unsigned char* out) : out_(out) {}
  template <class T>
  void put(T value) {
    std::memcpy(out_ + at_, &value, sizeof value);
    at_ += sizeof value;
  }
  void put_bytes(const void* data, size_t size) {
    std::memcpy(out_ + at_, data, size);
    at_ += size;
  }

 private:
  unsigned char* out_;
  size_t at_ = 0;
};

class Decoder {
 public:
  explicit Decoder(const unsigned char* in) : in_(in) {}
  template <class T>
  T get() {
    T value;
    std::memcpy(&value, in_ + at_, sizeof value);
    at_ += sizeof value;
    return value;
  }
  void get_bytes(void* data, size_t size) {
    std::memcpy(data, in_ + at_, size);
    at_ += size;
  }

 private:
  const unsigned char* in_;
  size_t at_ = 0;
};

void encode(const StoredHeader& stored, unsigned char (&out)[kHeaderSize]) {
  const Header& h = stored.header;
  char catalog_id[kCatalogIdSize] = {};
  std::memcpy(catalog_id, h.catalog_id.data(), std::min(h.catalog_id.size(), kCatalogIdSize));
  Encoder encoder(out);
  encoder.put_bytes(kMagic, sizeof kMagic);
  encoder.put<uint32_t>(kFormatVersion);
  encoder.put<uint32_t>(static_cast<uint32_t>(h.kind));
  encoder.put<int64_t>(h.model);
  encoder.put<uint32_t>(h.dim);
  encoder.put<uint32_t>(0);  // reserved
  encoder.put<uint64_t>(h.generation);
  encoder.put<uint64_t>(h.count);
  encoder.put_bytes(catalog_id, kCatalogIdSize);
  encoder.put<uint64_t>(stored.payload_bytes);
  encoder.put<uint64_t>(stored.payload_hash);
  encoder.put<uint64_t>(XXH3_64bits(out, kHeaderSize - 8));
}

// RAII for an XXH3 streaming state.
class Xxh3 {
 public:
  Xxh3() : state_(XXH3_createState()) {
    if (!state_) throw std::bad_alloc();
    XXH3_64bits_reset(state_);
  }
  ~Xxh3() { XXH3_freeState(state_); }
  Xxh3(const Xxh3&) = delete;
  Xxh3& operator=(const Xxh3&) = delete;
  void update(const void* data, size_t size) { XXH3_64bits_update(state_, data, size); }
  uint64_t digest() const { return XXH3_64bits_digest(state_); }

 private:
  XXH3_state_t* state_;
};

// FAISS writes through this: bytes go to the file and into the checksum.
struct HashingWriter : faiss::IOWriter {
  explicit HashingWriter(FILE* out) : out(out) {}
  size_t operator()(const void* data, size_t size, size_t count) override {
    const size_t written = std::fwrite(data, size, count, out);
    hash.update(data, size * written);
    bytes += size * written;
    return written;
  }
  FILE* out;
  Xxh3 hash;
  uint64_t bytes = 0;
};

// FAISS reads through this: at most `remaining` bytes from the file.
struct RangeReader : faiss::IOReader {
  RangeReader(FILE* in, uint64_t remaining) : in(in), remaining(remaining) {}
  size_t operator()(void* data, size_t size, size_t count) override {
    if (size == 0) return count;
    const size_t allowed = std::min<uint64_t>(count, remaining / size);
    const size_t got = std::fread(data, size, allowed, in);
    remaining -= got * size;
    return got;
  }
  FILE* in;
  uint64_t remaining;
};

// Closes a FILE* opened for reading when it goes out of scope.
struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using InputFile = std::unique_ptr<FILE, FileCloser>;

InputFile open_for_reading(const std::filesystem::path& file) {
  InputFile in(std::fopen(file.c_str(), "rb"));
  if (!in) throw Corrupt(std::string("it cannot be opened: ") + std::strerror(errno));
  return in;
}

StoredHeader read_stored_header(const std::filesystem::path& file) {
  InputFile in = open_for_reading(file);
  unsigned char bytes[kHeaderSize];
  if (std::fread(bytes, 1, kHeaderSize, in.get()) != kHeaderSize) {
    throw Corrupt("it is shorter than its " + std::to_string(kHeaderSize) + "-byte header");
  }
  Decoder decoder(bytes);
  char magic[sizeof kMagic];
  decoder.get_bytes(magic, sizeof magic);
  if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) throw Corrupt("it is not an imgsearchd vector index (bad magic)");
  const uint32_t version = decoder.get<uint32_t>();
  StoredHeader stored;
  Header& h = stored.header;
  h.kind = static_cast<IndexKind>(decoder.get<uint32_t>());
  h.model = decoder.get<int64_t>();
  h.dim = decoder.get<uint32_t>();
  decoder.get<uint32_t>();  // reserved
  h.generation = decoder.get<uint64_t>();
  h.count = decoder.get<uint64_t>();
  char catalog_id[kCatalogIdSize];
  decoder.get_bytes(catalog_id, kCatalogIdSize);
  h.catalog_id.assign(catalog_id, strnlen(catalog_id, kCatalogIdSize));
  stored.payload_bytes = decoder.get<uint64_t>();
  stored.payload_hash = decoder.get<uint64_t>();
  const uint64_t header_hash = decoder.get<uint64_t>();
  if (header_hash != XXH3_64bits(bytes, kHeaderSize - 8)) throw Corrupt("its header checksum does not match");
  if (version != kFormatVersion) {
    throw Corrupt("it has format version " + std::to_string(version) + ", expected " + std::to_string(kFormatVersion));
  }
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(file, error);
  if (error) throw Corrupt("its size cannot be read: " + error.message());
  if (size != kHeaderSize + stored.payload_bytes) {
    throw Corrupt("it is " + std::to_string(size) + " bytes, expected " +
                  std::to_string(kHeaderSize + stored.payload_bytes) + " (truncated or appended to)");
  }
  return stored;
}

}  // namespace

Header read_header(const std::filesystem::path& file) { return read_stored_header(file).header; }

std::unique_ptr<faiss::Index> read_index(const std::filesystem::path& file, const Header& expected) {
  const StoredHeader stored = read_stored_header(file);
  InputFile in = open_for_reading(file);

  // First pass: the checksum, before FAISS parses a single byte.
  std::fseek(in.get(), static_cast<long>(kHeaderSize), SEEK_SET);
  Xxh3 hash;
  std::vector<char> buffer(1 << 20);
  uint64_t left = stored.payload_bytes;
  while (left > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
    if (std::fread(buffer.data(), 1, want, in.get()) != want) throw Corrupt("it could not be read to the end");
    hash.update(buffer.data(), want);
    left -= want;
  }
  if (hash.digest() != stored.payload_hash) throw Corrupt("the checksum of its FAISS data does not match");

  // Second pass: FAISS's own reader.
  std::fseek(in.get(), static_cast<long>(kHeaderSize), SEEK_SET);
  RangeReader reader(in.get(), stored.payload_bytes);
  reader.name = file.string();
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::read_index(&reader));
  } catch (const std::exception& e) {
    throw Corrupt(std::string("FAISS cannot read it: ") + e.what());
  }
  // Flat: IndexIDMap2 over IndexFlatIP (also an ivf index not trained yet).
  // IVF: IndexIVFFlat, inner product, with a hash table from ids to entries.
  if (auto* id_map = dynamic_cast<faiss::IndexIDMap2*>(index.get())) {
    if (!dynamic_cast<faiss::IndexFlatIP*>(id_map->index)) {
      throw Corrupt("its FAISS index is not a flat inner-product index");
    }
  } else if (auto* ivf = dynamic_cast<faiss::IndexIVFFlat*>(index.get())) {
    if (expected.kind != IndexKind::ivf) throw Corrupt("it holds an IVF index but its header says another kind");
    if (ivf->metric_type != faiss::METRIC_INNER_PRODUCT || ivf->direct_map.type != faiss::DirectMap::Hashtable) {
      throw Corrupt("its IVF index is not an inner-product index with an id table");
    }
  } else {
    throw Corrupt("it holds a FAISS index of another type than IndexIDMap2 or IndexIVFFlat");
  }
  if (index->d != static_cast<int>(expected.dim) || static_cast<uint64_t>(index->ntotal) != expected.count) {
    throw Corrupt("its FAISS index has " + std::to_string(index->ntotal) + " vectors of dimension " +
                  std::to_string(index->d) + ", its header says " + std::to_string(expected.count) + " of dimension " +
                  std::to_string(expected.dim));
  }
  return index;
}

AtomicWriter::AtomicWriter(const std::filesystem::path& file) : file_(file), temp_(file) {
  // One fixed name: only the catalogue's writer saves, and a temporary file
  // left by a crash is simply overwritten.
  temp_ += ".tmp";
  out_ = std::fopen(temp_.c_str(), "wb");
  if (!out_) throw StoreError(file_, "cannot save the vector index: cannot create " + temp_.string() + ": " +
                                         std::strerror(errno));
}

AtomicWriter::~AtomicWriter() {
  if (out_) std::fclose(out_);
  if (!committed_) {
    std::error_code ignored;
    std::filesystem::remove(temp_, ignored);
  }
}

void AtomicWriter::fail(const std::string& what) {
  throw StoreError(file_, "cannot save the vector index: " + what);
}

void AtomicWriter::write(const Header& header, const faiss::Index& index) {
  unsigned char bytes[kHeaderSize] = {};
  if (std::fwrite(bytes, 1, kHeaderSize, out_) != kHeaderSize) fail(std::string("write: ") + std::strerror(errno));
  HashingWriter writer(out_);
  writer.name = temp_.string();
  try {
    faiss::write_index(&index, &writer);
  } catch (const std::exception& e) {
    fail(e.what());
  }
  // The header last: it records how many bytes FAISS wrote and their checksum.
  encode(StoredHeader{header, writer.bytes, writer.hash.digest()}, bytes);
  if (std::fseek(out_, 0, SEEK_SET) != 0 || std::fwrite(bytes, 1, kHeaderSize, out_) != kHeaderSize) {
    fail(std::string("write: ") + std::strerror(errno));
  }
}

void AtomicWriter::commit() {
  if (std::fflush(out_) != 0 || ::fsync(::fileno(out_)) != 0) fail(std::string("fsync: ") + std::strerror(errno));
  const int closed = std::fclose(out_);
  out_ = nullptr;
  if (closed != 0) fail(std::string("close: ") + std::strerror(errno));
  std::error_code error;
  std::filesystem::rename(temp_, file_, error);
  if (error) fail("rename: " + error.message());
  committed_ = true;
  // The rename itself is durable only once the folder is synced.
  const std::filesystem::path folder = file_.has_parent_path() ? file_.parent_path() : std::filesystem::path(".");
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) fail("open folder " + folder.string() + ": " + std::strerror(errno));
  const int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0) fail("fsync folder " + folder.string() + ": " + std::strerror(errno));
}

}  // namespace imgsearchd::index_file
