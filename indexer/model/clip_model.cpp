// ClipModel::load: finds the weights' format, reads the tensors by their
// published names, checks them against the architecture they imply, and
// builds either imgsearchd's own CLIP (NativeClip) or a wrapper that calls a
// TorchScript module's encode_image / encode_text.
#include "indexer/model/clip_model.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <system_error>
#include <fstream>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "indexer/model/blas_check.h"
#include "indexer/model/clip_architecture.h"
#include "indexer/model/clip_native.h"
#include "indexer/model/file_fingerprint.h"
#include "indexer/model/model_manifest.h"
#include "indexer/model/model_precision.h"
#include "indexer/model/omp_threads.h"
#include "indexer/model/safetensors_file.h"
#include "store/core/errors.h"

namespace imgsearchd {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is read as little-endian host memory");

constexpr const char* kOpenAI = "openai-torchscript";
constexpr const char* kSafetensors = "open_clip-safetensors";
constexpr const char* kModule = "torchscript-module";
constexpr int32_t kStartOfText = 49406;
constexpr int32_t kEndOfText = 49407;
constexpr int kClipVocabularySize = 49408;

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw ModelError(file.string() + ": " + what);
}

// libtorch's messages carry a C++ backtrace and several lines; the first line says what happened.
std::string first_line(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string s = c10_error ? c10_error->what_without_backtrace() : e.what();
  const size_t newline = s.find('\n');
  return newline == std::string::npos ? s : s.substr(0, newline);
}

std::string leading_bytes_hex(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  char bytes[8] = {};
  in.read(bytes, sizeof bytes);
  std::string hex;
  for (std::streamsize i = 0; i < in.gcount(); ++i) {
    char two[4];
    std::snprintf(two, sizeof two, "%02x ", static_cast<unsigned char>(bytes[i]));
    hex += two;
  }
  return hex.empty() ? "(none: the file is empty)" : hex.substr(0, hex.size() - 1);
}

bool is_zip(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
}

at::Device parse_device(const std::string& name) {
  std::optional<at::Device> device;
  try {
    device.emplace(name);
  } catch (const std::exception&) {
  }
  if (!device || !(device->is_cpu() || device->is_cuda()))
    throw ModelError("model device '" + name + "': expected \"cpu\", \"cuda\" or \"cuda:N\"");
  if (device->is_cuda() && !torch::cuda::is_available())
    throw ModelError("model device '" + name + "': this libtorch was built without CUDA or sees no GPU; use \"cpu\"");
  return *device;
}

std::vector<float> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU, at::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// n x context_length int64, padded with 0; refuses ids the embedding does not have.
at::Tensor token_tensor(const std::vector<std::vector<int32_t>>& rows, int context_length, int vocab_size) {
  at::Tensor t = at::zeros({static_cast<int64_t>(rows.size()), context_length}, at::kLong);
  auto a = t.accessor<int64_t, 2>();
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    if (row.empty() || row.size() > static_cast<size_t>(context_length))
      throw InvalidInput("text " + std::to_string(i) + ": expected 1 to " + std::to_string(context_length) +
                                  " token ids, found " + std::to_string(row.size()));
    for (size_t j = 0; j < row.size(); ++j) {
      if (row[j] < 0 || row[j] >= vocab_size)
        throw InvalidInput("text " + std::to_string(i) + ": token id " + std::to_string(row[j]) +
                                    " is outside the model's vocabulary (0 to " + std::to_string(vocab_size - 1) + ")");
      a[static_cast<int64_t>(i)][static_cast<int64_t>(j)] = row[j];
    }
  }
  return t;
}

at::Tensor image_tensor(const float* pixels, size_t n, int resolution) {
  if (pixels == nullptr) throw InvalidInput("encode_images: no pixel data for " + std::to_string(n) + " images");
  // Read-only view of the caller's buffer; nothing writes to it.
  return at::from_blob(const_cast<float*>(pixels), {static_cast<int64_t>(n), 3, resolution, resolution}, at::kFloat);
}

// How many parts an image batch is split into, each run side by side on its
// own share of the model's threads. One batch on 2 OpenMP threads keeps them
// in step: OpenBLAS's threads wait for each other at every product (with
// sched_yield), libtorch's at every operation, so when another process holds
// one core the whole batch runs at the pace of the thread that waits for it.
// Measured on a 2-core AMD EPYC VM, ViT-B/32, batch 16, split and unsplit in
// one run (bench_model): with another process busy on one core 13.0 against
// 10.2 images/s; on a quiet machine 18.5 against 19.3 (a few percent lost),
// and indexing the wallpapers the same either way (README, Performance).
// Each part keeps at least 4 images, so that its products stay large; a
// single image (an image search) is not split.
size_t batch_parts(size_t images, int threads) {
  constexpr size_t kMinImagesPerPart = 4;
  return std::max<size_t>(1, std::min(static_cast<size_t>(std::max(1, threads)), images / kMinImagesPerPart));
}

