"""The week's synthesis, written by consolidation on Sundays as a memory of its own.

The deterministic path comes first: the week's top memories (live, kept in the seven days to the
night's end, by weight). The LLM only writes a paragraph over them; without it, the memory lists
them and says it is a fallback. Either way the synthesis is linked (`derived_from`) to what it read,
so those memories count as referenced while it lives. A rerun of the night rewrites the same memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from overnight_assets.resources.cortex import memory_hash
from overnight_assets.resources.llm import as_data

if TYPE_CHECKING:
    from overnight_assets.resources.cortex import Cortex
    from overnight_assets.resources.llm import LLMSession

TOP_MEMORIES = 12
BODY_CHARS = 300  # of each memory's body, in the prompt
SYSTEM = (
    "You write the weekly synthesis of a homelab's shared memory: what the week's kept items say together. "
    "One paragraph of at most 120 words, then up to five short themes."
)


class WeekSynthesis(BaseModel):
    paragraph: str = Field(max_length=2000)
    themes: list[str] = Field(default_factory=list, max_length=8)


@dataclass(frozen=True)
class TopMemory:
    id: int
    kind: str
    source: str
    title: str
    body: str
    weight: float


def is_sunday(partition_key: str) -> bool:
    """The partition's day (already in the configured timezone) is a Sunday."""
    return date.fromisoformat(partition_key).weekday() == 6


def week_top_memories(cortex: Cortex, week_end: datetime, limit: int = TOP_MEMORIES) -> list[TopMemory]:
    with cortex.connect(read_only=True) as db:
        rows = db.execute(
            """SELECT id, kind, source, title, coalesce(body, ''), weight FROM memories
               WHERE valid_to IS NULL AND kind <> 'synthesis' AND coalesce(valid_from, created_at) >= ?
               AND coalesce(valid_from, created_at) < ? ORDER BY weight DESC, coalesce(valid_from, created_at) DESC, id
               LIMIT ?""",
            [week_end - timedelta(days=7), week_end, limit],
        ).fetchall()
    return [TopMemory(*row) for row in rows]


def prompt(partition_key: str, top: list[TopMemory]) -> str:
    listed = "\n".join(f"- [{m.kind}, {m.source}] {m.title}: {m.body[:BODY_CHARS]}" for m in top)
    return f"The week ending {partition_key}: its top memories, by weight.\n{as_data('memories', listed)}"


def fallback_body(top: list[TopMemory]) -> str:
    lines = [f"{n}. {m.title} ({m.kind}, {m.source}, weight {m.weight:.2f})" for n, m in enumerate(top, 1)]
    return "\n".join(["Fallback (the LLM was unavailable): the week's top memories, by weight.", *lines])


def llm_body(answer: WeekSynthesis) -> str:
    themes = "; ".join(theme.strip() for theme in answer.themes if theme.strip())
    return answer.paragraph.strip() + (f"\nThemes: {themes}" if themes else "")


def write_synthesis(
    cortex: Cortex, partition_key: str, week_end: datetime, session: LLMSession, run_id: str | None = None
) -> tuple[str, int]:
    """Ask for the week's synthesis (no Cortex connection held meanwhile), remember it; returns its
    source ("llm", "fallback", or "nothing kept" for an empty week) and how many memories it read."""
    top = week_top_memories(cortex, week_end)
    if not top:
        _remember(cortex, partition_key, week_end, "No memory was kept this week.", [], run_id)
        return "nothing kept", 0
    answer = session.ask("summarize", SYSTEM, prompt(partition_key, top), WeekSynthesis)
    body, source = (llm_body(answer), "llm") if answer else (fallback_body(top), "fallback")
    _remember(cortex, partition_key, week_end, body, [m.id for m in top], run_id)
    return source, len(top)


def _remember(cortex: Cortex, partition_key: str, week_end: datetime, body: str, read: list[int], run_id) -> None:
    with cortex.connect() as db:
        db.execute("BEGIN")
        synthesis_id = db.execute(
            """INSERT INTO memories (kind, source, title, body, content_hash, created_at, weight, partition_key,
                                     asset, run_id, valid_from)
               VALUES ('synthesis', 'consolidation', ?, ?, ?, ?, 1.0, ?, 'consolidation', ?, ?)
               ON CONFLICT (content_hash) DO UPDATE SET body = excluded.body, run_id = excluded.run_id
               RETURNING id""",
            [
                f"The week ending {partition_key}",
                body,
                memory_hash("synthesis", partition_key),
                week_end,
                partition_key,
                run_id,
                week_end,
            ],
        ).fetchone()[0]
        db.execute(
            """INSERT INTO edges (src, dst, kind, weight, created_at)
               SELECT ?, unnest(?::BIGINT[]), 'derived_from', 1.0, ? ON CONFLICT DO NOTHING""",
            [synthesis_id, read, week_end],
        )
        db.execute("COMMIT")
