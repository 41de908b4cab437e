#!/usr/bin/env bash
# Every benchmark in one command, in one run on this machine:
#   1. model only, imgsearchd against the Python reference (model_bench.sh):
#      images/s at batch 1-32, text-query p50/p99;
#   2. the BLAS kernels and precisions this CPU can run (kernels_bench.sh):
#      what the start-up kernel selection is worth, the SSE3 (Prescott) case;
#   3. indexing end to end on real photos (indexing_bench.sh, after
#      fetch_photos.sh): images/s against model-only, against the Python loop,
#      peak RSS above the model.
# Each prints its ratios; raw figures go to bench/results/. Set SKIP to a
# list of step numbers to leave out (for example SKIP="3" without network).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
skip=" ${SKIP:-} "
echo "imgsearchd benchmarks on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (figures from a shared machine vary; compare ratios)"
[[ $skip == *" 1 "* ]] || { echo; echo "#### 1. model only"; "$here/model_bench.sh"; }
[[ $skip == *" 2 "* ]] || { echo; echo "#### 2. BLAS kernels and precision"; "$here/kernels_bench.sh"; }
if [[ $skip != *" 3 "* ]]; then
  echo; echo "#### 3. indexing"
  "$here/fetch_photos.sh"
  "$here/indexing_bench.sh"
fi
echo; echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
