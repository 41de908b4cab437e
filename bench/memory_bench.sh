#!/usr/bin/env bash
# Memory per indexed image at scale (bench_indexing_memory, stand-in model,
# tiny distinct JPEGs): peak RSS above the start of a first run and of a
# re-scan, at FILES_SMALL (default 5,000) and FILES (default 25,000) files,
# and the slope between them (KB per image, fixed costs left out). The
# pipeline's share of the design's budget, without the model:
#   peak above start <= 200 MB + 2.5 KB per image
# Environment: BUILD (default ./build), FILES, FILES_SMALL.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
files=${FILES:-25000}
small=${FILES_SMALL:-5000}
results=$root/bench/results
mkdir -p "$results"
cmake --build "$build" --target bench_indexing_memory -j2 >/dev/null
work=${TMPDIR:-/tmp}/imgsearchd-bench-memory
"$build/bench/bench_indexing_memory" --files "$small" --work "$work" | tee "$results/memory_small.json"
"$build/bench/bench_indexing_memory" --files "$files" --work "$work" | tee "$results/memory_large.json"
/usr/bin/python3 - "$results/memory_small.json" "$results/memory_large.json" <<'PY'
import json, sys
small, large = (json.load(open(p)) for p in sys.argv[1:3])
for kind in ("first_run", "rescan"):
    slope_kb = 1024.0 * (large[f"{kind}_peak_mb"] - small[f"{kind}_peak_mb"]) / (large["files"] - small["files"])
    budget = 200 + 2.5 * large["files"] / 1024
    print(f"{kind:<10} {large['files']} files: peak {large[f'{kind}_peak_mb']:.0f} MB above start "
          f"(budget without the model {budget:.0f} MB: ratio {large[f'{kind}_peak_mb'] / budget:.2f}); "
          f"slope {slope_kb:.2f} KB per image (target <= 2.5)")
PY
