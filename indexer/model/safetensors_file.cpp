#include "indexer/model/safetensors_file.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "indexer/model/clip_model.h"

namespace imgsearchd {
namespace {

// The format's own limit on the header: larger ones are refused by every reader.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw ModelError(file.string() + ": " + what);
}

size_t element_size_of(const std::string& dtype) {
  static const std::map<std::string, size_t> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"U64", 8}, {"I32", 4}, {"U32", 4},
      {"I16", 2}, {"U16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

uint64_t read_header_length(std::ifstream& in) {
  unsigned char bytes[8];
  in.read(reinterpret_cast<char*>(bytes), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];  // little-endian, whatever the host
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

SafetensorsTensor parse_entry(const std::filesystem::path& file, const std::string& name,
                              const nlohmann::json& entry, uint64_t data_start, uint64_t data_size) {
  const std::string where = "tensor '" + name + "' in the header";
  if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
    fail(file, where + ": expected an object with dtype, shape and data_offsets, found " + entry.dump());
  SafetensorsTensor t;
  if (!entry["dtype"].is_string()) fail(file, where + ": dtype is not a string");
  t.dtype = entry["dtype"].get<std::string>();
  t.element_size = element_size_of(t.dtype);
  if (t.element_size == 0) fail(file, where + ": unknown dtype '" + t.dtype + "'");
  const auto& shape = entry["shape"];
  const auto& offsets = entry["data_offsets"];
  if (!shape.is_array()) fail(file, where + ": shape is not an array");
  uint64_t count = 1;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned()) fail(file, where + ": shape " + shape.dump() + " holds a non-natural number");
    t.shape.push_back(d.get<int64_t>());
    count *= d.get<uint64_t>();
  }
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    fail(file, where + ": data_offsets must be two natural numbers, found " + offsets.dump());
  const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
  if (end < begin) fail(file, where + ": data_offsets " + offsets.dump() + " end before they begin");
  t.byte_size = end - begin;
  if (t.byte_size != count * t.element_size)
    fail(file, where + ": " + t.dtype + " " + shape_text(t.shape) + " needs " + std::to_string(count * t.element_size) +
                   " bytes but data_offsets " + offsets.dump() + " span " + std::to_string(t.byte_size));
  if (end > data_size)
    fail(file, "truncated: tensor '" + name + "' ends at byte " + std::to_string(data_start + end) +
                   " of the file, but the file has only " + std::to_string(data_start + data_size) + " bytes");
  t.file_offset = data_start + begin;
  return t;
}

}  // namespace

bool SafetensorsFile::has_signature(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  const uint64_t n = read_header_length(in);
  const int first = in.get();
  return in && first == '{' && n >= 2 && n <= kMaxHeaderBytes;
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& file) : path_(file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot open for reading");
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(file, ec);
  if (ec) fail(file, "cannot read its size: " + ec.message());
  if (file_size < 8) fail(file, "not safetensors: expected at least an 8-byte header length, found " +
                                    std::to_string(file_size) + " bytes");
  const uint64_t header_size = read_header_length(in);
  if (header_size > kMaxHeaderBytes)
    fail(file, "not safetensors: the header length is " + std::to_string(header_size) +
                   " bytes, more than the format's limit of 100 MB");
  if (header_size > file_size - 8)
    fail(file, "truncated: the header says it is " + std::to_string(header_size) + " bytes long but only " +
                   std::to_string(file_size - 8) + " bytes follow the header length");
  std::string header(header_size, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_size));
  if (!in) fail(file, "cannot read the " + std::to_string(header_size) + "-byte header");

  nlohmann::json json;
  try {
    json = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    fail(file, std::string("the safetensors header is not valid JSON: ") + e.what());
  }
  if (!json.is_object()) fail(file, "the safetensors header is not a JSON object");
  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = file_size - data_start;
  for (const auto& [name, entry] : json.items()) {
    if (name == "__metadata__") continue;  // free-form strings, nothing we need
    tensors_.emplace(name, parse_entry(file, name, entry, data_start, data_size));
  }
}

void SafetensorsFile::read(const std::string& name, void* dst) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(path_, "no tensor named '" + name + "'");
  std::ifstream in(path_, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(it->second.file_offset));
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(it->second.byte_size));
  if (!in) fail(path_, "cannot read the data of tensor '" + name + "' (the file changed while loading?)");
}

}  // namespace imgsearchd
