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
# cores), SECONDS_PER_BATCH (default 5), ROUNDS (default 3), REFERENCE_PYTHON
# (default /usr/bin/python3). Raw figures go to bench/results/.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
python=${REFERENCE_PYTHON:-/usr/bin/python3}
threads=${THREADS:-$(nproc)}
seconds=${SECONDS_PER_BATCH:-5}
rounds=${ROUNDS:-3}
data=$root/bench/data/model
results=$root/bench/results
mkdir -p "$data" "$results"

cmake --build "$build" --target bench_model -j2 >/dev/null
"$python" "$root/tests/reference/clip_reference.py" generate --config b32 --formats openai --out "$data"
weights=$data/b32/openai/model.pt

# Other work on the machine distorts every figure (OpenMP threads wait on
# each other at each operation), so the two are run in alternation, ROUNDS
# times, and the best figure of each is compared.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
torch_version=$("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null)
for round in $(seq 1 "$rounds"); do
  echo "== round $round: imgsearchd (C++, libtorch), $threads threads"
  "$build/bench/bench_model" --weights "$weights" --threads "$threads" --seconds "$seconds" \
    | tee "$results/model_cpp_$round.json"
  echo "== round $round: Python reference (eager PyTorch $torch_version), $threads threads"
  "$python" "$root/tests/reference/clip_reference.py" bench --config b32 --weights "$weights" \
    --threads "$threads" --seconds "$seconds" | tee "$results/model_python_$round.json"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

"$python" - "$results" "$rounds" "$threads" <<'PY'
import json, statistics, sys
results, rounds, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(side):
    return [json.load(open(f"{results}/model_{side}_{r}.json")) for r in range(1, rounds + 1)]
cpp_runs, ref_runs = load("cpp"), load("python")
def best_rate(runs, batch):
    return max(run["images_per_second"][batch] for run in runs)
def median_rate(runs, batch):
    return statistics.median(run["images_per_second_median"][batch] for run in runs)
def best_latency(runs, key):
    return min(run[key] for run in runs)
design_limit = 20.0  # images/s at batch 16, ViT-B/32 fp32, 2 cores (DESIGN.md)
print()
print(f"best of {rounds} rounds (median in brackets)")
print(f"{'':22}{'imgsearchd':>18}{'python ref':>18}{'ratio':>8}")
for batch in cpp_runs[0]["images_per_second"]:
    ours, ref = best_rate(cpp_runs, batch), best_rate(ref_runs, batch)
    print(f"images/s batch {batch:>3}   {ours:10.2f} ({median_rate(cpp_runs, batch):5.2f})"
          f"{ref:10.2f} ({median_rate(ref_runs, batch):5.2f}){ours / ref:8.2f}")
for key, label in (("text_ms_p50", "text query p50 ms"), ("text_ms_p99", "text query p99 ms")):
    ours, ref = best_latency(cpp_runs, key), best_latency(ref_runs, key)
    print(f"{label:22}{ours:18.2f}{ref:18.2f}{ref / ours:8.2f}  (ratio: reference / ours)")
full = best_latency(cpp_runs, "text_full_context_ms_p50")
print(f"{'text, full 77 p50 ms':22}{full:18.2f}  (imgsearchd without the end-of-text stop: "
      f"the stop is {full / best_latency(cpp_runs, 'text_ms_p50'):.1f}x faster)")
packed = cpp_runs[0].get("packed_text_ms", {})
for kernel in packed:  # each packed-product kernel this CPU runs, forced (AVX2+FMA: an AVX2-only CPU's)
    p50 = min(run["packed_text_ms"][kernel]["p50"] for run in cpp_runs)
    p99 = min(run["packed_text_ms"][kernel]["p99"] for run in cpp_runs)
    chosen = ", the default here" if kernel == cpp_runs[0]["packed_kernel"] else ""
    print(f"{'text, ' + kernel + ' p50 ms':22}{p50:18.2f}  (p99 {p99:.2f}; the packed product's {kernel} kernel{chosen})")
if packed:
    print(f"{'text, general p50 ms':22}{best_latency(cpp_runs, 'general_text_ms_p50'):18.2f}  "
          "(no packed product: a CPU without AVX2+FMA)")
b16 = best_rate(cpp_runs, "16") if "16" in cpp_runs[0]["images_per_second"] else None
if b16:
    note = "" if threads == 2 else f" (the limit is for 2 cores; this run used {threads})"
    print(f"batch 16 against the design's limit of {design_limit:.0f} images/s: {b16 / design_limit:.2f}{note}")
print(f"model load: {min(run['load_s'] for run in cpp_runs):.2f} s ({cpp_runs[0]['format']})")
PY
