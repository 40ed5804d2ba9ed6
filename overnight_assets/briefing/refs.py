"""ITEM refs: every item the briefing lists gets a short ref (R3, P2, C1) printed before it, in the
Markdown file and in Slack, so its owner can say what it was worth: `overnight feedback R3 good`.

A section asks for refs with its `ref_prefix` (a capital letter) and says which of its items each
list line shows (`Line.shows`); the briefing numbers them in reading order, per prefix, and records
them in Cortex's `briefing_items` (partition, ref -> memory, title, source). The Slack message
records on which page (0: the message, n: the n-th reply in its thread) each ref landed, and the
delivery turns that into the ts of the Slack message that carried it (delivery.py), so a
reaction on a message counts for the items that message carries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from overnight_assets.resources.cortex import memory_hash
from overnight_assets.resources.memory_graph import Edge, Provenance, link, remember
from overnight_assets.section import Section

if TYPE_CHECKING:
    from overnight_assets.resources.cortex import Cortex


@dataclass(frozen=True)
class BriefingItem:
    ref: str
    memory_id: int | None  # None: the worker kept no memory of it
    title: str
    source: str | None


def with_refs(sections: list[Section]) -> tuple[list[Section], list[BriefingItem]]:
    """The sections with a ref on each line that shows one of their items (and in that item), and the
    items listed, in the order the briefing prints them."""
    counters: Counter[str] = Counter()
    numbered, listed = [], []
    for section in sections:
        if not section.ref_prefix:
            numbered.append(section)
            continue
        items, lines = [dict(item) for item in section.items], []
        for line in section.lines:
            if line.shows is not None and 0 <= line.shows < len(items):
                counters[section.ref_prefix] += 1
                ref = f"{section.ref_prefix}{counters[section.ref_prefix]}"
                item = items[line.shows]
                item["ref"], line = ref, replace(line, ref=ref)
                listed.append(BriefingItem(ref, item.get("memory_id"), item.get("title") or ref, _source(item)))
            lines.append(line)
        numbered.append(replace(section, items=items, lines=tuple(lines)))
    return numbered, listed


def _source(item: dict) -> str | None:
    return item.get("source") or item.get("repo")


def record_briefing(
    cortex: Cortex, provenance: Provenance, title: str, summary: str, listed: list[BriefingItem]
) -> int:
    """The night's refs in `briefing_items` (a rerun keeps the message ts of refs it prints again, and
    drops those it no longer prints), and the briefing as a memory derived from the items it lists.
    The briefing memory's id."""
    partition_key = provenance.partition_key
    briefing = remember(
        cortex,
        [{"kind": "briefing", "source": "morning_briefing", "title": title, "body": summary,
          "content_hash": memory_hash("briefing", partition_key)}],
        provenance,
        refresh_body=True,
    ).ids[memory_hash("briefing", partition_key)]  # fmt: skip
    link(cortex, [Edge(briefing, item.memory_id, "derived_from") for item in listed if item.memory_id is not None])
    with cortex.connect() as db:
        db.execute("BEGIN")
        db.execute(
            "DELETE FROM briefing_items WHERE partition_key = ? AND ref NOT IN (SELECT unnest(?::VARCHAR[]))",
            [partition_key, [item.ref for item in listed]],
        )
        if listed:
            db.execute(
                """INSERT INTO briefing_items (partition_key, ref, memory_id, title, source)
                   SELECT ?, unnest(?::VARCHAR[]), unnest(?::BIGINT[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[])
                   ON CONFLICT (partition_key, ref) DO UPDATE SET memory_id = excluded.memory_id,
                   title = excluded.title, source = excluded.source""",
                [partition_key, *_columns(listed)],
            )
        db.execute("COMMIT")
    return briefing


def _columns(listed: list[BriefingItem]) -> list[list]:
    return [
        [item.ref for item in listed],
        [item.memory_id for item in listed],
        [item.title for item in listed],
        [item.source for item in listed],
    ]


def record_ref_pages(cortex: Cortex, partition_key: str, ref_pages: dict[str, int]) -> None:
    """On which page of the Slack message (0: the message, n: its n-th thread reply) each ref is printed."""
    if not ref_pages:
        return
    with cortex.connect() as db:
        db.execute(
            """UPDATE briefing_items SET page = pages.page
               FROM (SELECT unnest(?::VARCHAR[]) AS ref, unnest(?::INTEGER[]) AS page) pages
               WHERE briefing_items.partition_key = ? AND briefing_items.ref = pages.ref""",
            [list(ref_pages), list(ref_pages.values()), partition_key],
        )
