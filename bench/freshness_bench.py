#!/usr/bin/python3
"""Freshness of `imgsearchd serve`: how long from a file's close to a search
returning it, and what the service costs while idle.

  1. freshness  DROPS files dropped one at a time into a watched folder on an
                idle service; for each, the time from its close until
                GET /api/search returns its path (polled every 10 ms, so a
                figure includes up to one query). p50 and p95.
  2. burst      BURST files written at once; the time until every one is
                searchable, as files/s, against `imgsearchd index` on the
                same files into a fresh data folder.
  3. idle       IDLE files in IDLE/100 folders catalogued and watched; the
                service's CPU time over IDLE_SECONDS of quiet, and its RSS.

The model is ViT-B/32-shaped with random weights in OpenAI's format (made by
tests/reference/clip_reference.py: no real weights can be had on the build
machines; the cost is the same). Photos: Pillow's 128x128 hopper.jpg with a
tag appended (new content each, the same decode cost), and COCO photos for
the single drops. The machine is shared: rerun it for your own figures.

Environment: BUILD (default ./build), DROPS (200), BURST (10000),
IDLE (100000), IDLE_SECONDS (30), MODEL (a weights file; default: make the
random ViT-B/32), THREADS (model threads, default all cores).
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
BINARY = os.path.join(BUILD, "daemon", "imgsearchd")
SHARED = os.path.join(ROOT, "..", "shared", "testdata")
DROPS = int(os.environ.get("DROPS", 200))
BURST = int(os.environ.get("BURST", 10000))
IDLE = int(os.environ.get("IDLE", 100000))
IDLE_SECONDS = float(os.environ.get("IDLE_SECONDS", 30))
THREADS = int(os.environ.get("THREADS", 0))


def model_file():
    if os.environ.get("MODEL"):
        return os.environ["MODEL"]
    out = os.path.join(ROOT, "bench", "data", "model")
    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests", "reference", "clip_reference.py"), "generate",
                    "--config", "b32", "--formats", "openai", "--out", out], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(out, "b32", "openai", "model.pt")


def write_config(work, root, model):
    config = os.path.join(work, "config.yaml")
    with open(config, "w") as f:
        f.write(f"data_dir: {work}/data\nmodel:\n  name: {model}\n  threads: {THREADS}\n  batch_size: 16\n"
                f"indexer:\n  roots: [{root}]\nwatch:\n  reconcile_interval_s: 0\napi:\n  listen: 127.0.0.1:0\n")
    return config


class Service:
    def __init__(self, work, config):
        self.work = work
        self.log = open(os.path.join(work, "serve.log"), "ab")
        self.process = subprocess.Popen([BINARY, "--config", config, "serve"], stdout=self.log, stderr=self.log)

    def status(self):
        try:
            with open(os.path.join(self.work, "data", "service.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def wait(self, condition, what, timeout=3600):
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            status = self.status()
            if status and condition(status):
                return status
            if self.process.poll() is not None:
                sys.exit(f"imgsearchd serve ended while waiting for {what}: see {self.log.name}")
            time.sleep(0.02)
        sys.exit(f"timed out waiting for {what}")

    def search_paths(self, api):
        query = urllib.parse.urlencode({"q": "a photo", "k": 1000})
        with urllib.request.urlopen(f"{api}/api/search?{query}", timeout=30) as answer:
            return {hit["path"] for hit in json.load(answer)["results"]}

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)


def small_photo(path, tag):
    shutil.copyfile(os.path.join(SHARED, "pillow", "hopper.jpg"), path)
    with open(path, "ab") as f:
        f.write(tag.encode())


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def freshness(model):
    work = tempfile.mkdtemp(prefix="imgsearchd-freshness-")
    root = os.path.join(work, "photos")
    os.makedirs(root)
    service = Service(work, write_config(work, root, model))
    status = service.wait(lambda s: s.get("startup_reconcile_done") and s.get("model_loaded"), "the start")
    api = status["api"]
    coco = sorted(os.path.join(SHARED, "coco-val", n) for n in os.listdir(os.path.join(SHARED, "coco-val"))
                  if n.endswith(".jpg"))
    latencies = []
    for i in range(DROPS):
        path = os.path.join(root, f"drop-{i:04d}.jpg")
        with open(coco[i % len(coco)], "rb") as source:
            data = source.read() + f"drop {i}".encode()  # new content every time
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        os.close(fd)
        closed = time.monotonic()
        while path not in service.search_paths(api):
            time.sleep(0.01)
        latencies.append(time.monotonic() - closed)
    service.stop()
    shutil.rmtree(work)
    return latencies


def burst(model):
    work = tempfile.mkdtemp(prefix="imgsearchd-burst-")
    root = os.path.join(work, "photos")
    os.makedirs(root)
    service = Service(work, write_config(work, root, model))
    service.wait(lambda s: s.get("startup_reconcile_done") and s.get("model_loaded"), "the start")
    start = time.monotonic()
    for i in range(BURST):
        folder = os.path.join(root, f"f{i // 500:03d}")
        os.makedirs(folder, exist_ok=True)
        small_photo(os.path.join(folder, f"p{i:05d}.jpg"), f"burst {i}")
    written = time.monotonic()
    service.wait(lambda s: s.get("searchable") == BURST and s.get("pending_paths") == 0, "the burst")
    done = time.monotonic()
    service.stop()
    # The same files, indexed once by `imgsearchd index` into a fresh data folder.
    shutil.rmtree(os.path.join(work, "data"))
    index_start = time.monotonic()
    subprocess.run([BINARY, "--config", os.path.join(work, "config.yaml"), "index", "--json"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    index_seconds = time.monotonic() - index_start
    shutil.rmtree(work)
    return written - start, done - start, index_seconds


def idle(model):
    work = tempfile.mkdtemp(prefix="imgsearchd-idle-")
    root = os.path.join(work, "photos")
    hopper = os.path.join(SHARED, "pillow", "hopper.jpg")
    for i in range(IDLE):
        folder = os.path.join(root, f"f{i // 100:04d}")
        if i % 100 == 0:
            os.makedirs(folder)
        # The same content everywhere: one embedding, and the set is catalogued quickly.
        shutil.copyfile(hopper, os.path.join(folder, f"p{i:06d}.jpg"))
    service = Service(work, write_config(work, root, model))
    service.wait(lambda s: s.get("startup_reconcile_done") and s.get("files_ok") == IDLE and
                 s.get("pending_paths") == 0, "the idle set", timeout=7200)
    time.sleep(2)  # let the last commit's checkpoint finish before measuring quiet
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu_seconds():
        with open(f"/proc/{service.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    before = cpu_seconds()
    time.sleep(IDLE_SECONDS)  # the measurement window itself
    cpu = cpu_seconds() - before
    with open(f"/proc/{service.process.pid}/status") as f:
        rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    watches = sum(r.get("watches", 0) for r in service.status().get("roots", []))
    service.stop()
    shutil.rmtree(work)
    return cpu / IDLE_SECONDS, rss_kb / 1024, watches


def main():
    if not os.path.exists(BINARY):
        sys.exit(f"{BINARY} is missing: build first")
    model = model_file()
    print(f"model {model}, {os.cpu_count()} cores (shared machine: figures vary)")
    if DROPS:
        latencies = freshness(model)
        print(f"freshness over {len(latencies)} drops one at a time: p50 {statistics.median(latencies) * 1000:.0f} ms, "
              f"p95 {percentile(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms (target p95 <= 1000 ms)")
    if BURST:
        writing, serve_seconds, index_seconds = burst(model)
        print(f"burst of {BURST} files (written in {writing:.1f} s): all searchable after {serve_seconds:.1f} s = "
              f"{BURST / serve_seconds:.1f} files/s; imgsearchd index on the same files: {index_seconds:.1f} s = "
              f"{BURST / index_seconds:.1f} files/s; ratio {index_seconds / serve_seconds:.2f}")
    if IDLE:
        cpu, rss, watches = idle(model)
        print(f"idle with {IDLE} files in {IDLE // 100} folders ({watches} inotify watches): CPU {cpu * 100:.2f} % of "
              f"one core over {IDLE_SECONDS:.0f} s, RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
