"""The reading list's fetch phase: 18 sources, each answering after 500 ms, fetched at once vs one by one.

A loopback server (the tests' own, overnight_assets_tests/testkit/feeds.py) holds every
answer 500 ms, then sends a 50-item RSS feed. The concurrent figure is `read_sources`' fetch phase
as article_digest runs it (fetch_all over the 18 URLs, with a Cortex for the validators); the
sequential reference fetches the same URLs one after another with the same client code, once.
The concurrent figure is the median of REPEATS; the server never answers 304 here (no ETag), so every fetch is a full one.

Target: concurrent fetch phase at most 1.5 s (sequential would take 18 x 0.5 = 9 s).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from overnight_assets_tests.testkit.feeds import Entry, FeedServer, Reply, at, rss2

SOURCES, DELAY_S, REPEATS = 18, 0.5, 3


def main() -> None:
    from _report import figure, report

    from overnight_assets.config import FetchConfig, ReadingConfig, Source
    from overnight_assets.partitions import Night, daily_partitions
    from overnight_assets.reading.reading_list import read_sources
    from overnight_assets.resources.cortex import Cortex
    from overnight_assets.resources.http import fetch_all

    server = FeedServer()
    feed = rss2(
        [
            Entry(f"Story {n}", f"https://bench.example/{n}", "text", at("2026-11-20", f"{n % 20 + 1:02d}:00"))
            for n in range(50)
        ]
    )
    for n in range(SOURCES):
        server.routes[f"/feed{n}"] = Reply(200, feed, hold_s=DELAY_S)
    reading = ReadingConfig(sources=[Source(name=f"source {n}", url=server.url(f"/feed{n}")) for n in range(SOURCES)])
    settings = FetchConfig(timeout_s=10)
    the_night = Night.of_partition(daily_partitions("UTC"), "2026-11-20")
    concurrent, sequential = [], []
    try:
        with tempfile.TemporaryDirectory(prefix="overnight-bench-") as tmp:
            for repeat in range(REPEATS):
                night = read_sources(reading.sources, settings, Cortex(Path(tmp) / f"cortex{repeat}.duckdb"), the_night)
                assert night.answered == SOURCES, night.outcomes
                concurrent.append(night.fetch_seconds)
                print(f"  run {repeat + 1}: at once {concurrent[-1]:.3f} s")
            started = time.perf_counter()  # the reference once: it takes 9 s
            for source in reading.sources:
                assert fetch_all([source.url], {}, settings)[source.url].outcome == "ok"
            sequential.append(time.perf_counter() - started)
            print(f"  one by one {sequential[-1]:.3f} s")
    finally:
        server.close()

    at_once, one_by_one = statistics.median(concurrent), statistics.median(sequential)
    report(
        "reading_fetch",
        [
            figure("fetch phase, 18 sources x 500 ms, at once", at_once, "s", "<= 1.5 s", at_once <= 1.5),
            figure("same 18 fetched one by one (reference)", one_by_one, "s", "~9 s", None),
            figure("speed-up", round(one_by_one / at_once, 1), "x", "", None),
        ],
    )


if __name__ == "__main__":
    main()
