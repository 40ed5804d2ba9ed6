"""The cerebellum: once a night, after the delivery, it gathers outcome signals and reinforces.

Signals (Cortex `signals`, each read once by its dedupe_key, applied once by `applied_at`):
- reactions on the Slack messages of the last `memory.reaction_nights` delivered nights: a
  reaction in `memory.good_reactions` / `memory.bad_reactions` on a message counts, once per
  person, for every item that message carries (the briefing records which message carried each
  ITEM ref). Per-item feedback is `overnight feedback R3 good|bad`, which records a signal too.
- failures: the night's failed sources (a feed, an arXiv query, a repository) and failed runs.

Reinforcement, all in one Cortex transaction: a good signal warms the item's memory and exactly the
edges on the path that produced it (its own edges: item -> topic, item -> source, review ->
repository; and the source's edge to each topic the item matched), by STEP; a bad one cools them
by STEP; a failed source cools the source's memory and its edges. A weight moves at most
MAX_NIGHT_CHANGE in a night, its reruns counted, and stays within [FLOOR, CEILING]. Then every live
memory (anchors aside) and edge no signal moved is multiplied by `memory.decay_per_night`, never below FLOOR.
Every change is a weight_log row with its reason; the decay is one row per target kind and night
(target '*', new_weight the factor), which also marks the night as decayed: a rerun applies only
signals that arrived since, and no decay.

Slack unreachable, refusing (a missing scope) or rate-limiting: the messages not read are named in
the report and read again on a later night (their reactions are still there); the night goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from overnight_assets.redaction import redact_secrets
from overnight_assets.resources.cortex import memory_hash
from overnight_assets.resources.memory_graph import (
    ANCHOR_KINDS,
    Signal,
    WeightChange,
    change_weight_in,
    edge_target,
    ids_by_hash,
    record_signals,
    weight_of,
)

if TYPE_CHECKING:
    import duckdb

    from overnight_assets.resources.cortex import Cortex

STEP = 0.10  # one signal moves a weight by 10 %
MAX_NIGHT_CHANGE = 0.20  # however many signals and reruns, a weight moves at most 20 % in a night
FLOOR, CEILING = 0.05, 5.0  # below prune_below (0.1 by default), so what nothing reinforces can be pruned
DECAY_REASON = "decay"
ReadReactions = Callable[[str, str], list[dict]]  # (channel id, message ts) -> Slack's `reactions` list


@dataclass(frozen=True)
class Settings:
    good_reactions: tuple[str, ...] = ("+1", "white_check_mark", "star")
    bad_reactions: tuple[str, ...] = ("-1", "x")
    reaction_nights: int = 3
    decay_per_night: float = 0.98


@dataclass(frozen=True)
class Failure:
    """A failed source or run of the night: `kind` source|repository|run, and what it is called."""

    kind: str
    name: str
    why: str


@dataclass(frozen=True)
class Carried:
    """One delivered Slack message and the ITEM refs (ref -> memory id) it carries."""

    partition_key: str
    channel_id: str
    ts: str
    items: dict[str, int | None]


@dataclass
class NightReport:
    messages_read: int = 0
    unread: list[str] = field(default_factory=list)  # what could not be read, and why
    signals_new: int = 0
    signals_applied: int = 0
    weight_changes: int = 0
    decayed: dict[str, int] = field(default_factory=dict)  # target kind -> how many decayed; {} if done before


def run_night(
    cortex: Cortex, partition_key: str, settings: Settings, read: ReadReactions | None, failures: list[Failure]
) -> NightReport:
    report = NightReport()
    signals = failure_signals(cortex, partition_key, failures)
    if read is None:
        report.unread.append("Slack not configured: no reactions read")
    else:
        messages = carried_messages(cortex, partition_key, settings.reaction_nights)
        signals += reaction_signals(messages, read, settings, report)
    report.signals_new = record_signals(cortex, signals)
    reinforce(cortex, partition_key, settings, report)
    return report


# --- gathering ---------------------------------------------------------------------------------


def carried_messages(cortex: Cortex, partition_key: str, nights: int) -> list[Carried]:
    """The delivered messages of the `nights` nights up to this one, with the refs each carries."""
    since = (date.fromisoformat(partition_key) - timedelta(days=nights - 1)).isoformat()
    with cortex.connect(read_only=True) as db:
        rows = db.execute(
            """SELECT b.partition_key, d.channel_id, b.message_ts, list(b.ref ORDER BY b.ref), list(b.memory_id ORDER BY b.ref)
               FROM briefing_items b JOIN deliveries d ON d.partition_key = b.partition_key
               WHERE b.message_ts IS NOT NULL AND d.channel_id IS NOT NULL AND b.partition_key BETWEEN ? AND ?
               GROUP BY ALL ORDER BY b.partition_key, b.message_ts""",
            [since, partition_key],
        ).fetchall()
    return [Carried(night, channel, ts, dict(zip(refs, ids, strict=True))) for night, channel, ts, refs, ids in rows]


def reaction_signals(
    messages: list[Carried], read: ReadReactions, settings: Settings, report: NightReport
) -> list[Signal]:
    """One signal per person, meaningful reaction and item carried; a message that cannot be read is
    named in the report (its reactions are read again on a later night)."""
    signals = []
    for message in messages:
        try:
            reactions = read(message.channel_id, message.ts)
        except Exception as error:  # noqa: BLE001 - Slack down, refusing or rate-limiting never fails the night
            report.unread.append(f"reactions of {message.partition_key}'s message {message.ts}: {_describe(error)}")
            continue
        report.messages_read += 1
        for reaction in reactions:
            if not _readable_reaction(reaction):
                shown = redact_secrets(repr(reaction))[:120]
                report.unread.append(
                    f"a reaction on {message.partition_key}'s message {message.ts} not understood: {shown}"
                )
                continue
            signals += _signals_of(reaction, message, settings)
    return signals


def _readable_reaction(reaction: object) -> bool:
    """A reaction as Slack documents it: a name and the list of who reacted."""
    return (
        isinstance(reaction, dict)
        and isinstance(reaction.get("name"), str)
        and isinstance(reaction.get("users"), list)
        and all(isinstance(user, str) for user in reaction["users"])
    )


def _signals_of(reaction: dict, message: Carried, settings: Settings) -> list[Signal]:
    name = reaction["name"].split("::")[0]  # "+1::skin-tone-3" is a +1
    polarity = 1 if name in settings.good_reactions else -1 if name in settings.bad_reactions else 0
    if not polarity:
        return []
    return [
        Signal(
            "reaction",
            polarity,
            f"{message.partition_key} {ref}",
            f"reaction:{message.channel_id}:{message.ts}:{name}:{user}:{ref}",
            memory_id=memory_id,
            detail=f":{name}: by {user} on the message carrying {ref}",
            partition_key=message.partition_key,
        )
        for user in reaction["users"]
        for ref, memory_id in message.items.items()
    ]


def failure_signals(cortex: Cortex, partition_key: str, failures: list[Failure]) -> list[Signal]:
    """A failed source cools what stands for it in Cortex (its anchor memory, when it has one); a failed
    run is recorded for the weekly review, no memory having led to it."""
    anchors = [memory_hash(f.kind, f.name) for f in failures if f.kind != "run"]
    with cortex.connect(read_only=True) as db:
        ids = ids_by_hash(db, anchors)
    return [
        Signal(
            "failure",
            -1,
            f"{failure.kind} {failure.name}",
            f"failure:{failure.kind}:{partition_key}:{failure.name}",
            memory_id=ids.get(memory_hash(failure.kind, failure.name)),
            detail=failure.why[:500],
            partition_key=partition_key,
        )
        for failure in failures
    ]


def _describe(error: Exception) -> str:
    response = getattr(error, "response", None)
    if response is not None and hasattr(response, "get"):  # SlackApiError: Slack's own error word
        return f"HTTP {getattr(response, 'status_code', '?')}, error '{response.get('error', 'unknown')}'"
    return redact_secrets(f"{type(error).__name__}: {error}")[:300]


# --- reinforcing -------------------------------------------------------------------------------


def reinforce(cortex: Cortex, partition_key: str, settings: Settings, report: NightReport) -> None:
    """Apply every signal not applied yet, then (once per night) decay what none moved: one transaction."""
    with cortex.connect() as db:
        db.execute("BEGIN")
        moved = _moved_tonight(db, partition_key)  # (target kind, target) -> factor applied this night
        pending = db.execute(
            "SELECT id, kind, polarity, memory_id, subject FROM signals WHERE applied_at IS NULL ORDER BY id"
        ).fetchall()
        paths: dict[int | None, list[tuple[str, str]]] = {}  # a message many reacted to: its items' paths once
        for signal_id, kind, polarity, memory_id, subject in pending:
            if memory_id not in paths:
                memory = _live(db, memory_id)
                paths[memory_id] = path_of(db, memory) if memory is not None else []
            reason = f"{kind} {'good' if polarity > 0 else 'bad'}: {subject}"
            for target in paths[memory_id]:
                report.weight_changes += _step(db, target, polarity, reason, signal_id, moved, partition_key)
        db.execute(
            "UPDATE signals SET applied_at = now() WHERE id IN (SELECT unnest(?::BIGINT[]))", [[p[0] for p in pending]]
        )
        report.signals_applied = len(pending)
        if not _decayed(db, partition_key):
            report.decayed = _decay(db, partition_key, settings.decay_per_night, moved)
        db.execute("COMMIT")


def _moved_tonight(db: duckdb.DuckDBPyConnection, partition_key: str) -> dict[tuple[str, str], float]:
    """The factor the night's earlier runs already moved each target by: a rerun after new reactions
    moves a weight only within what is left of the night's bound."""
    rows = db.execute(
        """SELECT target_kind, target, product(new_weight / old_weight) FROM weight_log
           WHERE changed_by = 'cerebellum' AND partition_key = ? AND signal_id IS NOT NULL AND old_weight > 0
           GROUP BY ALL""",
        [partition_key],
    ).fetchall()
    return {(kind, target): factor for kind, target, factor in rows}


