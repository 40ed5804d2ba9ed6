"""Memories written with plain SQL, as the workers keep them (schema 0009): one at a time for a test
that names each, or a big memory made in DuckDB for the kill test and the benchmarks; and a checksum
of every table, to say a memory is exactly as it was."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from overnight_assets.resources.cortex import Cortex, content_hash

_serial = itertools.count()


def add_memory(
    db,
    title: str,
    as_of: datetime,
    age_days: float = 1,
    weight: float = 1.0,
    url: str | None = None,
    body: str | None = None,
    kind: str = "article",
    canonical_url: str | None = None,
) -> int:
    """One live memory kept `age_days` before `as_of`; returns its id."""
    kept = as_of - timedelta(days=age_days)
    return db.execute(
        """INSERT INTO memories (kind, source, url, title, body, content_hash, created_at, weight, partition_key,
                                 asset, run_id, canonical_url, valid_from)
           VALUES (?, 'test', ?, ?, ?, ?, ?, ?, ?, 'article_digest', 'run-1', ?, ?) RETURNING id""",
        [
            kind,
            url,
            title,
            body,
            content_hash(kind, url or title, str(next(_serial))),
            kept,
            weight,
            kept.date().isoformat(),
            canonical_url or url,
            kept,
        ],
    ).fetchone()[0]


def add_edge(db, src: int, dst: int, kind: str = "same_topic", weight: float = 1.0) -> None:
    db.execute("INSERT INTO edges (src, dst, kind, weight) VALUES (?, ?, ?, ?)", [src, dst, kind, weight])


def fill_memory(db, memories: int, edges: int, as_of: datetime, days: int = 365, seed: int = 7) -> None:
    """`memories` memories spread over `days` before `as_of` and `edges` random edges between them, made in
    DuckDB: about a third below the prune floor, one in 50 a twin of another (same canonical URL), one in
    100 with a long body; titles from a vocabulary, each with an identifier of its own."""
    db.execute(f"SELECT setseed({seed / 100})")
    db.execute(
        """INSERT INTO memories (kind, source, url, title, body, content_hash, created_at, weight, partition_key,
                                 asset, run_id, canonical_url, valid_from)
           WITH numbered AS (
               SELECT i, CASE WHEN i % 50 = 1 THEN i - 1 ELSE i END AS story,
                      ? - to_days(CAST(floor(random() * ?) AS INTEGER)) - to_hours(CAST(i % 24 AS INTEGER)) AS kept
               FROM range(?) t(i))
           SELECT CASE WHEN i % 3 = 0 THEN 'paper' ELSE 'article' END,
                  'source ' || (i % 18),
                  'https://news.example/' || story || '?utm_source=' || i,
                  (['local', 'model', 'cluster', 'backup', 'kernel', 'release', 'storage', 'network',
                    'quantization', 'scheduler', 'container', 'firmware'])[1 + (story % 12)] || ' ' ||
                  (['notes', 'update', 'guide', 'review', 'postmortem', 'benchmark', 'roadmap'])[1 + (story % 7)] ||
                  ' ' || story,
                  CASE WHEN i % 100 = 7 THEN repeat('A long account of the night, with figures 42 and 7.5. ', 40)
                       ELSE 'A short summary.' END,
                  sha256('bench' || i), kept, CASE WHEN i % 3 = 2 THEN 0.05 ELSE 1.0 END,
                  strftime(kept, '%Y-%m-%d'), 'article_digest', 'run-' || i,
                  'https://news.example/' || story, kept
           FROM numbered""",
        [as_of, days, memories],
    )
    low, high = db.execute("SELECT min(id), max(id) FROM memories").fetchone()
    db.execute(
        """INSERT INTO edges (src, dst, kind, weight)
           SELECT DISTINCT ON (src, dst, kind) src, dst, kind, weight FROM (
               SELECT ? + CAST(floor(random() * ?) AS BIGINT) AS src, ? + CAST(floor(random() * ?) AS BIGINT) AS dst,
                      (['same_topic', 'mentioned_with', 'derived_from'])[1 + (i % 3)] AS kind,
                      CASE WHEN i % 4 = 0 THEN 0.05 ELSE 0.8 END AS weight
               FROM range(?) t(i)) WHERE src <> dst
           ON CONFLICT DO NOTHING""",
        [low, high - low + 1, low, high - low + 1, edges],
    )


def checksum(cortex: Cortex) -> dict[str, tuple]:
    """Every table's row count and a hash of all its rows, in an order of their own."""
    with cortex.connect(read_only=True) as db:
        tables = [row[0] for row in db.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        return {
            table: db.execute(f'SELECT count(*), sum(hash(t::VARCHAR)) FROM "{table}" t').fetchone() for table in tables
        }
