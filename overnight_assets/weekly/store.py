"""What the Sunday chain reads from Cortex and writes to it, each a short unit of work.

A week's signals are those of its nights (`partition_key`), or, for a signal without a night,
those observed within the week's window. The weights the chain sets go to `source_weights` and
`interest_weights`, where the next digest reads them, each change logged in `weight_log` under
the week's key; the sections for Monday's briefing go to `weekly_sections`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from overnight_assets.resources.cortex import Cortex
    from overnight_assets.weekly.weeks import Week

CHANGED_BY = "basal_ganglia"


@dataclass(frozen=True)
class Signal:
    """An outcome of the week, with what its memory says (source, title, text) when it names one."""

    id: int
    kind: str  # reaction | feedback | failure
    polarity: int  # +1 good, -1 bad
    subject: str
    detail: str
    source: str | None  # the memory's source, if the signal names a memory
    title: str
    text: str  # the memory's body and the signal's detail: where interest keywords are found
    url: str | None

    @property
    def words(self) -> str:
        return f"{self.title}\n{self.text}\n{self.subject}"


def week_signals(cortex: Cortex, week: Week, timezone: str) -> list[Signal]:
    start, end = week.window(timezone)
    with cortex.connect(read_only=True) as db:
        rows = db.execute(
            """SELECT s.id, s.kind, s.polarity, s.subject, coalesce(s.detail, ''), m.source, coalesce(m.title, ''),
                      coalesce(m.body, ''), m.url
               FROM signals s LEFT JOIN memories m ON m.id = s.memory_id
               WHERE s.partition_key IN (SELECT unnest(?::VARCHAR[]))
                  OR (s.partition_key IS NULL AND s.observed_at >= ? AND s.observed_at < ?)
               ORDER BY s.id""",
            [week.nights, start, end],
        ).fetchall()
    return [
        Signal(id, kind, polarity, subject, detail, source, title, f"{body}\n{detail}", url)
        for id, kind, polarity, subject, detail, source, title, body, url in rows
    ]


def week_memories(cortex: Cortex, week: Week) -> list[dict]:
    """What the week's nights kept: kind, source, url and title of each memory."""
    with cortex.connect(read_only=True) as db:
        rows = db.execute(
            """SELECT kind, source, url, title FROM memories WHERE partition_key IN (SELECT unnest(?::VARCHAR[]))
               ORDER BY id""",
            [week.nights],
        ).fetchall()
    return [{"kind": kind, "source": source, "url": url, "title": title} for kind, source, url, title in rows]


def week_weight_changes(cortex: Cortex, week: Week) -> list[dict]:
    """Every weight the week's nights (cerebellum, consolidation) or an earlier step of this week changed."""
    with cortex.connect(read_only=True) as db:
        rows = db.execute(
            """SELECT target_kind, target, old_weight, new_weight, reason, changed_by FROM weight_log
               WHERE partition_key IN (SELECT unnest(?::VARCHAR[])) ORDER BY id""",
            [[*week.nights, week.key]],
        ).fetchall()
    keys = ("target_kind", "target", "old_weight", "new_weight", "reason", "changed_by")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def stored_weights(cortex: Cortex) -> dict[str, dict[str, float]]:
    """The weights Cortex holds: {"source": {name: weight}, "interest": {topic: weight}}."""
    with cortex.connect(read_only=True) as db:
        return {
            "source": dict(db.execute("SELECT source, weight FROM source_weights").fetchall()),
            "interest": dict(db.execute("SELECT topic, weight FROM interest_weights").fetchall()),
        }


def weights_before(cortex: Cortex, week: Week) -> dict[tuple[str, str], float]:
    """(kind, target) -> the weight before this week's step, for the targets the step already moved:
    a rerun steps from there again, so it never steps twice."""
    with cortex.connect(read_only=True) as db:
        rows = db.execute(
            "SELECT target_kind, target, old_weight FROM weight_log WHERE changed_by = ? AND partition_key = ? ORDER BY id",
            [CHANGED_BY, week.key],
        ).fetchall()
    before: dict[tuple[str, str], float] = {}
    for kind, target, old in rows:
        before.setdefault((kind, target), old)
    return before


def week_steps(cortex: Cortex, week: Week) -> list[tuple]:
    """This week's step per target as logged: (kind, target, weight before the week, weight now, last reason)."""
    with cortex.connect(read_only=True) as db:
        return db.execute(
            """SELECT target_kind, target, arg_min(old_weight, id), arg_max(new_weight, id), arg_max(reason, id)
               FROM weight_log WHERE changed_by = ? AND partition_key = ?
               GROUP BY target_kind, target HAVING arg_min(old_weight, id) <> arg_max(new_weight, id)
               ORDER BY target_kind, target""",
            [CHANGED_BY, week.key],
        ).fetchall()


_TABLES = {"source": ("source_weights", "source"), "interest": ("interest_weights", "topic")}


def apply_weights(cortex: Cortex, week: Week, changes: list) -> None:
    """Set each change's weight and log it, all in one transaction (a crash sets none)."""
    if not changes:
        return
    with cortex.connect() as db:
        db.execute("BEGIN")
        for change in changes:
            table, column = _TABLES[change.target_kind]
            db.execute(
                f"""INSERT INTO {table} ({column}, weight, updated_at) VALUES (?, ?, now())
                    ON CONFLICT ({column}) DO UPDATE SET weight = excluded.weight, updated_at = excluded.updated_at""",
                [change.target, change.new],
            )
            db.execute(
                """INSERT INTO weight_log (target_kind, target, old_weight, new_weight, reason, signal_id, changed_by,
                                          partition_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    change.target_kind,
                    change.target,
                    change.old,
                    change.new,
                    change.reason,
                    change.signal_ids[0] if change.signal_ids else None,
                    CHANGED_BY,
                    week.key,
                ],
            )
        db.execute("COMMIT")


def keep_section(cortex: Cortex, week: Week, asset: str, section: dict, report_path: str | None = None) -> None:
    """The asset's section for Monday's briefing; a rerun replaces it (a briefing that took it keeps its mark)."""
    with cortex.connect() as db:
        db.execute(
            """INSERT INTO weekly_sections (week, asset, week_end, section, report_path) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (week, asset) DO UPDATE SET section = excluded.section, report_path = excluded.report_path,
               created_at = now()""",
            [week.key, asset, week.sunday.isoformat(), json.dumps(section), report_path],
        )
