#!/usr/bin/env bash
# Model-only speed with each OpenBLAS kernel set this CPU can run and with each
# model.precision (fp32, bf16, int8), in alternation (ROUNDS times), on the
# same weights, at each thread count: shows what the start-up kernel selection
# is worth on this machine, simulates a machine where OpenBLAS picks SSE3
# kernels (Prescott), and prints fp32/bf16/int8 text-query p50/p99 and
# images/s side by side. The fp32 row also gives the text query through the
# general product (before the packed text weights) and with each packed-product
# kernel this CPU runs (AVX-512, AVX2+FMA: what an AVX2-only CPU gets) from the
# same run.
#
# Environment: BUILD (default ./build), THREAD_COUNTS (default "1 <all
# cores>"), SECONDS_PER_BATCH (default 3), ROUNDS (default 2), QUERIES
# (default 60), CORES (default "auto Cooperlake SkylakeX Haswell Prescott";
# auto = no variable, imgsearchd chooses), PRECISIONS (default "bf16 int8",
# each with no variable; those this CPU cannot run are reported and left out).
# Needs the ViT-B/32 test weights of bench/model_bench.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
thread_counts=${THREAD_COUNTS:-1 $(nproc)}
seconds=${SECONDS_PER_BATCH:-3}
rounds=${ROUNDS:-2}
queries=${QUERIES:-60}
cores=${CORES:-auto Cooperlake SkylakeX Haswell Prescott}
precisions=${PRECISIONS:-bf16 int8}
weights=$root/bench/data/model/b32/openai/model.pt
results=$root/bench/results
mkdir -p "$results"
[ -f "$weights" ] || { echo "no $weights: run bench/model_bench.sh once first" >&2; exit 1; }
cmake --build "$build" --target bench_model -j2 >/dev/null
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores; model threads: $thread_counts"
runnable=""
for threads in $thread_counts; do
  for round in $(seq 1 "$rounds"); do
    for config in $cores $precisions; do
      echo "== $threads threads, round $round, $config: load average $(cut -d' ' -f1-3 /proc/loadavg)"
      out=$results/kernels_${config}_t${threads}_$round.json
      common=(--weights "$weights" --threads "$threads" --batches 16 --seconds "$seconds" --windows 3
              --queries "$queries")
      case $config in
        auto) env -u OPENBLAS_CORETYPE "$build/bench/bench_model" "${common[@]}" ;;
        fp32|bf16|int8) env -u OPENBLAS_CORETYPE "$build/bench/bench_model" "${common[@]}" --precision "$config" ;;
        *) OPENBLAS_CORETYPE=$config "$build/bench/bench_model" "${common[@]}" ;;
      esac 2>"$out.log" >"$out" || { echo "   $config: $(tail -1 "$out.log")"; rm -f "$out"; }
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" "$rounds" "$cores $precisions" "$thread_counts" <<'PY'
import json, os, sys
results, rounds, configs, thread_counts = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
for t in thread_counts:
    runs = {}
    for c in configs:
        files = [f"{results}/kernels_{c}_t{t}_{r}.json" for r in range(1, rounds + 1)]
        loaded = [json.load(open(f)) for f in files if os.path.exists(f)]
        if loaded:
            runs[c] = loaded
    if "auto" not in runs:
        continue
    best = lambda c, key: min(r[key] for r in runs[c])
    base = max(r["images_per_second"]["16"] for r in runs["auto"])
    base_cpu = best("auto", "text_cpu_ms_p50")
    print(f"\n{t} model thread(s), best of {rounds} rounds")
    print(f"{'':12}{'kernels':>12}{'images/s b16':>14}{'vs auto':>9}{'text p50 ms':>13}{'p99 ms':>9}"
          f"{'CPU ms':>9}{'vs auto':>9}  text cosine to fp32 (min)")
    for c in runs:
        rate = max(r["images_per_second"]["16"] for r in runs[c])
        cpu = best(c, "text_cpu_ms_p50")
        fid = runs[c][0].get("fidelity")
        cos = f"{fid['text_cosine_min']:.5f}" if fid else ""
        print(f"{c:12}{runs[c][0]['blas_core']:>12}{rate:14.2f}{rate / base:9.2f}{best(c, 'text_ms_p50'):13.2f}"
              f"{best(c, 'text_ms_p99'):9.2f}{cpu:9.2f}{base_cpu / cpu:9.2f}  {cos}")
    g = runs["auto"]
    print(f"{'auto, general product':22}{'':26}{best('auto', 'general_text_ms_p50'):11.2f}"
          f"{best('auto', 'general_text_ms_p99'):9.2f}{best('auto', 'general_text_cpu_ms_p50'):9.2f}"
          f"{base_cpu / best('auto', 'general_text_cpu_ms_p50'):9.2f}  packed vs general: "
          f"{min(r['packed_vs_general']['text_cosine_min'] for r in g):.7f}")
    # The packed product with each kernel this CPU runs (AVX-512; AVX2+FMA, all
    # an AVX2-only CPU gets), forced, same run.
    for kernel in g[0].get("packed_text_ms", {}):
        p50 = min(r["packed_text_ms"][kernel]["p50"] for r in g)
        p99 = min(r["packed_text_ms"][kernel]["p99"] for r in g)
        cpu = min(r["packed_text_ms"][kernel]["cpu_p50"] for r in g)
        chosen = " (the default here)" if kernel == g[0]["packed_kernel"] else ""
        print(f"{'auto, packed ' + kernel:22}{'':26}{p50:11.2f}{p99:9.2f}{cpu:9.2f}{base_cpu / cpu:9.2f}{chosen}")
    # An AVX2-only CPU, simulated: OpenBLAS on its AVX2 kernels (Haswell) for
    # the general product, the packed product on its AVX2+FMA kernel.
    if "Haswell" in runs and "avx2" in runs["Haswell"][0].get("packed_text_ms", {}):
        h = runs["Haswell"]
        general = min(r["general_text_cpu_ms_p50"] for r in h)
        avx2 = min(r["packed_text_ms"]["avx2"]["cpu_p50"] for r in h)
        print(f"an AVX2-only CPU (Haswell kernels): text CPU ms p50 {general:.2f} with the general product, "
              f"{avx2:.2f} with the packed AVX2 kernel: {general / avx2:.2f}x")
print("(text: one query, end-of-text at position 9, model time; CPU ms = CPU time of all threads per query,"
      " robust to a shared machine; 'general product' = fp32 without the packed text weights, 'packed K' ="
      " the packed text weights with kernel K forced; same run)")
PY
