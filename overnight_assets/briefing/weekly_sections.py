"""The Sunday chain's sections in Monday's briefing, read from Cortex (table weekly_sections).

The weekly assets keep their sections there; the night whose day is the week's Sunday (delivered
on Monday morning) takes them, or, if the week ran late, the first night after within a week.
The night that took a section is recorded, so a rerun of that night shows it again and no other
night shows it twice. The briefing knows nothing of the weekly domain but this table.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from overnight_assets.resources.cortex import Cortex

WITHIN_DAYS = 7  # a week's sections wait this long for a briefing; an older night's backfill does not take them


def take_weekly_sections(cortex: Cortex, partition_key: str) -> dict[str, dict]:
    """The sections due in the night's briefing, by asset (the latest week's of each), marked taken by the night."""
    oldest = (date.fromisoformat(partition_key) - timedelta(days=WITHIN_DAYS - 1)).isoformat()
    due = "week_end <= ? AND week_end >= ? AND (briefed_in IS NULL OR briefed_in = ?)"
    with cortex.connect() as db:
        db.execute("BEGIN")
        rows = db.execute(
            f"SELECT asset, section FROM weekly_sections WHERE {due} ORDER BY week",
            [partition_key, oldest, partition_key],
        ).fetchall()
        db.execute(
            f"UPDATE weekly_sections SET briefed_in = ? WHERE {due}",
            [partition_key, partition_key, oldest, partition_key],
        )
        db.execute("COMMIT")
    return {asset: json.loads(section) for asset, section in rows}  # a later week's replaces an earlier one's
