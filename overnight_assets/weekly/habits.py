"""basal_ganglia: habit forming. The week's signals move each source's and each interest's weight,
in bounded steps, and every step says which signals and words moved it.

A signal counts for a source when its memory came from that source (or its subject names it: a
failed source), and for an interest when its memory's title or text, or the signal's detail,
mentions one of the interest's keywords. Each weight takes one step a week: its net signals
(good minus bad) times STEP_PER_SIGNAL, at most MAX_STEP either way, multiplied onto the weight it
had before the week's step. A rerun of the week steps from that same weight again, so it never
steps twice; only what its signals change is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from overnight_assets.section import Line, Section, bold
from overnight_assets.status import Status

if TYPE_CHECKING:
    from overnight_assets.config import Interest, Source
    from overnight_assets.weekly.store import Signal
    from overnight_assets.weekly.weeks import Week

STEP_PER_SIGNAL = 0.05  # a net signal moves a weight 5 %
MAX_STEP = 0.20  # and a week at most 20 %, either way
MIN_WEIGHT = 0.01  # a weight never reaches 0: a source or interest can always come back
QUOTED_TITLES = 3  # in a change's reason
SECTION_ORDER = 91  # after the nightly sections, beside evolution's


@dataclass(frozen=True)
class Evidence:
    signal: Signal
    words: tuple[str, ...] = ()  # the interest keywords it mentions


@dataclass(frozen=True)
class Change:
    target_kind: str  # source | interest
    target: str
    old: float
    new: float
    reason: str
    signal_ids: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"target_kind": self.target_kind, "target": self.target, "old": self.old, "new": self.new,
                "reason": self.reason, "signal_ids": list(self.signal_ids)}  # fmt: skip


def moved_by(signals: list[Signal], sources: list[Source], interests: list[Interest]) -> dict[tuple[str, str], list]:
    """(kind, target) -> the evidence of each signal that counts for it."""
    names = {source.name for source in sources}
    patterns = {interest.topic: interest.keyword_pattern() for interest in interests if interest.keywords}
    found: dict[tuple[str, str], list[Evidence]] = {}
    for signal in signals:
        source = signal.source if signal.source in names else signal.subject if signal.subject in names else None
        if source:
            found.setdefault(("source", source), []).append(Evidence(signal))
        for topic, pattern in patterns.items():
            if words := sorted({hit.lower() for hit in pattern.findall(signal.words)}):
                found.setdefault(("interest", topic), []).append(Evidence(signal, tuple(words)))
    return found


def step(net: int) -> float:
    """The week's factor for a net count of signals: within 1 ± MAX_STEP."""
    return 1 + max(-MAX_STEP, min(MAX_STEP, STEP_PER_SIGNAL * net))


def plan(
    signals: list[Signal],
    sources: list[Source],
    interests: list[Interest],
    stored: dict[str, dict[str, float]],
    before: dict[tuple[str, str], float],
) -> list[Change]:
    """The week's changes: for each target its signals move, from the weight before the week's step
    (`before`, when a run of this week already stepped) to the stepped weight, when that differs from now."""
    configured = {("source", s.name): s.weight for s in sources} | {("interest", i.topic): i.weight for i in interests}
    changes = []
    for (kind, target), evidence in sorted(moved_by(signals, sources, interests).items()):
        now = stored[kind].get(target, configured[(kind, target)])
        base = before.get((kind, target), now)
        net = sum(e.signal.polarity for e in evidence)
        new = round(max(MIN_WEIGHT, base * step(net)), 4)
        if new != now:
            changes.append(Change(kind, target, now, new, reason(evidence, net), tuple(e.signal.id for e in evidence)))
    return changes


def reason(evidence: list[Evidence], net: int) -> str:
    good = sum(1 for e in evidence if e.signal.polarity > 0)
    bad = sum(1 for e in evidence if e.signal.polarity < 0)
    kinds = ", ".join(sorted({e.signal.kind for e in evidence}))
    titles = [f"{'+' if e.signal.polarity > 0 else '-'} {e.signal.title or e.signal.subject}" for e in evidence]
    words = sorted({word for e in evidence for word in e.words})
    said = [
        f"{good} good and {bad} bad signal(s) this week ({kinds}; ids {', '.join(str(e.signal.id) for e in evidence)})",
        f"step {step(net) - 1:+.0%} (net {net:+d}, bounded to ±{MAX_STEP:.0%} a week)",
        "from: " + "; ".join(titles[:QUOTED_TITLES]) + (f"; and {len(titles) - QUOTED_TITLES} more" if len(titles) > QUOTED_TITLES else ""),
    ]  # fmt: skip
    if words:
        said.append("words: " + ", ".join(words))
    return "; ".join(said)


def habits_section(week: Week, steps: list[Change], signals: int, written: int) -> Section:
    """The week's step as Cortex logged it (`steps`: from the weight before the week to now), so a
    rerun reports the same step; `written`: how many changes this run wrote."""
    if not steps:
        lines = [Line.text(f"{signals} signal(s) this week; none moved a weight.")]
    else:
        rerun = "" if written else " (already taken by an earlier run of this week)"
        lines = [
            Line.text(f"{len(steps)} weight(s) changed from {signals} signal(s){rerun}; the next digest uses them.")
        ]
        lines += [
            Line.item(bold(f"{c.target_kind} {c.target}"), f": {c.old:g} → {c.new:g}", details=[Line.text(c.reason)])
            for c in steps
        ]
    return Section(
        key="basal_ganglia",
        title=f"Habits, week of {week}",
        status=Status.GREEN,
        items=[change.to_dict() for change in steps],
        order=SECTION_ORDER,
        lines=tuple(lines),
    )
