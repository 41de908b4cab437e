#!/usr/bin/env bash
# Model-only benchmark of imgsearchd's CLIP runtime against the Python reference.
#
# Makes a ViT-B/32-shaped model with random weights (OpenAI's TorchScript
# format, fp16, as published) with tests/reference/clip_reference.py, then on
# the same weights and thread count prints:
#   - images/s at batch 1, 8, 16, 32 and single-query text latency (p50/p99),
#     for bench_model (C++) and the eager PyTorch reference;
#   - ratios against the design's limit (about 20 images/s at batch 16 on a
#     2-core machine) and against the reference.
#
# Environment: BUILD (build folder, default ./build), THREADS (default: all
# cores), SECONDS_PER_BATCH (default 5), REFERENCE_PYTHON (default /usr/bin/python3).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
python=${REFERENCE_PYTHON:-/usr/bin/python3}
threads=${THREADS:-$(nproc)}
seconds=${SECONDS_PER_BATCH:-5}
data=$root/bench/data/model
results=$root/bench/results
mkdir -p "$data" "$results"

cmake --build "$build" --target bench_model -j2 >/dev/null
"$python" "$root/tests/reference/clip_reference.py" generate --config b32 --formats openai --out "$data"
weights=$data/b32/openai/model.pt

# Other work on the machine distorts every figure (OpenMP threads wait on
# each other at each operation), so say how busy it was.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
echo "== imgsearchd (C++, libtorch) on $weights, $threads threads"
"$build/bench/bench_model" --weights "$weights" --threads "$threads" --seconds "$seconds" | tee "$results/model_cpp.json"
echo "== Python reference (eager PyTorch $("$python" -c 'import torch; print(torch.__version__)')), $threads threads"
"$python" "$root/tests/reference/clip_reference.py" bench --config b32 --weights "$weights" \
  --threads "$threads" --seconds "$seconds" | tee "$results/model_python.json"

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$python" - "$results/model_cpp.json" "$results/model_python.json" "$threads" <<'PY'
import json, sys
cpp, ref = (json.load(open(p)) for p in sys.argv[1:3])
threads = int(sys.argv[3])
design_limit = 20.0  # images/s at batch 16, ViT-B/32 fp32, 2 cores (DESIGN.md)
print()
print(f"{'':22}{'imgsearchd':>12}{'python ref':>12}{'ratio':>8}")
for batch, ips in cpp["images_per_second"].items():
    r = ref["images_per_second"].get(batch)
    print(f"images/s batch {batch:>3}   {ips:12.2f}{r:12.2f}{ips / r:8.2f}")
for key, label in (("text_ms_p50", "text query p50 ms"), ("text_ms_p99", "text query p99 ms")):
    print(f"{label:22}{cpp[key]:12.2f}{ref[key]:12.2f}{ref[key] / cpp[key]:8.2f}  (ratio: reference / ours)")
print(f"{'text, full 77 p50 ms':22}{cpp['text_full_context_ms_p50']:12.2f}  (no end-of-text stop; speed-up "
      f"{cpp['text_full_context_ms_p50'] / cpp['text_ms_p50']:.2f}x)")
b16 = cpp["images_per_second"].get("16")
if b16:
    note = "" if threads == 2 else f" (the limit is for 2 cores; this run used {threads})"
    print(f"batch 16 against the design's limit of {design_limit:.0f} images/s: {b16 / design_limit:.2f}{note}")
print(f"model load: {cpp['load_s']:.2f} s ({cpp['format']})")
PY
