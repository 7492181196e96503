#!/usr/bin/env python3
"""Measurements for the delivery engine (stdlib only; loopback only).

  measure.py latency HERALD_BIN [N]   idle latency: N events at ~20/s, send -> first byte at receiver
  measure.py backlog HERALD_BIN [N]   RSS before/after queuing N deliveries to a dead endpoint

Each starts its own `herald serve` on 127.0.0.1 with a temporary data dir and stops it.
"""
import http.server, json, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

KEY = "hrd_measureMeasureMeasureMeasureMeasure0000"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def call(base, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("authorization", f"Bearer {KEY}")
    if data is not None:
        req.add_header("content-type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"null")


def start(binary, env_extra):
    d = tempfile.mkdtemp(prefix="herald-measure-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update({"HERALD_ADMIN_KEY": KEY, "HERALD_LOG": "warn"}, **env_extra)
    p = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", d + "/data",
                          "--allow-private-targets"], env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/readyz", timeout=1)
            break
        except Exception:
            time.sleep(0.05)
    return p, base, d


def latency(binary, n=1000, rate=20.0):
    arrivals = {}

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            t = time.monotonic()
            self.rfile.read(int(self.headers["content-length"]))
            arrivals[self.headers["webhook-id"]] = t
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    p, base, d = start(binary, {})
    try:
        app = call(base, "POST", "/v1/apps", {"name": "latency"})["id"]
        call(base, "POST", f"/v1/apps/{app}/endpoints", {"url": f"http://127.0.0.1:{srv.server_port}/hook"})
        sent, acked = {}, {}
        for i in range(n):
            t0 = time.monotonic()
            ev = call(base, "POST", f"/v1/apps/{app}/events", {"type": "latency.probe", "payload": {"i": i}})
            sent[ev["id"]], acked[ev["id"]] = t0, time.monotonic()
            time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - t0)))
        deadline = time.time() + 30
        while len(arrivals) < n and time.time() < deadline:
            time.sleep(0.1)
        from_send = sorted((arrivals[k] - sent[k]) * 1000 for k in sent if k in arrivals)
        from_ack = sorted((arrivals[k] - acked[k]) * 1000 for k in sent if k in arrivals)
        q = lambda xs, f: xs[min(len(xs) - 1, int(f * len(xs)))]
        print(json.dumps({"events": n, "delivered": len(from_send),
                          "send_to_arrival_ms": {"p50": round(q(from_send, .5), 2), "p99": round(q(from_send, .99), 2), "max": round(from_send[-1], 2)},
                          "ack_to_arrival_ms": {"p50": round(q(from_ack, .5), 2), "p99": round(q(from_ack, .99), 2)}}))
    finally:
        p.terminate(); p.wait(15); srv.shutdown(); shutil.rmtree(d, ignore_errors=True)


def backlog(binary, n=1_000_000):
    dead = free_port()  # nothing listens: every attempt is refused
    p, base, d = start(binary, {"HERALD_RETRY_SCHEDULE": "5s,5m,30m,2h,5h,10h,10h"})
    try:
        app = call(base, "POST", "/v1/apps", {"name": "backlog"})["id"]
        endpoints = 10
        for _ in range(endpoints):
            call(base, "POST", f"/v1/apps/{app}/endpoints", {"url": f"http://127.0.0.1:{dead}/down"})
        time.sleep(1)
        before = rss_kb(p.pid)
        batches = n // (100 * endpoints)
        item = {"type": "backlog.item", "payload": {"pad": "x" * 200}}
        t0 = time.time()

        def one(_):
            call(base, "POST", f"/v1/apps/{app}/events/batch", {"items": [item] * 100})

        peak = before
        with ThreadPoolExecutor(8) as pool:
            for k, _ in enumerate(pool.map(one, range(batches))):
                if k % 200 == 0:
                    peak = max(peak, rss_kb(p.pid))
        took = time.time() - t0
        peak = max(peak, rss_kb(p.pid))
        time.sleep(10)  # the engine works through the first attempts of the backlog
        after = rss_kb(p.pid)
        db = sum(os.path.getsize(os.path.join(d, "data", f)) for f in os.listdir(os.path.join(d, "data")))
        print(json.dumps({"deliveries": batches * 100 * endpoints, "ingest_seconds": round(took, 1),
                          "rss_before_mb": round(before / 1024, 1), "rss_peak_mb": round(peak / 1024, 1),
                          "rss_after_mb": round(after / 1024, 1), "store_mb": round(db / 1048576, 1)}))
    finally:
        p.terminate(); p.wait(20); shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    what, binary = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else None
    if what == "latency":
        latency(binary, count or 1000)
    elif what == "backlog":
        backlog(binary, count or 1_000_000)
    else:
        sys.exit(__doc__)
