#!/usr/bin/env bash
# The catalogue on PostgreSQL against SQLite, end to end, in one run on this
# machine (issue 11):
#   1. indexing throughput: `imgsearchd index` of IMAGES small distinct JPEGs
#      (made here, 320x240) with the small random-weight test model of the
#      indexing_models fixture, so that the model costs little and the
#      catalogue's share (hashing, lookups, one commit per batch) is visible;
#      images/s on each backend, ROUNDS times in alternation;
#   2. search latency through the service's HTTP API: `imgsearchd serve` on
#      the catalogue just indexed, wrk on one connection (bench/wrk/query.lua)
#      for a text never asked before (text tower + search + the hits' paths
#      from the catalogue) and for a cached text (search + paths): p50, p99;
#   3. bench_catalog on the same cluster: commit rate and paths_of alone, and
#      the time a replica takes to catch up on CATCH_UP new vectors committed
#      by another service, against a rebuild.
# Prints the PostgreSQL/SQLite ratios at the end.
#
# PostgreSQL: a throwaway cluster (initdb, pg_ctl from Debian's postgresql-15)
# in WORK, on a Unix socket only, with PostgreSQL's default durability (fsync
# and synchronous commit on), run as `nobody` when this runs as root; stopped
# and removed at the end. SQLite: the catalogue in the data folder, as
# imgsearchd makes it.
#
# Environment: BUILD (default ./build), IMAGES (default 3000), ROUNDS (default
# 2), DURATION (seconds per wrk run, default 10), CATALOG_IMAGES (bench_catalog
# --images, default 20000), CATCH_UP (default 100000; 0 leaves step 3 out),
# PORT (default 7941), WORK (default /tmp/imgsearchd-backend-bench; the photos
# are kept there between runs). Raw figures in bench/results/backend_*.
# Run with `env -u OPENBLAS_CORETYPE`, as the other benchmarks.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
images=${IMAGES:-3000}
rounds=${ROUNDS:-2}
duration=${DURATION:-10}
catalog_images=${CATALOG_IMAGES:-20000}
catch_up=${CATCH_UP:-100000}
port=${PORT:-7941}
work=${WORK:-/tmp/imgsearchd-backend-bench}
python=${REFERENCE_PYTHON:-/usr/bin/python3}
pg_bin=/usr/lib/postgresql/15/bin
results=$root/bench/results
mkdir -p "$results" "$work"
chmod 755 "$work"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
[[ -x $pg_bin/initdb ]] || { echo "no $pg_bin/initdb: apt-get install postgresql-15" >&2; exit 1; }
cmake --build "$build" --target imgsearchd bench_catalog -j2 >/dev/null

# The test model (tests/CMakeLists.txt, indexing_models).
weights=$root/bench/data/model-small/small/f32/open_clip_model.safetensors
if [[ ! -f $weights ]]; then
  "$python" "$root/tests/reference/clip_reference.py" generate --config small --formats f32 --seed 1 --threads 1 \
    --out "$root/bench/data/model-small" >/dev/null
fi

# IMAGES distinct photos-like JPEGs: a smooth random colour field plus noise,
# each from its own seed (distinct contents, no duplicates).
photos=$work/photos-$images
if [[ ! -f $photos/done ]]; then
  rm -rf "$photos"
  mkdir -p "$photos"
  "$python" - "$photos" "$images" <<'PY'
import sys, numpy as np
from PIL import Image
folder, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    rng = np.random.default_rng(i)
    field = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((320, 240), Image.BICUBIC)
    pixels = np.asarray(field, dtype=np.int16) + rng.integers(-12, 13, (240, 320, 3))
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(f"{folder}/{i // 1000:03d}-{i:06d}.jpg", quality=88)
PY
  touch "$photos/done"
fi