def path_of(db: duckdb.DuckDBPyConnection, memory_id: int) -> list[tuple[str, str]]:
    """What produced the memory, as weight targets: the memory, its own edges, and the edges from its
    source to the topics it matched."""
    edges = db.execute(
        """WITH mine AS (SELECT src, dst, kind FROM edges WHERE src = ?)
           SELECT src, dst, kind FROM mine
           UNION
           SELECT e.src, e.dst, e.kind FROM edges e
           WHERE e.kind = 'same_topic' AND e.src IN (SELECT dst FROM mine WHERE kind = 'derived_from')
             AND e.dst IN (SELECT dst FROM mine WHERE kind = 'same_topic')
           ORDER BY 1, 2, 3""",
        [memory_id],
    ).fetchall()
    return [("memory", str(memory_id)), *(("edge", edge_target(*edge)) for edge in edges)]


def _live(db: duckdb.DuckDBPyConnection, memory_id: int | None, hops: int = 5) -> int | None:
    """The live memory a signal is about: itself, or what superseded it (a merge's survivor)."""
    while memory_id is not None and hops:
        row = db.execute("SELECT valid_to IS NULL, superseded_by FROM memories WHERE id = ?", [memory_id]).fetchone()
        if row is None:
            return None
        if row[0]:
            return memory_id
        memory_id, hops = row[1], hops - 1
    return None


