"""Cortex as a graph: what every asset may ask of the shared memory, and how it writes to it.

Plain functions over a `Cortex` (no domain, no dagster):
- `remember`: memories with their provenance (asset, partition, run id) and canonical URL; a
  memory already known (same content_hash) keeps its id, its weight and its provenance.
- `link`: edges between memories (src, dst, kind); an edge already there keeps its weight.
- `seen`: which of these URLs or content hashes Cortex holds, in one set-based query.
- `related`, `mattered_lately`: live neighbours by edge weight; live memories by weight and good signals.
- `record_signals`: outcomes, each read once (its dedupe_key).
- `change_weights`: every weight change in the same transaction as its weight_log row and reason.

A memory is LIVE while `valid_to IS NULL`; one superseded, merged, compressed or pruned keeps its
row with `valid_to` set (history stays explainable). Bulk writes go through `unnest` of column
lists: DuckDB's executemany takes seconds for a few thousand rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from overnight_assets.resources.cortex import memory_hash
from overnight_assets.urls import canonical_or_none

if TYPE_CHECKING:
    import duckdb

    from overnight_assets.resources.cortex import Cortex

EdgeKind = Literal["same_topic", "same_entity", "derived_from", "reviewed_in", "mentioned_with"]
SignalKind = Literal["reaction", "feedback", "failure"]
TargetKind = Literal["memory", "edge", "source", "interest"]
ChangedBy = Literal["cerebellum", "consolidation", "basal_ganglia"]
# memories that stand for a thing items hang on (an interest's topic, a reading source, a repository):
# the anchors of the graph's paths, never learned by decay
ANCHOR_KINDS = ("topic", "source", "repository")
_KEYED = {  # target_kind -> (table, key column) of the weights kept by name
    "source": ("source_weights", "source"),
    "interest": ("interest_weights", "topic"),
}


@dataclass(frozen=True)
class Provenance:
    """Which asset kept a memory, for which night, in which run."""

    asset: str
    partition_key: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class Remembered:
    ids: dict[str, int]  # content_hash -> memory id, for every row given (new or already known)
    new: int  # how many were not known before


@dataclass(frozen=True)
class Edge:
    src: int
    dst: int
    kind: EdgeKind
    weight: float = 1.0

    @property
    def target(self) -> str:
        """How weight_log names an edge."""
        return edge_target(self.src, self.dst, self.kind)


@dataclass(frozen=True)
class Signal:
    kind: SignalKind
    polarity: int  # +1 good, -1 bad
    subject: str  # what it is about, for a person: "2026-05-01 R3", "source Slashdot", "run 1a2b…"
    dedupe_key: str  # the same outcome read twice has the same key: it is recorded once
    memory_id: int | None = None
    detail: str | None = None
    partition_key: str | None = None  # the night it is about


@dataclass(frozen=True)
class WeightChange:
    target_kind: TargetKind
    target: str  # a memory id, "src>dst:kind", a source name, a topic
    new_weight: float
    reason: str
    signal_id: int | None = None


@dataclass(frozen=True)
class Neighbour:
    id: int
    kind: str
    source: str
    title: str
    url: str | None
    weight: float  # the memory's
    edge_kind: str
    edge_weight: float


def edge_target(src: int, dst: int, kind: str) -> str:
    return f"{src}>{dst}:{kind}"


def content_hash_of(row: dict) -> str:
    """A row's content_hash: given, or its kind and what identifies it (URL, else title)."""
    return row.get("content_hash") or memory_hash(row["kind"], row.get("url") or row["title"])


# --- writing -----------------------------------------------------------------------------------


def remember(
    cortex: Cortex, rows: list[dict], provenance: Provenance | None = None, refresh_body: bool = False
) -> Remembered:
    """Insert memories (dicts: kind, source, title, and optional url, body, content_hash, weight).
    A row whose content_hash is known is left as it was, but for its body when `refresh_body` (a
    later, fuller account of the same thing). Every row's id comes back, new or known."""
    unique: dict[str, dict] = {}
    for row in rows:  # in order, the first of repeated rows winning: ids follow the rows' order
        unique.setdefault(content_hash_of(row), row)
    if not unique:
        return Remembered({}, 0)
    provenance = provenance or Provenance(asset="")
    hashes = list(unique)
    columns = [
        [row["kind"] for row in unique.values()],
        [row["source"] for row in unique.values()],
        [row.get("url") for row in unique.values()],
        [canonical_or_none(row.get("url")) for row in unique.values()],
        [row["title"] for row in unique.values()],
        [row.get("body") for row in unique.values()],
        hashes,
        [float(row.get("weight", 1.0)) for row in unique.values()],
    ]
    on_conflict = "DO UPDATE SET body = excluded.body" if refresh_body else "DO NOTHING"
    with cortex.connect() as db:
        db.execute("BEGIN")
        known = ids_by_hash(db, hashes)
        db.execute(
            f"""INSERT INTO memories (kind, source, url, canonical_url, title, body, content_hash, weight,
                                      partition_key, asset, run_id, valid_from)
                SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]),
                       unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::DOUBLE[]),
                       ?, ?, ?, now()
                ON CONFLICT (content_hash) {on_conflict}""",
            [*columns, provenance.partition_key, provenance.asset or None, provenance.run_id],
        )
        ids = ids_by_hash(db, hashes)
        db.execute("COMMIT")
    return Remembered(ids, len(ids) - len(known))