# The PostgreSQL cluster.
pg=$work/pg
pg_port=$((port + 1))
as_server() {
  if [[ $(id -u) == 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi
}
serve_pid=
cleanup() {
  if [[ -n $serve_pid ]]; then kill -TERM "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  if [[ -f $pg/data/postmaster.pid ]]; then as_server "$pg_bin/pg_ctl" stop -w -m fast -D "$pg/data" >/dev/null || true; fi
  rm -rf "$pg"
}
trap cleanup EXIT
cleanup
mkdir -p "$pg/data" "$pg/run"
chmod 700 "$pg/data"
[[ $(id -u) == 0 ]] && chown nobody "$pg/data" "$pg/run"
as_server "$pg_bin/initdb" --auth=trust --encoding=UTF8 --locale=C -U postgres -D "$pg/data" >"$pg/run/initdb.log"
as_server "$pg_bin/pg_ctl" start -w -t 60 -D "$pg/data" -l "$pg/run/server.log" \
  -o "-c listen_addresses='' -c unix_socket_directories='$pg/run' -p $pg_port" >/dev/null
dsn_of() { echo "host=$pg/run port=$pg_port dbname=$1 user=postgres"; }
sql() { PGOPTIONS="-c client_min_messages=warning" "$pg_bin/psql" -X -q -h "$pg/run" -p "$pg_port" -U postgres -d postgres -c "$1" >/dev/null; }

echo "backend benchmark on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores;" \
  "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on a Unix socket, default durability"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: compare ratios within one run)"
echo "$images distinct 320x240 JPEGs, the small test model, $rounds rounds"

config_for() {  # backend data_dir database
  cat <<YAML
data_dir: $2
model:
  name: $weights
store:
  backend: $1
  postgresql:
    dsn: "$(dsn_of "$3")"
    source: bench
api:
  listen: 127.0.0.1:$port
  threads: 4
log:
  level: info
YAML
}

# 1. Indexing, a fresh catalogue each time.
for round in $(seq 1 "$rounds"); do
  for backend in sqlite postgresql; do
    data=$work/data-$backend
    rm -rf "$data"
    mkdir -p "$data"
    database=bench_$backend
    sql "DROP DATABASE IF EXISTS $database"
    sql "CREATE DATABASE $database"
    config_for "$backend" "$data" "$database" >"$work/config-$backend.yaml"
    log=$results/backend_index_${backend}_$round.log
    start=$(date +%s.%N)
    "$build/daemon/imgsearchd" --config "$work/config-$backend.yaml" index "$photos" >"$log" 2>&1 \
      || { echo "index on $backend failed; its log:"; tail -20 "$log"; exit 1; }
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    echo "{\"backend\": \"$backend\", \"round\": $round, \"images\": $images, \"seconds\": $seconds}" \
      | tee "$results/backend_index_${backend}_$round.json"
  done
done
echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# 2. Search latency over HTTP on the last round's catalogues.
settle() {
  for _ in $(seq 1 120); do
    t=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/health" || echo 1)
    awk -v t="$t" 'BEGIN { exit !(t < 0.02) }' && return 0
    sleep 0.25
  done
}
for backend in sqlite postgresql; do
  log=$results/backend_serve_$backend.log
  "$build/daemon/imgsearchd" --config "$work/config-$backend.yaml" serve "$photos" >"$log" 2>&1 &
  serve_pid=$!
  ready=
  for _ in $(seq 1 600); do
    if curl -fs "http://127.0.0.1:$port/api/search?q=warm&k=1" 2>/dev/null | grep -q '"path'; then ready=1; break; fi
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.5
  done
  if [[ -z $ready ]]; then echo "serve on $backend did not become ready; its log:"; tail -20 "$log"; exit 1; fi
  # The start-up reconcile finds nothing new; wait until it is done.
  for _ in $(seq 1 240); do
    curl -fs "http://127.0.0.1:$port/api/status" | grep -q '"state": *"watching"' && break
    sleep 0.5
  done
  for query in new_text cached_text; do
    settle
    QUERY=$query wrk -t1 -c1 -d1s --timeout 10s -s "$root/bench/wrk/query.lua" "http://127.0.0.1:$port" >/dev/null
    out=$results/backend_query_${backend}_$query.json
    QUERY=$query wrk -t1 -c1 -d"${duration}s" --timeout 10s -s "$root/bench/wrk/query.lua" "http://127.0.0.1:$port" \
      | grep '^{"query"' | sed "s/^{/{\"backend\": \"$backend\", /" >"$out"
    cat "$out"
  done
  kill -TERM "$serve_pid"
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=
done
echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# 3. The catalogue alone, and a replica's catch-up.
if [[ $catch_up != 0 ]]; then
  sql "CREATE DATABASE bench_catalog"
  rm -rf "$work/catalog-sqlite"
  mkdir -p "$work/catalog-sqlite"
  "$build/bench/bench_catalog" --sqlite "$work/catalog-sqlite/catalog.db" --dsn "$(dsn_of bench_catalog)" \
    --images "$catalog_images" --catch-up "$catch_up" 2>"$results/backend_catalog.log" | tee "$results/backend_catalog.txt"
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

"$python" - "$results" "$rounds" <<'PY'
import json, sys
results, rounds = sys.argv[1], int(sys.argv[2])
rate = {}
for backend in ("sqlite", "postgresql"):
    runs = [json.load(open(f"{results}/backend_index_{backend}_{r}.json")) for r in range(1, rounds + 1)]
    rate[backend] = max(r["images"] / r["seconds"] for r in runs)  # the best round: the least disturbed
print()
print(f"{'':28}{'SQLite':>10}{'PostgreSQL':>12}{'PG/SQLite':>11}")
print(f"{'indexing, images/s (best)':28}{rate['sqlite']:10.1f}{rate['postgresql']:12.1f}"
      f"{rate['postgresql'] / rate['sqlite']:11.2f}")
for query, name in (("new_text", "new text"), ("cached_text", "cached text")):
    q = {b: json.load(open(f"{results}/backend_query_{b}_{query}.json")) for b in ("sqlite", "postgresql")}
    for key in ("p50_ms", "p99_ms"):
        label = f"search, {name}, {key[:3]} ms"
        print(f"{label:28}{q['sqlite'][key]:10.2f}{q['postgresql'][key]:12.2f}"
              f"{q['postgresql'][key] / q['sqlite'][key]:11.2f}")
    bad = sum(q[b]["non_2xx"] + q[b]["socket_errors"] for b in q)
    if bad:
        print(f"   ({bad} failed {name} requests)")
import os, re
catalog = f"{results}/backend_catalog.txt"
if os.path.exists(catalog):
    text = open(catalog).read()
    def figure(backend, pattern):
        m = re.search(rf"^{backend}\s+{pattern}", text, re.M)
        return float(m.group(1)) if m else None
    for label, pattern in (("catalogue commit, images/s", r"commit:\s+([\d.]+)"),
                           ("paths_of, us per lookup", r"paths_of:\s+([\d.]+)")):
        a, b = figure("sqlite", pattern), figure("postgresql", pattern)
        if a and b:
            print(f"{label:28}{a:10.1f}{b:12.1f}{b / a:11.2f}")
    m = re.search(r"catch-up on (\d+) new vectors: ([\d.]+) s \(a rebuild of all (\d+): ([\d.]+) s\)", text)
    if m:
        print(f"replica catch-up on {m.group(1)} new vectors (PostgreSQL): {m.group(2)} s; "
              f"a rebuild of all {m.group(3)}: {m.group(4)} s")
print("(images/s: higher is better; latency: lower is better; searches on one connection, 10 hits per query with "
      "their paths)")
PY