// Runs encode(first, count) over `images` in `parts` parts side by side: part
// 0 on this thread, the others on threads started for the batch (a thread
// start is microseconds against a batch's hundreds of milliseconds), each
// with `threads / parts` OpenMP threads. A part whose thread cannot start (the
// system's thread limit) runs on this thread after part 0. The embeddings come
// back in order; a part's error is rethrown once every part has ended.
template <typename Encode>
std::vector<float> encode_in_parts(size_t images, size_t parts, int threads, const Encode& encode) {
  const int part_threads = std::max(1, threads / static_cast<int>(parts));
  std::vector<std::vector<float>> results(parts);
  std::vector<std::exception_ptr> errors(parts);
  const auto run_part = [&](size_t part) {
    try {
      c10::InferenceMode guard;
      const OmpThreadsInScope share(part_threads);
      const size_t first = images * part / parts, last = images * (part + 1) / parts;
      results[part] = encode(first, last - first);
    } catch (...) {
      errors[part] = std::current_exception();
    }
  };
  std::vector<std::thread> others;
  std::vector<size_t> here{0};  // parts this thread runs
  for (size_t part = 1; part < parts; ++part) {
    try {
      others.emplace_back([&run_part, part] {
        // libtorch's first-use setting of a new thread's OpenMP count, now,
        // so that at::parallel_for does not make it later over the part's own.
        at::internal::lazy_init_num_threads();
        run_part(part);
      });
    } catch (const std::system_error&) {
      here.push_back(part);
    }
  }
  for (const size_t part : here) run_part(part);
  for (std::thread& thread : others) thread.join();
  for (const std::exception_ptr& error : errors)
    if (error) std::rethrow_exception(error);
  std::vector<float> all;
  for (const std::vector<float>& part : results) all.insert(all.end(), part.begin(), part.end());
  return all;
}

// ---------------------------------------------------------------------------
// The two model kinds

// Embeddings made at another precision are other embeddings: the fingerprint
// (the embedding cache's model key) says which.
ModelInfo with_precision(ModelInfo info, const std::string& precision) {
  if (precision != "fp32") info.fingerprint += ":" + precision;
  return info;
}

BlockPrecision block_precision(const std::string& precision) {
  if (precision == "bf16") return BlockPrecision::bf16;
  if (precision == "int8") return BlockPrecision::int8;
  return BlockPrecision::fp32;
}

// The text tower's packed-product kernel (ModelOptions::packed_kernel), or
// none for the general product.
std::optional<PackedKernel> packed_text_kernel(const ModelOptions& options) {
  if (!options.pack_text_weights) return std::nullopt;
  if (!options.packed_kernel) return PackedLinear::best();
  if (!PackedLinear::supports(*options.packed_kernel))
    throw InvalidInput(std::string("packed text kernel '") + PackedLinear::name(*options.packed_kernel) +
                       "': this CPU lacks its instructions (" +
                       (*options.packed_kernel == PackedKernel::avx512 ? "AVX-512F" : "AVX2 and FMA") + ")");
  return options.packed_kernel;
}

class NativeClipModel : public ClipModel {
 public:
  NativeClipModel(ModelInfo info, const std::map<std::string, at::Tensor>& weights, const at::Device& device,
                  const ModelOptions& options)
      : info_(with_precision(std::move(info), options.precision)),
        net_(weights, info_, info_.activation == "quick_gelu", device, block_precision(options.precision),
             packed_text_kernel(options)),
        truncate_text_(options.truncate_text_at_eot),
        split_batches_(device.is_cpu() && options.split_image_batches) {}

  const ModelInfo& info() const override { return info_; }

  std::vector<float> encode_images(const float* pixels, size_t n) override {
    if (n == 0) return {};
    c10::InferenceMode guard;
    // This thread's OpenMP pool gets the configured size, once per thread: a full
    // at::init_num_threads() on every call would also rebuild libtorch's pthreadpool.
    at::internal::lazy_init_num_threads();
    const int resolution = info_.image_resolution;
    const int threads = at::get_num_threads();
    const size_t parts = split_batches_ ? batch_parts(n, threads) : 1;
    if (parts == 1) return to_vector(net_.encode_images(image_tensor(pixels, n, resolution)));
    const size_t floats_per_image = 3 * static_cast<size_t>(resolution) * static_cast<size_t>(resolution);
    return encode_in_parts(n, parts, threads, [&](size_t first, size_t count) {
      return to_vector(net_.encode_images(image_tensor(pixels + first * floats_per_image, count, resolution)));
    });
  }