def ids_by_hash(db: duckdb.DuckDBPyConnection, hashes: list[str]) -> dict[str, int]:
    rows = db.execute(
        "SELECT content_hash, id FROM memories WHERE content_hash IN (SELECT unnest(?::VARCHAR[]))", [hashes]
    ).fetchall()
    return dict(rows)


def anchors(cortex: Cortex, kind: str, names: list[str], provenance: Provenance | None = None) -> dict[str, int]:
    """The memories standing for these names (topics, sources, repositories), made when new: name -> id."""
    ids = remember(cortex, [anchor_row(kind, name) for name in names], provenance).ids
    return {name: ids[memory_hash(kind, name)] for name in names}


def anchor_row(kind: str, name: str) -> dict:
    """The memory row of an anchor (a topic, a source, a repository), to remember beside the items on it."""
    return {"kind": kind, "source": kind, "title": name, "content_hash": memory_hash(kind, name)}


def link(cortex: Cortex, edges: list[Edge]) -> int:
    """Add the edges not there yet (an edge there keeps its learned weight); how many are new."""
    unique = {(e.src, e.dst, e.kind): e for e in edges if e.src != e.dst}
    if not unique:
        return 0
    values = list(unique.values())
    with cortex.connect() as db:
        new = db.execute(
            """INSERT INTO edges (src, dst, kind, weight)
               SELECT unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::VARCHAR[]), unnest(?::DOUBLE[])
               ON CONFLICT (src, dst, kind) DO NOTHING RETURNING src""",
            [[e.src for e in values], [e.dst for e in values], [e.kind for e in values], [e.weight for e in values]],
        ).fetchall()
    return len(new)


def record_signals(cortex: Cortex, signals: list[Signal]) -> int:
    """Record outcomes not recorded before (by dedupe_key); how many are new."""
    unique = list({s.dedupe_key: s for s in signals}.values())
    if not unique:
        return 0
    with cortex.connect() as db:
        new = db.execute(
            """INSERT INTO signals (kind, polarity, memory_id, subject, detail, partition_key, dedupe_key)
               SELECT unnest(?::VARCHAR[]), unnest(?::INTEGER[]), unnest(?::BIGINT[]), unnest(?::VARCHAR[]),
                      unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[])
               ON CONFLICT (dedupe_key) DO NOTHING RETURNING id""",
            [
                [s.kind for s in unique],
                [s.polarity for s in unique],
                [s.memory_id for s in unique],
                [s.subject for s in unique],
                [s.detail for s in unique],
                [s.partition_key for s in unique],
                [s.dedupe_key for s in unique],
            ],
        ).fetchall()
    return len(new)


def change_weight(
    cortex: Cortex,
    target_kind: TargetKind,
    target: str,
    new_weight: float,
    reason: str,
    *,
    changed_by: ChangedBy,
    signal_id: int | None = None,
    partition_key: str | None = None,
) -> float | None:
    """Set one weight and log it, in one transaction; its old weight (None: it had none)."""
    change = WeightChange(target_kind, target, new_weight, reason, signal_id)
    with cortex.connect() as db:
        db.execute("BEGIN")
        old = change_weight_in(db, change, changed_by, partition_key)
        db.execute("COMMIT")
    return old


