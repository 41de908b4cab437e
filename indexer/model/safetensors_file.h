// Reads the safetensors format (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw little-endian tensor data.
//
// Written here because no C++ safetensors library is packaged in Debian 12;
// the format is small enough to read by its specification. No libtorch here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace imgsearchd {

struct SafetensorsTensor {
  std::string dtype;            // as written: "F32", "F16", "BF16", "I64", ...
  size_t element_size = 0;      // bytes per element of dtype
  std::vector<int64_t> shape;
  uint64_t file_offset = 0;     // absolute position of the first byte in the file
  uint64_t byte_size = 0;
};

class SafetensorsFile {
 public:
  // Reads and checks the header: every tensor's byte range must match its
  // dtype and shape and lie inside the file. Throws ModelError naming the
  // file and what was expected and found (a truncated file fails here).
  explicit SafetensorsFile(const std::filesystem::path& file);

  const std::filesystem::path& path() const { return path_; }
  const std::map<std::string, SafetensorsTensor>& tensors() const { return tensors_; }

  // Copies a tensor's raw bytes (tensor.byte_size of them) into dst.
  void read(const std::string& name, void* dst) const;

  // True when the first bytes look like safetensors (a header length, then '{'),
  // whether or not the rest of the file is intact.
  static bool has_signature(const std::filesystem::path& file);

 private:
  std::filesystem::path path_;
  std::map<std::string, SafetensorsTensor> tensors_;
};

}  // namespace imgsearchd
