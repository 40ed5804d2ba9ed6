"""365 simulated nights of the demo's volume: each night remembers what the demo's night keeps (the
digest's 8 articles, arxiv_finds' 5 papers, a few code reviews; a tenth of them a story already kept
under another URL), links them, lists them in the briefing, then consolidates. Reported: the time per
night (target: at most 5 s), live memories and the Cortex file's size over the year against the bound
the README states.

Each night the owner marks two of the night's items good and one bad (`overnight feedback`), then the
real cerebellum (signals applied along each item's path, the rest decayed) and consolidation run, timed
together (target: at most 5 s a night).
Usage: python benchmarks/memory_year.py [--nights N]
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _report import figure, report

from overnight_assets.memory import cerebellum
from overnight_assets.memory.consolidation import Settings, consolidate
from overnight_assets.memory.feedback import give_feedback
from overnight_assets.resources.cortex import Cortex, memory_hash

FIRST = datetime(2026, 1, 2, 3, tzinfo=UTC)
ARTICLES, PAPERS, REVIEWS = 8, 5, 4  # the demo's digest_size, arxiv keep, and a few commits a night
PER_NIGHT = ARTICLES + PAPERS + REVIEWS
SETTINGS = Settings()
REFLEXES = cerebellum.Settings()
# live: a night's memories stay until they are past retention and their weight, decaying each night it
# is not reinforced, is under prune_below (a week's slack); rows: ended ones stay forget_after_days
# more, and a compressed one is two rows
DECAY_NIGHTS = math.ceil(math.log(SETTINGS.prune_below) / math.log(REFLEXES.decay_per_night))
LIFE = max(SETTINGS.retention_days, DECAY_NIGHTS) + 7
LIVE_BOUND = PER_NIGHT * LIFE
ROWS_BOUND = 2 * PER_NIGHT * (LIFE + SETTINGS.forget_after_days + 7)
FILE_BOUND_MB = 32
WORDS = [
    "ollama",
    "duckdb",
    "dagster",
    "kernel",
    "backup",
    "firmware",
    "cluster",
    "quantization",
    "scheduler",
    "container",
    "storage",
    "network",
    "tailscale",
    "proxmox",
    "jellyfin",
    "postgres",
    "wireguard",
    "homelab",
    "inference",
    "release",
    "security",
    "benchmark",
    "guide",
]


def night_rows(night: int, rng: random.Random) -> list[dict]:
    rows = []
    for n in range(PER_NIGHT):
        kind = "article" if n < ARTICLES else "paper" if n < ARTICLES + PAPERS else "code_review"
        story = f"{night}-{n}"
        if kind == "article" and n == 0 and night > 3:  # a story seen again under another URL
            story = f"{night - rng.randint(1, 3)}-{rng.randint(1, ARTICLES - 1)}"
        a, b, c = (WORDS[hash((story, k)) % len(WORDS)] for k in range(3))
        title = f"{a.title()} {b} {c} notes {story}"
        body = f"{title}. " + "Details of the item, with figures 42 and 7.5 and more words. " * (
            30 if n % 5 == 0 else 3
        )
        url = (
            f"https://{'arxiv.org/abs/2601.' + story.replace('-', '') if kind == 'paper' else 'news.example/' + story}"
        )
        url += f"?via={night}-{n}" if kind == "article" else ""
        rows.append({"kind": kind, "title": title, "body": body, "url": url, "canonical": url.split("?")[0]})
    return rows


def remember(cortex: Cortex, night: int, when: datetime, rng: random.Random) -> tuple[str, list[str]]:
    """What the night's workers keep (reading/store.py remember_kept, code_reviews memories_for), with the
    provenance and links the graph branch writes, and the briefing's items."""
    partition = (when - timedelta(days=1)).date().isoformat()
    rows = night_rows(night, rng)
    refs = [f"R{n}" for n in range(1, ARTICLES + PAPERS + 1)]  # as the briefing numbers a night's items
    with cortex.connect() as db:
        db.execute("BEGIN")
        ids = [
            db.execute(
                """INSERT INTO memories (kind, source, url, title, body, content_hash, created_at, weight,
                                         partition_key, asset, run_id, canonical_url, valid_from)
                   VALUES (?, 'demo', ?, ?, ?, ?, ?, 1.0, ?, 'article_digest', ?, ?, ?)
                   ON CONFLICT (content_hash) DO NOTHING RETURNING id""",
                [
                    r["kind"],
                    r["url"],
                    r["title"],
                    r["body"],
                    memory_hash(r["kind"], r["url"]),
                    when,
                    partition,
                    f"run-{night}",
                    r["canonical"],
                    when,
                ],
            ).fetchone()[0]
            for r in rows
        ]
        db.execute(
            """INSERT INTO edges (src, dst, kind, weight, created_at)
               SELECT unnest(?::BIGINT[]), unnest(?::BIGINT[]), 'mentioned_with', 0.8, ? ON CONFLICT DO NOTHING""",
            [ids[:-1], ids[1:], when],
        )
        db.execute(
            """INSERT INTO briefing_items (partition_key, ref, memory_id, title, source)
               SELECT ?, unnest(?::VARCHAR[]), unnest(?::BIGINT[]), 'item', 'demo'""",
            [partition, refs, ids[: ARTICLES + PAPERS]],
        )
        db.execute("COMMIT")
    return partition, refs