def change_weight_in(
    db: duckdb.DuckDBPyConnection, change: WeightChange, changed_by: ChangedBy, partition_key: str | None
) -> float | None:
    """The change applied and logged on a connection whose transaction the caller holds (so a unit of
    work commits its weights and their log together, or neither). Old weight, or None."""
    if change.new_weight < 0:
        raise ValueError(f"a weight is never negative: {change.target_kind} {change.target} -> {change.new_weight}")
    old = _set_weight(db, change.target_kind, change.target, change.new_weight)
    db.execute(
        """INSERT INTO weight_log (target_kind, target, old_weight, new_weight, reason, signal_id, changed_by,
                                   partition_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        [change.target_kind, change.target, old, change.new_weight, change.reason, change.signal_id, changed_by,
         partition_key],
    )  # fmt: skip
    return old


def weight_of(db: duckdb.DuckDBPyConnection, target_kind: TargetKind, target: str) -> float:
    """A target's weight now (a source or interest not set yet weighs 1.0)."""
    if target_kind == "edge":
        row = db.execute(
            "SELECT weight FROM edges WHERE src = ? AND dst = ? AND kind = ?", [*parse_edge_target(target)]
        )
    elif target_kind == "memory":
        row = db.execute("SELECT weight FROM memories WHERE id = ?", [int(target)])
    else:
        table, key = _KEYED[target_kind]
        row = db.execute(f"SELECT weight FROM {table} WHERE {key} = ?", [target])
    found = row.fetchone()
    if found is None and target_kind in ("edge", "memory"):
        raise LookupError(f"no {target_kind} {target}")
    return found[0] if found else 1.0


def _set_weight(db: duckdb.DuckDBPyConnection, target_kind: TargetKind, target: str, weight: float) -> float | None:
    if target_kind == "edge":
        src, dst, kind = parse_edge_target(target)
        row = db.execute("SELECT weight FROM edges WHERE src = ? AND dst = ? AND kind = ?", [src, dst, kind]).fetchone()
        if row is None:
            raise LookupError(f"no edge {target}")
        db.execute(
            "UPDATE edges SET weight = ?, reinforced_at = now() WHERE src = ? AND dst = ? AND kind = ?",
            [weight, src, dst, kind],
        )
        return row[0]
    if target_kind == "memory":
        row = db.execute("SELECT weight FROM memories WHERE id = ?", [int(target)]).fetchone()
        if row is None:
            raise LookupError(f"no memory {target}")
        db.execute("UPDATE memories SET weight = ?, reinforced_at = now() WHERE id = ?", [weight, int(target)])
        return row[0]
    table, key = _KEYED[target_kind]
    row = db.execute(f"SELECT weight FROM {table} WHERE {key} = ?", [target]).fetchone()
    db.execute(
        f"""INSERT INTO {table} ({key}, weight, updated_at) VALUES (?, ?, now())
            ON CONFLICT ({key}) DO UPDATE SET weight = excluded.weight, updated_at = excluded.updated_at""",
        [target, weight],
    )
    return row[0] if row else None


def parse_edge_target(target: str) -> tuple[int, int, str]:
    """ "12>34:same_topic" -> (12, 34, "same_topic")."""
    ends, _, kind = target.partition(":")
    src, _, dst = ends.partition(">")
    return int(src), int(dst), kind


# --- asking --------------------------------------------------------------------------------------


def seen(cortex: Cortex, urls_or_hashes: list[str]) -> set[str]:
    """Which of these (URLs, canonical or not, and content hashes) Cortex holds, live or not: a
    superseded or merged memory was seen all the same. One query, whatever their number."""
    given = list(dict.fromkeys(urls_or_hashes))
    if not given:
        return set()
    keys = [canonical_or_none(value) or value for value in given]
    with cortex.connect(read_only=True) as db:
        rows = db.execute(
            """WITH asked AS (SELECT unnest(?::VARCHAR[]) AS given, unnest(?::VARCHAR[]) AS key)
               SELECT given FROM asked WHERE key IN (SELECT canonical_url FROM memories WHERE canonical_url IN
                                                     (SELECT key FROM asked))
                  OR key IN (SELECT content_hash FROM memories WHERE content_hash IN (SELECT key FROM asked))""",
            [given, keys],
        ).fetchall()
    return {row[0] for row in rows}


def related(cortex: Cortex, memory_id: int, limit: int = 10) -> list[Neighbour]:
    """The live memories joined to this one by an edge (either direction), heaviest edge first."""
    with cortex.connect(read_only=True) as db:
        rows = db.execute(
            """SELECT m.id, m.kind, m.source, m.title, m.url, m.weight, e.kind, e.weight
               FROM edges e JOIN memories m ON m.id = CASE WHEN e.src = ? THEN e.dst ELSE e.src END
               WHERE (e.src = ? OR e.dst = ?) AND m.valid_to IS NULL
               ORDER BY e.weight DESC, m.weight DESC, m.id LIMIT ?""",
            [memory_id, memory_id, memory_id, limit],
        ).fetchall()
    return [Neighbour(*row) for row in rows]


def mattered_lately(cortex: Cortex, days: int = 7, limit: int = 20) -> list[dict]:
    """Live memories (anchors aside) kept or moved by a good signal in the last `days`: those with the
    most good signals first, then by weight. Each a dict: id, kind, source, title, url, weight, good."""
    with cortex.connect(read_only=True) as db:
        cursor = db.execute(
            """WITH good AS (SELECT memory_id, count(*) AS good FROM signals
                             WHERE polarity > 0 AND observed_at >= now() - to_days(?::INTEGER) GROUP BY memory_id)
               SELECT m.id, m.kind, m.source, m.title, m.url, m.weight, coalesce(g.good, 0) AS good
               FROM memories m LEFT JOIN good g ON g.memory_id = m.id
               WHERE m.valid_to IS NULL AND m.kind NOT IN (SELECT unnest(?::VARCHAR[]))
                 AND (g.good IS NOT NULL OR m.created_at >= now() - to_days(?::INTEGER))
               ORDER BY good DESC, m.weight DESC, m.created_at DESC, m.id LIMIT ?""",
            [days, list(ANCHOR_KINDS), days, limit],
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
