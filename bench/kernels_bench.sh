#!/usr/bin/env bash
# Model-only speed with each OpenBLAS kernel set this CPU can run, and with
# model.precision bf16, in alternation (ROUNDS times), on the same weights:
# shows what the start-up kernel selection is worth on this machine and
# simulates a machine where OpenBLAS picks SSE3 kernels (Prescott).
#
# Environment: BUILD (default ./build), THREADS (default: all cores),
# SECONDS_PER_BATCH (default 3), ROUNDS (default 2), CORES (default
# "auto Cooperlake SkylakeX Haswell Prescott"; auto = no variable, imgsearchd
# chooses). Needs the ViT-B/32 test weights of bench/model_bench.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
threads=${THREADS:-$(nproc)}
seconds=${SECONDS_PER_BATCH:-3}
rounds=${ROUNDS:-2}
cores=${CORES:-auto Cooperlake SkylakeX Haswell Prescott}
weights=$root/bench/data/model/b32/openai/model.pt
results=$root/bench/results
mkdir -p "$results"
[ -f "$weights" ] || { echo "no $weights: run bench/model_bench.sh once first" >&2; exit 1; }
cmake --build "$build" --target bench_model -j2 >/dev/null
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores; $threads model threads"
for round in $(seq 1 "$rounds"); do
  for core in $cores bf16; do
    echo "== round $round, $core: load average $(cut -d' ' -f1-3 /proc/loadavg)"
    case $core in
      auto) env -u OPENBLAS_CORETYPE "$build/bench/bench_model" --weights "$weights" --threads "$threads" \
              --batches 16 --seconds "$seconds" --windows 3 --queries 40 ;;
      bf16) env -u OPENBLAS_CORETYPE "$build/bench/bench_model" --weights "$weights" --threads "$threads" \
              --batches 16 --seconds "$seconds" --windows 3 --queries 40 --precision bf16 ;;
      *) OPENBLAS_CORETYPE=$core "$build/bench/bench_model" --weights "$weights" --threads "$threads" \
           --batches 16 --seconds "$seconds" --windows 3 --queries 40 ;;
    esac 2>/dev/null > "$results/kernels_${core}_$round.json"
  done
done
python3 - "$results" "$rounds" "$cores bf16" <<'PY'
import json, sys
results, rounds, cores = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
runs = {c: [json.load(open(f"{results}/kernels_{c}_{r}.json")) for r in range(1, rounds + 1)] for c in cores}
base = max(r["images_per_second"]["16"] for r in runs["auto"])
base_cpu = min(r["text_cpu_ms_p50"] for r in runs["auto"])
print(f"\n{'':12}{'kernels':>12}{'images/s b16':>14}{'vs auto':>9}{'text p50 ms':>13}{'text CPU ms':>13}{'vs auto':>9}")
for c in cores:
    best = max(r["images_per_second"]["16"] for r in runs[c])
    cpu = min(r["text_cpu_ms_p50"] for r in runs[c])
    wall = min(r["text_ms_p50"] for r in runs[c])
    print(f"{c:12}{runs[c][0]['blas_core']:>12}{best:14.2f}{best / base:9.2f}{wall:13.2f}{cpu:13.2f}{base_cpu / cpu:9.2f}")
print("(best of rounds; text CPU ms = CPU time of all threads per query, robust to a shared machine)")
PY
