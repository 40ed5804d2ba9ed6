"""`overnight serve` under a bounded loopback load: GET /runs/{id} of a finished nightly run (its
status and each section's verdict, as Home Assistant would poll it).

A real `overnight serve` process on a SQLite DAGSTER_HOME (the test kit's: the demo's host samples,
an LLM nobody answers); one nightly run launched through it and waited for; then CLIENTS threads,
each with its own keep-alive connection, send REQUESTS requests in all. Figures: requests per second
over the whole load, and the p50 and p99 latency of one request. The clients share this machine's
cores with the server, so the figures are what one host serves to itself, a floor for a LAN.

Target: p99 at most 500 ms (a poll every few seconds never queues behind the last one).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from _report import figure, report

from overnight_assets_tests.testkit import poll
from overnight_assets_tests.testkit.nights import NIGHT
from overnight_assets_tests.testkit.serve import overnight_serve

TARGET_P99_MS = 500.0


def finished_run(served) -> str:
    status, launched, _ = served.call("POST", "/runs", {"job": "nightly", "partition": NIGHT})
    assert status == 202, launched
    run_id = launched["run_id"]
    done = poll(lambda: (a := served.call("GET", f"/runs/{run_id}")[1])["finished"] and a, 300, "the run", 0.5)
    assert done["status"] == "SUCCESS" and done["verdicts"], done
    return run_id


def load(served, path: str, clients: int, requests: int) -> tuple[float, list[float]]:
    """(wall seconds, each request's latency in seconds) for `requests` GETs spread over `clients` threads."""
    host, port = served.url.removeprefix("http://").split(":")
    headers = {"Authorization": f"Bearer {served.token}"}
    latencies: list[float] = []
    lock, start = threading.Lock(), threading.Barrier(clients + 1)

    def client(count: int) -> None:
        connection, mine = http.client.HTTPConnection(host, int(port), timeout=30), []
        start.wait()
        for _ in range(count):
            began = time.perf_counter()
            connection.request("GET", path, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
            mine.append(time.perf_counter() - began)
            assert answer.status == 200 and json.loads(body)["finished"], body[:200]
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(requests // clients,)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root, overnight_serve(Path(root)) as served:
        run_id = finished_run(served)
        load(served, f"/runs/{run_id}", args.clients, args.clients * 10)  # warm-up: connections, caches
        wall, latencies = load(served, f"/runs/{run_id}", args.clients, args.requests)
    latencies_ms = sorted(latency * 1000 for latency in latencies)
    p99 = latencies_ms[min(len(latencies_ms) - 1, int(len(latencies_ms) * 0.99))]
    print(f"{len(latencies)} GET /runs/{{id}} from {args.clients} clients in {wall:.2f} s")
    report(
        "serve_requests",
        [
            figure("GET /runs/{id}: requests per second", round(len(latencies) / wall, 1), "req/s"),
            figure("GET /runs/{id}: p50 latency", round(statistics.median(latencies_ms), 2), "ms"),
            figure(
                "GET /runs/{id}: p99 latency", round(p99, 2), "ms", f"<= {TARGET_P99_MS:g} ms", p99 <= TARGET_P99_MS
            ),
        ],
    )


if __name__ == "__main__":
    main()
