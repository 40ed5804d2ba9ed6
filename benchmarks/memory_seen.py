""" "Have we seen this URL": memory_graph.seen for 2,000 items against 1,000,000 memories.

A Cortex file (migrated as the chain migrates it) holds 1,000,000 memories with distinct URLs,
canonical URLs and content hashes, written by SQL in one statement. The question is asked with
2,000 URLs as a feed gives them (tracking parameters, a fragment: seen() makes them canonical),
half of them known; the figure is the median of REPEATS, each on a fresh read-only connection, as
an asset asks it. The answer is checked: exactly the known half comes back.

Target: at most 0.5 s.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

MEMORIES, ASKED, REPEATS, TARGET_S = 1_000_000, 2_000, 5, 0.5


def fill(cortex) -> float:
    started = time.perf_counter()
    with cortex.connect() as db:
        db.execute(
            """INSERT INTO memories (kind, source, url, canonical_url, title, body, content_hash, partition_key,
                                     asset, valid_from)
               SELECT 'article', 'bench', 'https://bench.example/story/' || i, 'https://bench.example/story/' || i,
                      'Story ' || i, NULL, sha256('article' || chr(31) || 'https://bench.example/story/' || i),
                      '2026-11-20', 'article_digest', now()
               FROM range(?) t(i)""",
            [MEMORIES],
        )
    return time.perf_counter() - started


def main() -> None:
    from _report import figure, report

    from overnight_assets.resources.cortex import Cortex
    from overnight_assets.resources.memory_graph import seen

    with tempfile.TemporaryDirectory() as tmp:
        cortex = Cortex(Path(tmp) / "cortex.duckdb")
        filled_s = fill(cortex)
        step = MEMORIES // (ASKED // 2)
        known = [f"https://bench.example/story/{i}?utm_source=feed#top" for i in range(0, MEMORIES, step)]
        new = [f"https://bench.example/new/{i}?utm_source=feed" for i in range(ASKED // 2)]
        asked = known + new
        timings = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            found = seen(cortex, asked)
            timings.append(time.perf_counter() - started)
        assert found == set(known), f"seen() answered {len(found)} URLs, expected the {len(known)} known ones"
        size_mb = (Path(tmp) / "cortex.duckdb").stat().st_size / 2**20
    median = statistics.median(timings)
    print(f"{MEMORIES:,} memories written in {filled_s:.1f} s ({size_mb:.0f} MB); {ASKED:,} URLs asked {REPEATS} times")
    report(
        "memory_seen",
        [
            figure(f"seen(): {ASKED} URLs vs {MEMORIES:,} memories, median", round(median, 3), "s", f"<= {TARGET_S}",
                   median <= TARGET_S),
            figure("seen(): slowest of the repeats", round(max(timings), 3), "s"),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
