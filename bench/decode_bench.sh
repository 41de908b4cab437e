#!/usr/bin/env bash
# Decode cost per format and size: core-ms per image for imgsearchd's loader
# (decode + CLIP preprocessing, one image at a time) beside Pillow's draft
# mode and CLIP's full-decode recipe, on the same files in one run:
#   shipped/            the wallpapers of bench/fetch_photos.sh as shipped
#                       (mostly progressive JPEGs, 1.5-24 MP)
#   <format>-<long>/    the 6 largest re-encoded at a long side of 1600 and
#                       4000 pixels as camera-style baseline JPEG, progressive
#                       JPEG, PNG, WebP and HEIC (bench_decode make, kept in
#                       bench/data/formats/)
# Also prints the largest mean absolute difference of imgsearchd's centre crop
# from the full recipe's (the tests' bound is 0.01), and Pillow draft's.
# Core-ms is CPU time, so a shared machine inflates it less than wall time.
# Environment: BUILD (default ./build), REPEAT (default 3), REFERENCE_PYTHON.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
python=${REFERENCE_PYTHON:-/usr/bin/python3}
repeat=${REPEAT:-3}
formats=$root/bench/data/formats
results=$root/bench/results
mkdir -p "$results"

"$root/bench/fetch_photos.sh" >/dev/null
cmake --build "$build" --target bench_decode -j2 >/dev/null
"$build/bench/bench_decode" make --photos "$root/bench/data/photos" --out "$formats"
"$python" "$root/bench/pillow_decode_bench.py" --files "$formats" --reference "$results/decode-reference" \
  --repeat "$repeat" > "$results/decode_pillow.jsonl"
"$build/bench/bench_decode" time --files "$formats" --reference "$results/decode-reference" --repeat "$repeat" \
  > "$results/decode_imgsearchd.jsonl"

"$python" - "$results/decode_imgsearchd.jsonl" "$results/decode_pillow.jsonl" <<'PY'
import collections, json, sys
ours = {r["file"]: r for r in map(json.loads, open(sys.argv[1]))}
pillow = {r["file"]: r for r in map(json.loads, open(sys.argv[2]))}
groups = collections.defaultdict(list)
for key in ours:
    groups[key.split("/")[0]].append(key)
print(f"{'set':<24}{'n':>3}{'MP':>7}{'imgsearchd':>12}{'Pillow draft':>14}{'vs draft':>10}{'Pillow full':>13}"
      f"{'max diff':>10}{'draft diff':>12}")
print(f"{'':<24}{'':>3}{'':>7}{'core-ms':>12}{'core-ms':>14}{'':>10}{'core-ms':>13}{'(<=0.01)':>10}{'':>12}")
def mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None
def fmt(value, width, spec=".1f"):
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}{spec}}"
for name in sorted(groups):
    keys = groups[name]
    mp = mean(ours[k]["width"] * ours[k]["height"] / 1e6 for k in keys)
    cms = mean(ours[k]["core_ms"] for k in keys)
    draft = mean(pillow.get(k, {}).get("draft_core_ms") for k in keys)
    full = mean(pillow.get(k, {}).get("full_core_ms") for k in keys)
    diffs = [ours[k]["mad_vs_pillow_full"] for k in keys if ours[k]["mad_vs_pillow_full"] >= 0]
    draft_diffs = [pillow[k]["draft_mad_vs_full"] for k in keys if "draft_mad_vs_full" in pillow.get(k, {})]
    print(f"{name:<24}{len(keys):>3}{mp:>7.1f}{cms:>12.1f}{fmt(draft, 14)}{fmt(draft and cms / draft, 10, '.2f')}"
          f"{fmt(full, 13)}{fmt(max(diffs) if diffs else None, 10, '.4f')}"
          f"{fmt(max(draft_diffs) if draft_diffs else None, 12, '.4f')}")
PY