  std::vector<float> encode_texts(const std::vector<std::vector<int32_t>>& tokens) override {
    if (tokens.empty()) return {};
    c10::InferenceMode guard;
    at::internal::lazy_init_num_threads();
    return to_vector(net_.encode_texts(token_tensor(tokens, info_.context_length, info_.vocab_size), truncate_text_));
  }

 private:
  ModelInfo info_;
  NativeClip net_;
  bool truncate_text_;
  bool split_batches_;  // on the CPU, unless the options say not to
};

class ScriptedClipModel : public ClipModel {
 public:
  ScriptedClipModel(ModelInfo info, torch::jit::Module module, const at::Device& device)
      : info_(std::move(info)), module_(std::move(module)), device_(device) {}

  const ModelInfo& info() const override { return info_; }

  std::vector<float> encode_images(const float* pixels, size_t n) override {
    if (n == 0) return {};
    c10::InferenceMode guard;
    at::internal::lazy_init_num_threads();
    return to_vector(run("encode_image", image_tensor(pixels, n, info_.image_resolution)));
  }

  std::vector<float> encode_texts(const std::vector<std::vector<int32_t>>& tokens) override {
    if (tokens.empty()) return {};
    c10::InferenceMode guard;
    at::internal::lazy_init_num_threads();
    return to_vector(run("encode_text", token_tensor(tokens, info_.context_length, info_.vocab_size)));
  }

  // Calls a method on a batch and checks that it gives one vector per input.
  // Public for the probe run at load time.
  at::Tensor run(const char* method, const at::Tensor& input) {
    at::Tensor out;
    try {
      out = module_.get_method(method)({input.to(device_)}).toTensor();
    } catch (const std::exception& e) {
      fail(info_.weights_file, std::string(method) + " failed on a batch of shape " +
                                   shape_to_string(input.sizes().vec()) + ": " + first_line(e));
    }
    if (out.dim() != 2 || out.size(0) != input.size(0) || (info_.embed_dim && out.size(1) != info_.embed_dim))
      fail(info_.weights_file, std::string(method) + " returned shape " + shape_to_string(out.sizes().vec()) +
                                   "; expected [" + std::to_string(input.size(0)) + ", " +
                                   (info_.embed_dim ? std::to_string(info_.embed_dim) : "embedding size") + "]");
    out = out.to(at::kFloat);
    return out / out.norm(2, {-1}, /*keepdim=*/true).clamp_min(1e-12);
  }

  ModelInfo& mutable_info() { return info_; }

 private:
  ModelInfo info_;
  torch::jit::Module module_;
  at::Device device_;
};

// ---------------------------------------------------------------------------
// Loaders

void apply_settings(ModelInfo& info, const ModelManifest& settings, const char* default_activation) {
  info.activation = settings.activation.value_or(default_activation);
  if (settings.mean) info.mean = *settings.mean;
  if (settings.std) info.std = *settings.std;
  info.vocabulary = settings.vocabulary;
  info.sidecar_files = settings.files;
}

void fill_fingerprint(ModelInfo& info) {
  std::vector<std::filesystem::path> files = {info.weights_file};
  files.insert(files.end(), info.sidecar_files.begin(), info.sidecar_files.end());
  info.fingerprint = info.format + ":" + fingerprint_files(info.format, files);
}

TensorShapes shapes_of(const std::map<std::string, at::Tensor>& tensors) {
  TensorShapes shapes;
  for (const auto& [name, t] : tensors) shapes[name] = t.sizes().vec();
  return shapes;
}

// OpenAI's archives also hold the model's size as scalar buffers; they must agree.
void check_scalar_buffer(const std::map<std::string, at::Tensor>& tensors, const std::string& name, int inferred,
                         const std::filesystem::path& file) {
  const auto it = tensors.find(name);
  if (it == tensors.end() || it->second.numel() != 1) return;
  const int64_t value = it->second.item<int64_t>();
  if (value != inferred)
    fail(file, "the archive's '" + name + "' is " + std::to_string(value) + " but its tensors' shapes give " +
                   std::to_string(inferred));
}

