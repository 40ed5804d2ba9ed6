"""Retention: what the weekly maintenance removes, and what it must leave so the UI stays honest.

Runs (the instance calls are in assets.py): a run goes when it is finished (succeeded, failed or
canceled) and older than `retention.runs_days`, with its event log and captured stdout/stderr. Deleting
a run deletes its asset events too (Dagster's `delete_run`), so a run is kept, however old, when
it holds the latest materialization or observation of any asset or partition: without it the UI
and `overnight gaps` would show that night as missing, and a backfill would redo it. A run is
kept as well when a kept run belongs to its re-execution group (the UI looks the group up through
its first run). So in practice the runs that go are failed, canceled and superseded ones (a night
run again, a delivery retried); each night's own run stays.

Ticks: the daemon purges schedule and sensor ticks by dagster.yaml's `retention:` settings after
each tick of a running schedule or sensor; the job applies the same settings to every schedule and
sensor the instance knows, stopped ones too, and counts what goes.

Cortex: cached LLM answers and HTTP validators unused for `retention.cache_days` (a removed one
costs one more question or one full download), and feed items that a later parse of their feed no
longer had, last seen more than `retention.feed_items_days` ago. An item still in its feed stays
however old, so it is never taken for new when the feed is read again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from overnight_assets.config import RetentionConfig
from overnight_assets.resources.cortex import Cortex, CortexLockedError

FINISHED = ("SUCCESS", "FAILURE", "CANCELED")  # the run statuses that never change again

_PRUNE_CORTEX = {  # kind: (statement, the cutoff it takes)
    "llm_cache_deleted": ("DELETE FROM llm_cache WHERE used_at < ?", "cache"),
    "http_cache_deleted": ("DELETE FROM http_cache WHERE checked_at < ?", "cache"),
    # each parse of a feed stamps the items it had: one that a later parse did not stamp has left the feed
    "feed_items_deleted": (
        """DELETE FROM feed_items WHERE last_seen_at < ? AND EXISTS (
            SELECT 1 FROM feed_items AS later
            WHERE later.feed_url = feed_items.feed_url AND later.last_seen_at > feed_items.last_seen_at)""",
        "feed_items",
    ),
}


@dataclass(frozen=True)
class Cutoffs:
    """Everything last touched before these instants may go."""

    runs: datetime
    cache: datetime
    feed_items: datetime

    @classmethod
    def of(cls, retention: RetentionConfig, now: datetime) -> Cutoffs:
        return cls(
            runs=now - timedelta(days=retention.runs_days),
            cache=now - timedelta(days=retention.cache_days),
            feed_items=now - timedelta(days=retention.feed_items_days),
        )


@dataclass
class Removed:
    """What one maintenance run removed, per kind, and why a part was skipped."""

    counts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def add(self, counts: Mapping[str, int]) -> None:
        for kind, count in counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + count

    def summary(self) -> str:
        parts = [f"{kind.replace('_', ' ')}: {count}" for kind, count in self.counts.items()]
        parts += [f"{part} skipped: {reason}" for part, reason in self.skipped.items()]
        return "; ".join(parts) or "nothing to remove"


def removable_runs(candidates: Iterable[str], protected: set[str], roots: Mapping[str, str]) -> list[str]:
    """The candidates (old finished runs) that may go: neither protected (holding an asset's latest
    event) nor the root of a re-execution group one of whose runs stays. `roots` maps each run of a
    group rooted at a candidate to that root."""
    going = {run_id for run_id in candidates if run_id not in protected}
    kept_roots = {root for run_id, root in roots.items() if run_id not in going}
    return sorted(going - kept_roots)


def tick_purges(days_by_status: Mapping[str, int], now: datetime) -> list[tuple[list[str], datetime]]:
    """(tick statuses, before) pairs for dagster.yaml's `purge_after_days`, as the daemon applies
    them: statuses sharing a number of days go together; -1 (or 0) keeps them forever."""
    statuses_by_days: dict[int, list[str]] = defaultdict(list)
    for status, days in days_by_status.items():
        if days > 0:
            statuses_by_days[days].append(status)
    return [(sorted(statuses), now - timedelta(days=days)) for days, statuses in sorted(statuses_by_days.items())]


def prune_cortex(cortex: Cortex, cutoffs: Cutoffs) -> dict[str, int]:
    """Remove stale cache entries and feed items that left their feeds; rows removed per kind.

    Raises CortexLockedError when another process holds the file past `memory.lock_wait_s`."""
    if not cortex.exists():
        return dict.fromkeys(_PRUNE_CORTEX, 0)  # no night has run: nothing to open, nothing to create
    with cortex.connect() as db:
        db.execute("BEGIN")
        removed = {
            kind: db.execute(statement, [getattr(cutoffs, cutoff)]).fetchone()[0]
            for kind, (statement, cutoff) in _PRUNE_CORTEX.items()
        }
        db.execute("COMMIT")
    return removed


def prune_cortex_or_skip(cortex: Cortex, cutoffs: Cutoffs, removed: Removed) -> None:
    """A Cortex held by another process past the wait skips this week's pruning, said in the
    report: the maintenance never fails over it, and next week's run catches up."""
    try:
        removed.add(prune_cortex(cortex, cutoffs))
    except CortexLockedError as error:
        removed.skipped["cortex"] = str(error)
