#include "indexer/model/model_precision.h"

namespace imgsearchd {

std::string precision_problem(const std::string& precision, const std::string& device, const CpuFeatures& cpu) {
  const bool on_cpu = device == "cpu";
  if (precision == "fp32") return "";
  if (precision == "bf16") {
    if (!on_cpu || cpu.avx512_bf16) return "";
    return "model precision 'bf16' needs a CPU with AVX-512 BF16 instructions (Intel Cooper Lake or Sapphire "
           "Rapids and later, AMD Zen 4 and later); this CPU has " + describe(cpu) + ". Use fp32";
  }
  if (precision == "int8") {
    if (!on_cpu)
      return "model precision 'int8' runs on the CPU only (oneDNN's int8 products); model device is '" + device +
             "'. Use fp32 or bf16 there";
    if (cpu.avx512_vnni) return "";
    return "model precision 'int8' needs a CPU with AVX-512 VNNI instructions (Intel Cascade Lake and later, AMD "
           "Zen 4 and later); this CPU has " + describe(cpu) + ". Use fp32";
  }
  return "model precision '" + precision + "' is not supported; expected fp32, bf16 or int8";
}

}  // namespace imgsearchd