std::unique_ptr<ClipModel> load_openai(const std::filesystem::path& file, const torch::jit::Module& archive,
                                       const ModelManifest& settings, const ModelOptions& options,
                                       const at::Device& device) {
  std::map<std::string, at::Tensor> tensors;
  for (const auto& p : archive.named_parameters(/*recurse=*/true)) tensors[p.name] = p.value.detach();
  for (const auto& b : archive.named_buffers(/*recurse=*/true)) tensors[b.name] = b.value.detach();
  ModelInfo info = infer_clip_architecture(shapes_of(tensors), settings, file);
  check_scalar_buffer(tensors, "input_resolution", info.image_resolution, file);
  check_scalar_buffer(tensors, "context_length", info.context_length, file);
  check_scalar_buffer(tensors, "vocab_size", info.vocab_size, file);
  info.format = kOpenAI;
  info.weights_file = file;
  apply_settings(info, settings, "quick_gelu");  // OpenAI's models all use QuickGELU
  fill_fingerprint(info);
  return std::make_unique<NativeClipModel>(std::move(info), tensors, device, options);
}

at::ScalarType scalar_type_of(const SafetensorsFile& f, const std::string& name) {
  const std::string& dtype = f.tensors().at(name).dtype;
  if (dtype == "F32") return at::kFloat;
  if (dtype == "F16") return at::kHalf;
  if (dtype == "BF16") return at::kBFloat16;
  fail(f.path(), "tensor '" + name + "' has dtype " + dtype + "; expected F32, F16 or BF16");
}

std::unique_ptr<ClipModel> load_safetensors(const std::filesystem::path& file,
                                            const std::optional<ModelManifest>& manifest,
                                            const ModelOptions& options, const at::Device& device) {
  const SafetensorsFile st(file);
  TensorShapes shapes;
  for (const auto& [name, t] : st.tensors()) shapes[name] = t.shape;
  ModelManifest settings;
  const auto open_clip = read_open_clip_config_for(file);
  if (manifest && open_clip)
    settings = overlay(*manifest, *open_clip);
  else if (manifest || open_clip)
    settings = manifest ? *manifest : *open_clip;
  ModelInfo info = infer_clip_architecture(shapes, settings, file);
  info.format = kSafetensors;
  info.weights_file = file;
  apply_settings(info, settings, "gelu");  // open_clip's default when quick_gelu is not set

  std::map<std::string, at::Tensor> tensors;
  for (const auto& [name, shape] : clip_tensor_shapes(info)) {
    at::Tensor raw = at::empty(shape, scalar_type_of(st, name));
    st.read(name, raw.data_ptr());
    tensors[name] = raw.to(at::kFloat);
  }
  fill_fingerprint(info);
  return std::make_unique<NativeClipModel>(std::move(info), tensors, device, options);
}

std::unique_ptr<ClipModel> load_module(const std::filesystem::path& file, torch::jit::Module module,
                                       const std::optional<ModelManifest>& manifest, const at::Device& device) {
  const auto manifest_file = manifest_path_for(file);
  if (!manifest)
    fail(file, "a TorchScript module with encode_image and encode_text needs a manifest, expected at " +
                   manifest_file.string() + ", giving at least image_resolution, context_length, mean and std");
  auto require = [&](bool present, const char* key) {
    if (!present)
      fail(manifest_file, std::string("key '") + key + "' is missing: a torchscript-module manifest needs "
                                                      "image_resolution, context_length, mean and std");
  };
  require(manifest->image_resolution.has_value(), "image_resolution");
  require(manifest->context_length.has_value(), "context_length");
  require(manifest->mean.has_value(), "mean");
  require(manifest->std.has_value(), "std");
  if (manifest->activation || manifest->vision_heads || manifest->text_heads)
    fail(manifest_file, "keys 'activation', 'vision_heads' and 'text_heads' have no meaning for a torchscript-module "
                        "(its own code decides); remove them");

  ModelInfo info;
  info.format = kModule;
  info.weights_file = file;
  info.image_resolution = *manifest->image_resolution;
  info.context_length = *manifest->context_length;
  info.vocab_size = manifest->vocab_size.value_or(kClipVocabularySize);
  info.mean = *manifest->mean;
  info.std = *manifest->std;
  info.vocabulary = manifest->vocabulary;
  info.sidecar_files = manifest->files;
  module.eval();
  module.to(device);
  auto model = std::make_unique<ScriptedClipModel>(std::move(info), std::move(module), device);

  // A probe run on one blank image and one empty text checks the manifest's
  // sizes now rather than at the first real batch, and gives embed_dim.
  c10::InferenceMode guard;
  const int res = model->info().image_resolution, ctx = model->info().context_length;
  at::Tensor tokens = at::zeros({1, ctx}, at::kLong);
  tokens[0][0] = std::min(kStartOfText, model->info().vocab_size - 1);
  if (ctx > 1) tokens[0][1] = std::min(kEndOfText, model->info().vocab_size - 1);
  const int64_t text_dim = model->run("encode_text", tokens).size(1);
  model->mutable_info().embed_dim = static_cast<int>(text_dim);  // checked against the manifest below
  const int64_t image_dim = model->run("encode_image", at::zeros({1, 3, res, res})).size(1);
  if (manifest->embed_dim && *manifest->embed_dim != text_dim)
    fail(manifest_file, "embed_dim is " + std::to_string(*manifest->embed_dim) + " but encode_text returns " +
                            std::to_string(text_dim) + " values per text");
  if (image_dim != text_dim)
    fail(file, "encode_image returns " + std::to_string(image_dim) + " values per image but encode_text returns " +
                   std::to_string(text_dim) + " per text");
  fill_fingerprint(model->mutable_info());
  return model;
}