def owner_feedback(cortex: Cortex, partition: str, refs: list[str], rng: random.Random) -> None:
    good_1, good_2, bad = rng.sample(refs, 3)
    for ref, verdict in ((good_1, "good"), (good_2, "good"), (bad, "bad")):
        give_feedback(cortex, ref, verdict, partition)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nights", type=int, default=365)
    args = parser.parse_args()
    rng = random.Random(11)
    slowest = total = 0.0
    live_max = rows_max = 0
    with tempfile.TemporaryDirectory() as folder:
        cortex = Cortex(Path(folder) / "cortex.duckdb")
        for night in range(args.nights):
            when = FIRST + timedelta(days=night)
            partition, refs = remember(cortex, night, when, rng)
            owner_feedback(cortex, partition, refs, rng)
            started = time.perf_counter()
            cerebellum.run_night(cortex, partition, REFLEXES, None, [])
            outcome = consolidate(cortex, SETTINGS, when)
            took = time.perf_counter() - started
            slowest, total = max(slowest, took), total + took
            with cortex.connect(read_only=True) as db:
                rows = db.execute("SELECT count(*) FROM memories").fetchone()[0]
            live_max, rows_max = max(live_max, outcome.kept), max(rows_max, rows)
            if night % 30 == 29 or night == args.nights - 1:
                size = cortex.path.stat().st_size / 1e6
                print(
                    f"night {night + 1:3d}: {outcome.kept} live, {rows} rows, {size:.1f} MB, {took:.2f} s "
                    f"(pruned {outcome.pruned}, merged {outcome.merged}, compressed {outcome.compressed}, "
                    f"forgotten {outcome.forgotten})"
                )
        size_mb = cortex.path.stat().st_size / 1e6
    report(
        "memory_year",
        [
            figure("slowest night (cerebellum + consolidation)", round(slowest, 3), "s", "<= 5 s", slowest <= 5),
            figure("mean night", round(total / args.nights, 3), "s"),
            figure("most live memories", live_max, "rows", f"<= {LIVE_BOUND}", live_max <= LIVE_BOUND),
            figure("most memory rows (live + history)", rows_max, "rows", f"<= {ROWS_BOUND}", rows_max <= ROWS_BOUND),
            figure(
                "Cortex file after the year",
                round(size_mb, 1),
                "MB",
                f"<= {FILE_BOUND_MB} MB",
                size_mb <= FILE_BOUND_MB,
            ),
        ],
    )


if __name__ == "__main__":
    main()
