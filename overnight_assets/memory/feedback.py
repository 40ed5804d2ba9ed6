"""`overnight feedback ITEM good|bad`: the owner's word on one item of a briefing, as a signal.

ITEM is the ref printed in the briefing (R3, P2, C1). Without a date it names the item of the
latest delivered night (kept for Slack, posted or waiting in the outbox) whose briefing printed
that ref; the cerebellum applies the signal on its next run. The same word on the same item is
recorded once; changing one's mind (good, then bad) records both, each applied once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from overnight_assets.resources.memory_graph import Signal, record_signals

if TYPE_CHECKING:
    from overnight_assets.resources.cortex import Cortex

Verdict = Literal["good", "bad"]
_REF = re.compile(r"[A-Z][1-9][0-9]{0,3}")  # as with_refs numbers them: from 1, ASCII digits only
SHOWN_CHARS = 40  # of what was typed, in the error


class FeedbackError(ValueError):
    """The ref names no item: said so, with the refs that night does have."""


@dataclass(frozen=True)
class Feedback:
    partition_key: str
    ref: str
    title: str
    verdict: Verdict
    recorded: bool  # False: this word on this item was recorded before


def give_feedback(cortex: Cortex, ref: str, verdict: Verdict, partition_key: str | None = None) -> Feedback:
    ref = ref.strip().upper()
    if not _REF.fullmatch(ref):
        shown = ref if len(ref) <= SHOWN_CHARS else ref[:SHOWN_CHARS] + "…"
        raise FeedbackError(f"{shown!r} is no ITEM ref: expected one as the briefing prints it, such as R3, P2 or C1")
    night, memory_id, title = _find(cortex, ref, partition_key)
    polarity = 1 if verdict == "good" else -1
    signal = Signal(
        "feedback",
        polarity,
        f"{night} {ref}",
        f"feedback:{night}:{ref}:{verdict}",
        memory_id=memory_id,
        detail=f"{verdict}: {title}",
        partition_key=night,
    )
    return Feedback(night, ref, title, verdict, record_signals(cortex, [signal]) == 1)


def _find(cortex: Cortex, ref: str, partition_key: str | None) -> tuple[str, int | None, str]:
    """(night, memory id, title) of the ref: in that night's briefing, or the latest delivered one printing it."""
    if not cortex.exists():  # asks the Cortex server when one serves it
        raise FeedbackError(f"no Cortex at {cortex.path} yet: no briefing has been made with this home")
    delivered = "SELECT partition_key FROM deliveries"
    with cortex.connect(read_only=True) as db:
        night = (
            partition_key
            or db.execute(
                f"SELECT max(partition_key) FROM briefing_items WHERE ref = ? AND partition_key IN ({delivered})", [ref]
            ).fetchone()[0]
        )
        row = db.execute(
            "SELECT partition_key, memory_id, title FROM briefing_items WHERE partition_key = ? AND ref = ?",
            [night, ref],
        ).fetchone()
        if row is not None:
            return row
        shown = (
            partition_key
            or db.execute(
                f"SELECT max(partition_key) FROM briefing_items WHERE partition_key IN ({delivered})"
            ).fetchone()[0]
        )
        refs = [r for (r,) in db.execute("SELECT ref FROM briefing_items WHERE partition_key = ?", [shown]).fetchall()]
    listed = ", ".join(sorted(refs, key=_ref_order)) or "none"
    if partition_key and not refs:
        raise FeedbackError(
            f"no briefing of {partition_key} lists items: no night {partition_key} has run with this home"
        )
    if partition_key:
        raise FeedbackError(f"no item {ref} in the briefing of {partition_key} (its refs: {listed})")
    if shown is None:
        raise FeedbackError(f"no item {ref}: no delivered briefing lists items yet")
    raise FeedbackError(f"no item {ref} in any delivered briefing (the latest, {shown}, lists {listed})")


def _ref_order(ref: str) -> tuple[str, int]:
    return ref[0], int(ref[1:])