std::unique_ptr<ClipModel> load_torchscript(const std::filesystem::path& file,
                                            const std::optional<ModelManifest>& manifest,
                                            const ModelOptions& options, const at::Device& device) {
  torch::jit::Module archive;
  try {
    archive = torch::jit::load(file.string(), at::kCPU);
  } catch (const std::exception& e) {
    fail(file, "cannot read it as a TorchScript archive (what torch.jit.save writes): " + first_line(e) +
                   ". The file (" + std::to_string(std::filesystem::file_size(file)) +
                   " bytes) may be truncated; a torch.save() checkpoint is not supported (convert it to safetensors)");
  }
  TensorShapes shapes;
  for (const auto& p : archive.named_parameters(/*recurse=*/true)) shapes[p.name] = p.value.sizes().vec();
  const std::string forced = manifest && manifest->format ? *manifest->format : "";
  const bool has_methods = archive.find_method("encode_image") && archive.find_method("encode_text");
  if (forced == kOpenAI || (forced.empty() && has_clip_tensor_names(shapes)))
    return load_openai(file, archive, manifest.value_or(ModelManifest{}), options, device);
  if (has_methods) {
    if (options.precision != "fp32")
      fail(file, "model precision '" + options.precision + "' applies to CLIP weights imgsearchd runs itself; a "
                 "torchscript-module runs its own code in its own precision. Use fp32");
    return load_module(file, std::move(archive), manifest, device);
  }

  std::string found;
  int listed = 0;
  for (const auto& [name, shape] : shapes) {
    if (listed++ == 5) {
      found += ", ...";
      break;
    }
    found += (found.empty() ? "'" : ", '") + name + "'";
  }
  fail(file, "a TorchScript archive with neither CLIP's published parameter names (such as 'visual.conv1.weight' "
             "and 'token_embedding.weight') nor methods encode_image and encode_text; found parameters: " +
                 (found.empty() ? std::string("none") : found));
}

void check_precision(const ModelOptions& options, const at::Device& device) {
  const std::string problem =
      precision_problem(options.precision, device.is_cpu() ? "cpu" : options.device, detect_cpu_features());
  if (!problem.empty()) throw ModelError(problem);
}

}  // namespace

std::unique_ptr<ClipModel> ClipModel::load(const std::filesystem::path& weights, const ModelOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(weights, ec)) throw ModelError(weights.string() + ": no such weights file");
  if (!std::filesystem::is_regular_file(weights, ec))
    throw ModelError(weights.string() + ": not a regular file; expected a weights file");
  const at::Device device = parse_device(options.device);
  const int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  at::set_num_threads(std::max(1, threads));
  if (threads > 1) {
    if (const std::string problem = blas_threading_problem(); !problem.empty()) spdlog::warn("model: {}", problem);
  }
  spdlog::info("model: BLAS {}", blas_kernel_report().summary());

  check_precision(options, device);

  const auto manifest = read_manifest_for(weights);
  const std::string forced = manifest && manifest->format ? *manifest->format : "";
  if (forced == kSafetensors) return load_safetensors(weights, manifest, options, device);
  if (!forced.empty()) return load_torchscript(weights, manifest, options, device);
  if (is_zip(weights)) return load_torchscript(weights, manifest, options, device);
  if (SafetensorsFile::has_signature(weights)) return load_safetensors(weights, manifest, options, device);
  fail(weights, "not a CLIP weights file: expected a TorchScript archive (a zip file, starting with bytes "
                "50 4b 03 04) or safetensors (an 8-byte header length, then a JSON header starting with '{'); "
                "found the bytes " + leading_bytes_hex(weights) + " at the start");
}

}  // namespace imgsearchd
