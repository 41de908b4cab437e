#!/usr/bin/env bash
# Every benchmark in one command, in one run on this machine:
#   1. model only, imgsearchd against the Python reference (model_bench.sh):
#      images/s at batch 1-32, text-query p50/p99;
#   2. the BLAS kernels and precisions this CPU can run (kernels_bench.sh):
#      what the start-up kernel selection is worth, the SSE3 (Prescott) case;
#   3. decode cost per format and size (decode_bench.sh): core-ms per image
#      for imgsearchd's loader beside Pillow's draft mode and full decode;
#   4. indexing end to end on real photos (indexing_bench.sh, after
#      fetch_photos.sh): images/s against model-only, the CPU ceiling
#      (cores / (decode + model core-s per image)) and the ratio to it,
#      against the Python loop, peak RSS above the model;
#   5. memory per indexed image at 25,000 files (memory_bench.sh);
#   6. the catalogue on PostgreSQL against SQLite (backend_bench.sh): indexing
#      throughput and search latency over HTTP on both, a replica's catch-up
#      on 100,000 new vectors (needs Debian's postgresql-15).
# Each prints its ratios; raw figures go to bench/results/. Set SKIP to a
# list of step numbers to leave out (for example SKIP="3 4" without network).
# For figures to compare across machines, run it as
#   env -u OPENBLAS_CORETYPE bench/run_all.sh
# so that OpenBLAS (or imgsearchd's start-up selection) picks the kernels.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
skip=" ${SKIP:-} "
echo "imgsearchd benchmarks on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
echo "OPENBLAS_CORETYPE: ${OPENBLAS_CORETYPE:-unset}; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" \
  "(figures from a shared machine vary; compare ratios)"
[[ $skip == *" 1 "* ]] || { echo; echo "#### 1. model only"; "$here/model_bench.sh"; }
[[ $skip == *" 2 "* ]] || { echo; echo "#### 2. BLAS kernels and precision"; "$here/kernels_bench.sh"; }
[[ $skip == *" 3 "* ]] || { echo; echo "#### 3. decode cost per format and size"; "$here/decode_bench.sh"; }
if [[ $skip != *" 4 "* ]]; then
  echo; echo "#### 4. indexing"
  "$here/fetch_photos.sh"
  "$here/indexing_bench.sh"
fi
[[ $skip == *" 5 "* ]] || { echo; echo "#### 5. memory per indexed image"; "$here/memory_bench.sh"; }
[[ $skip == *" 6 "* ]] || { echo; echo "#### 6. PostgreSQL against SQLite"; "$here/backend_bench.sh"; }
echo; echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
