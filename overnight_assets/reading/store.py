"""What reading keeps in Cortex: HTTP validators, every feed's parsed items, and what was already kept.

A 304 means the feed is as it was when last parsed, so its items are read back from `feed_items`
rather than parsed again; that also lets a rerun or a backfill see the items of earlier nights.
Bulk writes go through `unnest` of column lists: DuckDB's executemany takes seconds for 2,000 rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from overnight_assets.reading.items import TITLE_KEY_DROPS, Item
from overnight_assets.resources.cortex import memory_hash
from overnight_assets.resources.http import Validators, is_file
from overnight_assets.resources.memory_graph import Edge, Provenance, anchor_row, link, remember

if TYPE_CHECKING:
    from overnight_assets.partitions import Night
    from overnight_assets.resources.cortex import Cortex


def load_validators(cortex: Cortex, urls: Iterable[str]) -> dict[str, Validators]:
    urls = list(urls)
    if not urls:
        return {}
    with cortex.connect(read_only=True) as db:
        rows = db.execute(
            "SELECT url, etag, last_modified FROM http_cache WHERE url IN (SELECT unnest(?::VARCHAR[]))", [urls]
        ).fetchall()
    return {url: Validators(etag, last_modified) for url, etag, last_modified in rows}


def save_parsed(cortex: Cortex, parsed: dict[str, tuple[Validators, list[Item]]], partition_key: str) -> None:
    """Record each freshly parsed feed: its validators, and its items (first-seen night kept, seen now: retention
    removes only items a later parse of their feed no longer had)."""
    if not parsed:
        return
    items = [(feed_url, item) for feed_url, (_, feed_items) in parsed.items() for item in feed_items]
    validators = [[url, v.etag, v.last_modified] for url, (v, _) in parsed.items() if not is_file(url)]
    with cortex.connect() as db:
        db.execute("BEGIN")
        if validators:  # one row per source: few
            db.executemany(
                """INSERT INTO http_cache (url, etag, last_modified, checked_at) VALUES (?, ?, ?, now())
                   ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
                   checked_at = excluded.checked_at""",
                validators,
            )
        if items:
            db.execute(
                """INSERT INTO feed_items (feed_url, url, source, title, summary, published, extra, first_seen_partition,
                                          last_seen_at)
                   SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),
                          unnest(?::VARCHAR[]), unnest(?::TIMESTAMPTZ[]), unnest(?::VARCHAR[]), ?, now()
                   ON CONFLICT (feed_url, url) DO UPDATE SET title = excluded.title, summary = excluded.summary,
                   published = coalesce(excluded.published, feed_items.published), extra = excluded.extra,
                   last_seen_at = excluded.last_seen_at""",
                [*_columns(_deduplicated(items)), partition_key],
            )
        db.execute("COMMIT")


def _deduplicated(items: list[tuple[str, Item]]) -> list[tuple[str, Item]]:
    # a feed listing one URL twice would make the upsert touch a row twice, which DuckDB refuses
    return list({(feed_url, item.url): (feed_url, item) for feed_url, item in items}.values())


def _columns(items: list[tuple[str, Item]]) -> list[list]:
    return [
        [feed_url for feed_url, _ in items],
        [item.url for _, item in items],
        [item.source for _, item in items],
        [item.title for _, item in items],
        [item.summary for _, item in items],
        [item.published for _, item in items],
        [json.dumps(item.extra, sort_keys=True) for _, item in items],
    ]


def items_in_window(cortex: Cortex, feeds: dict[str, str], night: Night) -> list[Item]:
    """The stored items of these feeds (feed URL -> source name) that belong to the partition.

    Dated items by their date; undated ones on the night they were first seen.
    """
    if not feeds:
        return []
    with cortex.connect(read_only=True) as db:
        rows = db.execute(
            """SELECT feed_url, url, title, summary, published, extra FROM feed_items
               WHERE feed_url IN (SELECT unnest(?::VARCHAR[]))
                 AND ((published >= ? AND published < ?) OR (published IS NULL AND first_seen_partition = ?))
               ORDER BY feed_url, url""",
            [list(feeds), night.start, night.end, night.partition_key],
        ).fetchall()
    return [
        Item(
            feeds[feed_url],
            url,
            title,
            summary or "",
            published.astimezone(night.tz) if published else None,
            json.loads(extra or "{}"),
        )
        for feed_url, url, title, summary, published, extra in rows
    ]


def known_elsewhere(cortex: Cortex, items: list[Item], kind: str, partition_key: str) -> tuple[set[str], set[str]]:
    """URLs and title keys Cortex already holds, from earlier nights or other assets.

    What this asset itself kept for this partition does not count: a rerun must see its own night.
    """
    urls = sorted({item.url for item in items})
    keys = sorted({item.title_key for item in items} - {""})
    if not urls:
        return set(), set()
    with cortex.connect(read_only=True) as db:
        rows = db.execute(
            """WITH keyed AS (SELECT url, content_hash, kind, partition_key,
                                     regexp_replace(lower(title), ?, '', 'g') AS title_key FROM memories)
               SELECT url, title_key FROM keyed
               WHERE NOT (kind = ? AND partition_key IS NOT DISTINCT FROM ?)
                 AND (url IN (SELECT unnest(?::VARCHAR[]))
                      OR content_hash IN (SELECT unnest(?::VARCHAR[]))
                      OR title_key IN (SELECT unnest(?::VARCHAR[])))""",
            [TITLE_KEY_DROPS, kind, partition_key, urls, [memory_hash(kind, url) for url in urls], keys],
        ).fetchall()
    return {url for url, _ in rows if url}, {key for _, key in rows if key} & set(keys)


def source_weights(cortex: Cortex) -> dict[str, float]:
    """Weights the weekly review has set per source name; absent ones use the config's."""
    with cortex.connect(read_only=True) as db:
        return dict(db.execute("SELECT source, weight FROM source_weights").fetchall())


def interest_weights(cortex: Cortex) -> dict[str, float]:
    """Weights the weekly review (basal_ganglia) has set per interest topic; absent ones use the config's."""
    with cortex.connect(read_only=True) as db:
        return dict(db.execute("SELECT topic, weight FROM interest_weights").fetchall())


def remember_kept(cortex: Cortex, kind: str, rows: list[dict], provenance: Provenance) -> dict[str, int]:
    """Write what the asset kept as memories, with the path that led to each: the source it was read
    from (item -derived_from-> source), the interests it matched (item -same_topic-> topic) and the
    source's own edge to each of those topics (source -same_topic-> topic), the edges the cerebellum
    warms or cools when the item turns out good or bad. Returns each row's URL -> memory id."""
    topics = sorted({topic for row in rows for topic in row.get("topics", [])})
    items = [
        {
            "kind": kind,
            "source": row["source"],
            "url": row["url"],
            "title": row["title"],
            "body": row["summary"],
            "content_hash": memory_hash(kind, row["url"]),
        }
        for row in rows
    ]
    anchors = [anchor_row("source", name) for name in sorted({row["source"] for row in rows})]
    ids = remember(cortex, items + anchors + [anchor_row("topic", topic) for topic in topics], provenance).ids
    edges = []
    for row in rows:
        item, source = ids[memory_hash(kind, row["url"])], ids[memory_hash("source", row["source"])]
        edges.append(Edge(item, source, "derived_from"))
        for topic in row.get("topics", []):
            anchor = ids[memory_hash("topic", topic)]
            edges += [Edge(item, anchor, "same_topic"), Edge(source, anchor, "same_topic")]
    link(cortex, edges)
    return {row["url"]: ids[memory_hash(kind, row["url"])] for row in rows}
