"""The reading list's GPU budget: 2,000 fetched items, at most 2 x digest_size LLM calls, none on a rerun.

20 loopback feeds of 100 items each, all in the night's window, feed article_digest (digest_size
15) on a real SQLite DAGSTER_HOME with the repo's dagster.yaml, against a loopback Ollama that
answers instantly and counts the questions. Cortex already holds 5,000 memories from earlier
nights, 200 of them tonight's URLs. The calls are the loopback server's count of chats (and the
materialization's `llm_calls`), on the first run and on a rerun of the same partition. The
scoring and dedup figure times what article_digest does between reading the items and asking
the LLM (Cortex lookup of what is known, scoring, ranking, dedup) on the same 2,000 items, the
median of REPEATS.

Targets: first run at most 2 x digest_size = 30 calls, rerun 0, scoring and dedup at most 1 s.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import dagster as dg

from overnight_assets_tests.testkit.feeds import Entry, FeedServer, Reply, at, rss2

NIGHT, FEEDS, PER_FEED, DIGEST_SIZE, EARLIER, REPEATS = "2026-11-20", 20, 100, 15, 5000, 5
WORDS = ["ollama", "gguf", "quantization", "proxmox", "zfs", "dagster", "kernel", "rust", "browser", "startup"]


def feed(number: int) -> bytes:
    entries = [
        Entry(
            f"{WORDS[(number + n) % len(WORDS)]} story {number}-{n}: notes on {WORDS[n % len(WORDS)]}",
            f"https://bench{number}.example/{n}?utm_source=rss",
            f"About {WORDS[(n * 7) % len(WORDS)]} and more.",
            at(NIGHT, f"{n % 20 + 1:02d}:{n % 60:02d}"),
        )
        for n in range(PER_FEED)
    ]
    return rss2(entries, title=f"feed {number}")


def plant_earlier_memories(cortex_path: Path) -> None:
    from overnight_assets.resources.cortex import Cortex, content_hash

    urls = [
        f"https://bench{n % FEEDS}.example/{n // FEEDS}" if n < 200 else f"https://old.example/{n}"
        for n in range(EARLIER)
    ]
    with Cortex(cortex_path).connect() as db:
        db.execute(
            """INSERT INTO memories (kind, source, url, title, body, content_hash, partition_key)
               SELECT 'article', 'earlier', unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), 'seen', unnest(?::VARCHAR[]), '2026-10-01'""",
            [urls, [f"Earlier item {n}" for n in range(EARLIER)], [content_hash("article", url) for url in urls]],
        )


def digest_job() -> dg.JobDefinition:
    from overnight_assets.definitions import defs

    job = dg.define_asset_job("digest_only", selection="article_digest")
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)


def time_scoring_and_dedup(config_path: Path) -> tuple[float, int]:
    from overnight_assets.config import load_config
    from overnight_assets.partitions import Night, daily_partitions
    from overnight_assets.reading import store
    from overnight_assets.reading.score import Scorer, rank_new
    from overnight_assets.resources.cortex import Cortex

    config = load_config(config_path)
    cortex = Cortex(config.paths.cortex)
    feeds = {source.url: source.name for source in config.reading.sources}
    items = store.items_in_window(cortex, feeds, Night.of_partition(daily_partitions(config.timezone), NIGHT))
    assert len(items) == FEEDS * PER_FEED, len(items)
    seconds = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        weights = {s.name: s.weight for s in config.reading.sources} | store.source_weights(cortex)
        known_urls, known_titles = store.known_elsewhere(cortex, items, "article", NIGHT)
        ranked, _ = rank_new(items, Scorer(config.reading.interests, weights), known_urls, known_titles)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), len(ranked)


def main() -> None:
    from _loopback import loopback
    from _report import figure, report

    server = FeedServer()
    for number in range(FEEDS):
        server.routes[f"/feed{number}"] = Reply(200, feed(number), {"Content-Type": "application/rss+xml"})
    sources = [{"name": f"feed {n}", "url": server.url(f"/feed{n}")} for n in range(FEEDS)]
    interests = [
        {"topic": "local LLM", "weight": 1.0, "keywords": ["ollama", "gguf", "quantization"]},
        {"topic": "homelab", "weight": 0.6, "keywords": ["proxmox", "zfs"]},
    ]
    try:
        with loopback(reading__sources=sources, reading__interests=interests, reading__digest_size=DIGEST_SIZE) as env:
            plant_earlier_memories(env.root / "home" / "cortex.duckdb")
            job, calls = digest_job(), []
            with dg.DagsterInstance.get() as instance:
                for run in ("first run", "rerun"):
                    before = len(env.ollama.chats)
                    assert job.execute_in_process(partition_key=NIGHT, instance=instance).success
                    meta = instance.get_latest_materialization_event(
                        dg.AssetKey("article_digest")
                    ).asset_materialization.metadata
                    calls.append(max(len(env.ollama.chats) - before, meta["llm_calls"].value))
                    print(
                        f"  {run}: {meta['in_window'].value} items in the window, {meta['new'].value} new, "
                        f"{meta['llm_candidates'].value} candidates, {calls[-1]} LLM calls, {meta['llm_cache_hits'].value} cache hits, "
                        f"{meta['picked'].value} picked"
                    )
            seconds, new = time_scoring_and_dedup(env.config)
            print(f"  scoring and dedup: {seconds:.3f} s for {FEEDS * PER_FEED} items ({new} new)")
    finally:
        server.close()

    budget = 2 * DIGEST_SIZE
    report(
        "reading_llm_budget",
        [
            figure("LLM calls, first run (2,000 items)", calls[0], "calls", f"<= {budget}", calls[0] <= budget),
            figure("LLM calls, rerun of the partition", calls[1], "calls", "0", calls[1] == 0),
            figure("scoring and dedup of 2,000 items", seconds, "s", "<= 1 s", seconds <= 1),
        ],
    )


if __name__ == "__main__":
    main()
