// Which model.precision values this machine can run, decided from the CPU's
// instruction sets alone (no libtorch), so that the rules can be tested for
// any CPU on any CPU.
#pragma once

#include <string>

#include "indexer/model/blas_check.h"

namespace imgsearchd {

// Empty when `precision` ("fp32", "bf16", "int8") can run on `device`
// ("cpu", "cuda", "cuda:N") of a machine with `cpu`; otherwise why not, naming
// the precision, what it needs and what this CPU has.
//   fp32  runs everywhere.
//   bf16  on the CPU needs AVX-512 BF16 (oneDNN's bfloat16 kernels).
//   int8  runs on the CPU only and needs AVX-512 VNNI: oneDNN's int8 products
//         without VNNI add pairs of int8 products in 16 bits, which saturate.
std::string precision_problem(const std::string& precision, const std::string& device, const CpuFeatures& cpu);

}  // namespace imgsearchd