def _step(
    db: duckdb.DuckDBPyConnection,
    target: tuple[str, str],
    polarity: int,
    reason: str,
    signal_id: int,
    moved: dict[tuple[str, str], float],
    partition_key: str,
) -> int:
    """One signal's step on one target, within the run's bound and [FLOOR, CEILING]; 1 if it changed."""
    before = moved.get(target, 1.0)
    after = min(max(before * (1 + polarity * STEP), 1 - MAX_NIGHT_CHANGE), 1 + MAX_NIGHT_CHANGE)
    if after == before:  # at the night's bound already: nothing to read or write
        return 0
    old = weight_of(db, *target)
    new = round(min(max(old * after / before, FLOOR), CEILING), 6)
    moved[target] = after
    if new == old:
        return 0
    capped = after != before * (1 + polarity * STEP)
    note = f" (capped: at most {MAX_NIGHT_CHANGE:.0%} a night)" if capped else ""
    change_weight_in(db, WeightChange(*target, new, reason + note, signal_id), "cerebellum", partition_key)
    return 1


def _decayed(db: duckdb.DuckDBPyConnection, partition_key: str) -> bool:
    return bool(
        db.execute(
            """SELECT count(*) FROM weight_log
               WHERE changed_by = 'cerebellum' AND partition_key = ? AND target = '*' AND reason LIKE ?""",
            [partition_key, DECAY_REASON + "%"],
        ).fetchone()[0]
    )


def _decay(
    db: duckdb.DuckDBPyConnection, partition_key: str, factor: float, moved: dict[tuple[str, str], float]
) -> dict[str, int]:
    """Multiply every live memory (anchors aside) and edge no signal moved tonight by `factor`, never
    below FLOOR; one weight_log row per kind says so (and marks the night as decayed)."""
    memories = [int(target) for kind, target in moved if kind == "memory"]
    edges = [target for kind, target in moved if kind == "edge"]
    counts = {
        "memory": db.execute(
            """UPDATE memories SET weight = greatest(?, weight * ?)
               WHERE valid_to IS NULL AND weight > ? AND kind NOT IN (SELECT unnest(?::VARCHAR[]))
                 AND id NOT IN (SELECT unnest(?::BIGINT[])) RETURNING id""",
            [FLOOR, factor, FLOOR, list(ANCHOR_KINDS), memories],
        ).fetchall(),
        "edge": db.execute(
            """UPDATE edges SET weight = greatest(?, weight * ?)
               WHERE weight > ? AND (src || '>' || dst || ':' || kind) NOT IN (SELECT unnest(?::VARCHAR[])) RETURNING src""",
            [FLOOR, factor, FLOOR, edges],
        ).fetchall(),
    }
    for kind, changed in counts.items():
        noun = "live memories (anchors aside)" if kind == "memory" else "edges"
        reason = f"{DECAY_REASON}: x{factor:g} toward {FLOOR:g} for the {len(changed)} {noun} no signal moved"
        db.execute(
            """INSERT INTO weight_log (target_kind, target, old_weight, new_weight, reason, changed_by, partition_key)
               VALUES (?, '*', NULL, ?, ?, 'cerebellum', ?)""",
            [kind, factor, reason, partition_key],
        )
    return {kind: len(changed) for kind, changed in counts.items()}
