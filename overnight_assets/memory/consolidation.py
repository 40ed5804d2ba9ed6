"""Consolidation: keep Cortex small and true by itself, in one transaction (a crash leaves it as it was).

Live means `valid_to IS NULL`. Nothing live is deleted in a night; it is ended, and says by what:
- pruned: weight below `memory.prune_below`, older than `memory.retention_days`, and referenced by
  nothing that still counts (a live memory's edge at or above the floor, a briefing item within
  retention or of a delivery still pending, an unapplied signal): `valid_to` set, `superseded_by` NULL.
- merged: near-duplicates (similarity.py) join the survivor (the highest weight, then the oldest): each
  gets `valid_to` and `superseded_by` = survivor, the survivor's `merged_from` lists them, and their
  edges move to the survivor (the originals kept in `moved_edges`), so `undo_merge` restores them.
- compressed: a live memory older than `memory.compress_after_days` with a body longer than
  `memory.compress_above_chars` is superseded by a new memory (asset `consolidation`) holding its first
  sentences and the figures of the rest; `merged_from` names the original, which keeps its full body.
  A memory is compressed once: one whose compression was undone stays whole.
- forgotten: only what ended more than `memory.forget_after_days` ago is deleted (with its edges), and
  never a row a briefing item within retention or a pending delivery names.
A memory's age is from `valid_from` (its `created_at` where a writer left it empty). Every timestamp
written is the night's `as_of`, so a rerun of the same night changes nothing more.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from overnight_assets.memory.similarity import (
    MERGE_THRESHOLD,
    Record,
    TfIdf,
    content_words,
    cosine,
    same_thing,
)

if TYPE_CHECKING:
    import duckdb

    from overnight_assets.resources.cortex import Cortex

COMPRESSED_CHARS = 280  # the first sentences a compressed memory keeps
FIGURES_KEPT = 8  # numbers and identifiers of the rest it lists
BLOCK_TOKENS = 2  # a memory meets the others sharing one of its rarest words
BLOCK_MAX_DF = 200  # a word more memories share than this blocks nothing
_SENTENCE_END = re.compile(r"[.!?](?=\s)")


@dataclass(frozen=True)
class Settings:
    retention_days: int = 90
    prune_below: float = 0.1
    merge_threshold: float = MERGE_THRESHOLD
    merge_window_days: int = 14
    compress_after_days: int = 30
    compress_above_chars: int = 1200
    forget_after_days: int = 180


@dataclass
class Outcome:
    pruned: int = 0
    merged: int = 0
    compressed: int = 0
    forgotten: int = 0
    kept: int = 0  # live memories after the night
    seconds: float = 0.0

    def metadata(self) -> dict:
        return asdict(self)


def consolidate(
    cortex: Cortex,
    settings: Settings,
    as_of: datetime,
    run_id: str | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> Outcome:
    """Prune, merge, compress and forget in one transaction; `on_phase(name)` hears each phase done, inside it."""
    started, outcome = time.perf_counter(), Outcome()
    phase = on_phase or (lambda _name: None)
    with cortex.connect() as db:
        db.execute("BEGIN")
        try:
            outcome.pruned = _prune(db, settings, as_of)
            phase("pruned")
            outcome.merged = _merge(db, settings, as_of)
            phase("merged")
            outcome.compressed = _compress(db, settings, as_of, run_id)
            phase("compressed")
            outcome.forgotten = _forget(db, settings, as_of)
            phase("forgotten")
            outcome.kept = db.execute("SELECT count(*) FROM memories WHERE valid_to IS NULL").fetchone()[0]
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    outcome.seconds = round(time.perf_counter() - started, 3)
    return outcome


# --- what still counts --------------------------------------------------------------------


def _held_by_briefings(settings: Settings, as_of: datetime) -> tuple[str, list]:
    """SQL for the memory ids a briefing item within retention, or of a delivery still pending, names."""
    since = (as_of - timedelta(days=settings.retention_days)).date().isoformat()
    sql = """SELECT memory_id AS id FROM briefing_items WHERE memory_id IS NOT NULL AND partition_key >= ?
             UNION SELECT b.memory_id FROM briefing_items b JOIN deliveries d USING (partition_key)
             WHERE d.pending AND b.memory_id IS NOT NULL"""
    return sql, [since]


def _prune(db: duckdb.DuckDBPyConnection, settings: Settings, as_of: datetime) -> int:
    cutoff = as_of - timedelta(days=settings.retention_days)
    db.execute(
        """CREATE OR REPLACE TEMP TABLE prune_candidates AS
           SELECT id FROM memories WHERE valid_to IS NULL AND weight < ? AND coalesce(valid_from, created_at) < ?""",
        [settings.prune_below, cutoff],
    )
    held_sql, held_params = _held_by_briefings(settings, as_of)
    # an edge counts when its other end is live and stays live (not a candidate itself)
    db.execute(
        f"""CREATE OR REPLACE TEMP TABLE still_referenced AS
            WITH touching AS (
                SELECT e.dst AS id, e.src AS other FROM edges e SEMI JOIN prune_candidates c ON e.dst = c.id
                WHERE e.weight >= ?
                UNION ALL
                SELECT e.src, e.dst FROM edges e SEMI JOIN prune_candidates c ON e.src = c.id WHERE e.weight >= ?)
            SELECT t.id FROM touching t JOIN memories m ON m.id = t.other
            WHERE m.valid_to IS NULL AND t.other NOT IN (SELECT id FROM prune_candidates)
            UNION {held_sql}
            UNION SELECT memory_id FROM signals WHERE applied_at IS NULL AND memory_id IS NOT NULL""",
        [settings.prune_below, settings.prune_below, *held_params],
    )
    return db.execute(
        """UPDATE memories SET valid_to = ? WHERE id IN (SELECT id FROM prune_candidates)
           AND id NOT IN (SELECT id FROM still_referenced)""",
        [as_of],
    ).fetchone()[0]


# --- merging near-duplicates --------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    id: int
    kind: str
    title: str
    canonical_url: str | None
    url: str | None
    weight: float
    valid_from: datetime

    @cached_property
    def record(self) -> Record:
        return Record(self.title, self.canonical_url, self.url)


def _merge(db: duckdb.DuckDBPyConnection, settings: Settings, as_of: datetime) -> int:
    rows = _merge_candidates(db, settings, as_of)
    absorbed = _absorptions(rows, settings.merge_threshold, _kept_apart(db, rows))
    if not absorbed:
        return 0
    _supersede(db, absorbed, as_of)
    return len(absorbed)


def _merge_candidates(db, settings: Settings, as_of: datetime) -> list[_Row]:
    """The live memories new within the merge window, and the older live ones of their kind sharing a
    canonical URL or a lowercased title with one of them. Older pairs met when they were new."""
    since = as_of - timedelta(days=settings.merge_window_days)
    found = db.execute(
        """WITH live AS (SELECT id, kind, title, canonical_url, url, weight,
                                coalesce(valid_from, created_at) AS valid_from FROM memories
                         WHERE valid_to IS NULL),
           recent AS (SELECT * FROM live WHERE valid_from >= ?),
           twins AS (
               SELECT id FROM recent
               UNION SELECT l.id FROM live l SEMI JOIN recent r ON l.kind = r.kind AND l.canonical_url = r.canonical_url
               UNION SELECT l.id FROM live l SEMI JOIN recent r ON l.kind = r.kind AND lower(l.title) = lower(r.title))
           SELECT id, kind, title, canonical_url, url, weight, valid_from FROM live SEMI JOIN twins USING (id)
           ORDER BY id""",
        [since],
    ).fetchall()
    return [_Row(*row) for row in found]


def _kept_apart(db: duckdb.DuckDBPyConnection, rows: list[_Row]) -> set[tuple[int, int]]:
    """The pairs among `rows` an undo_merge separated: (lower id, higher id)."""
    ids = [row.id for row in rows]
    found = db.execute(
        """SELECT low, high FROM kept_apart
           WHERE low IN (SELECT unnest(?::BIGINT[])) AND high IN (SELECT unnest(?::BIGINT[]))""",
        [ids, ids],
    ).fetchall()
    return {(low, high) for low, high in found}


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _absorptions(rows: list[_Row], threshold: float, apart: set[tuple[int, int]] = frozenset()) -> dict[int, int]:
    """absorbed id -> survivor id. Pairs are proposed by canonical URL, title key and shared rare words;
    each group's survivor takes only the members that are the same thing as itself (the guard first), so
    no chain of look-alikes joins two memories that differ; a pair an undo kept `apart` is never joined."""
    model = TfIdf(row.title for row in rows)
    vectors = {row.id: model.vector(row.title) for row in rows}
    groups = _UnionFind()
    for a, b in _proposed_pairs(rows):
        if _pair(a.id, b.id) in apart:
            continue
        if same_thing(a.record, b.record, cosine(vectors[a.id], vectors[b.id]), threshold):
            groups.join(a.id, b.id)
    by_id = {row.id: row for row in rows}
    absorbed: dict[int, int] = {}
    for members in groups.groups():
        ranked = sorted((by_id[i] for i in members), key=lambda r: (-r.weight, r.valid_from, r.id))
        survivor = ranked[0]
        for row in ranked[1:]:
            if _pair(survivor.id, row.id) in apart:
                continue
            score = cosine(vectors[survivor.id], vectors[row.id])
            if same_thing(survivor.record, row.record, score, threshold):
                absorbed[row.id] = survivor.id
    return absorbed


def _proposed_pairs(rows: list[_Row]):
    """Pairs of the same kind sharing a canonical URL, a title key, or one of their rarest words."""
    blocks: dict[tuple, list[_Row]] = defaultdict(list)
    words = {row.id: set(content_words(row.title)) | row.record.guard_key for row in rows}
    frequency: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        for word in words[row.id]:
            frequency[row.kind, word] += 1
        if row.canonical_url:
            blocks[row.kind, "url", row.canonical_url].append(row)
        blocks[row.kind, "title", row.record.title_key].append(row)
    for row in rows:
        rare = sorted((frequency[row.kind, w], w) for w in words[row.id] if frequency[row.kind, w] <= BLOCK_MAX_DF)
        for _, word in rare[:BLOCK_TOKENS]:
            blocks[row.kind, "word", word].append(row)
    seen: set[tuple[int, int]] = set()
    for members in blocks.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                key = (min(a.id, b.id), max(a.id, b.id))
                if a.id != b.id and key not in seen:
                    seen.add(key)
                    yield a, b


class _UnionFind:
    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        root = self.parent.setdefault(item, item)
        while root != self.parent[root]:
            root = self.parent[root]
        self.parent[item] = root
        return root

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)

    def groups(self) -> list[list[int]]:
        found: dict[int, list[int]] = defaultdict(list)
        for item in self.parent:
            found[self.find(item)].append(item)
        return [members for members in found.values() if len(members) > 1]


def _supersede(db, absorbed: dict[int, int], as_of: datetime) -> None:
    """End each absorbed memory in favour of its survivor, list it in the survivor's merged_from, and move
    its edges to the survivor."""
    db.execute(
        "CREATE OR REPLACE TEMP TABLE absorbed AS SELECT unnest(?::BIGINT[]) AS id, unnest(?::BIGINT[]) AS survivor",
        [list(absorbed), list(absorbed.values())],
    )
    db.execute(
        """UPDATE memories SET valid_to = ?, superseded_by = a.survivor FROM absorbed a WHERE memories.id = a.id""",
        [as_of],
    )
    survivors: dict[int, list[int]] = defaultdict(list)
    for gone, survivor in absorbed.items():
        survivors[survivor].append(gone)
    current = dict(
        db.execute(
            "SELECT id, merged_from FROM memories WHERE id IN (SELECT unnest(?::BIGINT[]))", [list(survivors)]
        ).fetchall()
    )
    listed = {s: json.dumps(sorted(set(json.loads(current.get(s) or "[]")) | set(ids))) for s, ids in survivors.items()}
    db.execute(
        """UPDATE memories SET merged_from = l.merged_from
           FROM (SELECT unnest(?::BIGINT[]) AS id, unnest(?::VARCHAR[]) AS merged_from) l WHERE memories.id = l.id""",
        [list(listed), list(listed.values())],
    )
    _move_edges(db)


def _move_edges(db) -> None:
    """Repoint the edges of the memories in temp table `absorbed` to their survivors. An edge's key is its
    primary key, so the moved copy is inserted (ON CONFLICT: the survivor's own edge wins) and the
    original deleted, never updated in place; the originals are kept in moved_edges for undo_merge."""
    db.execute(
        """CREATE OR REPLACE TEMP TABLE repointed AS
           SELECT coalesce(s.survivor, d.survivor) AS survivor, coalesce(s.id, d.id) AS absorbed,
                  e.src, e.dst, e.kind, e.weight, e.created_at, e.reinforced_at,
                  coalesce(s.survivor, e.src) AS new_src, coalesce(d.survivor, e.dst) AS new_dst
           FROM edges e LEFT JOIN absorbed s ON e.src = s.id LEFT JOIN absorbed d ON e.dst = d.id
           WHERE s.id IS NOT NULL OR d.id IS NOT NULL"""
    )
    # a moved copy is added once per new key (the first original), never as a loop, never over an edge there
    db.execute(
        """CREATE OR REPLACE TEMP TABLE moving AS
           SELECT r.*, r.new_src <> r.new_dst AND e.src IS NULL
                       AND row_number() OVER (PARTITION BY r.new_src, r.new_dst, r.kind ORDER BY r.src, r.dst) = 1
                       AS added
           FROM repointed r LEFT JOIN edges e ON e.src = r.new_src AND e.dst = r.new_dst AND e.kind = r.kind"""
    )
    db.execute("INSERT INTO moved_edges SELECT * FROM moving")
    db.execute(
        """INSERT INTO edges (src, dst, kind, weight, created_at, reinforced_at)
           SELECT new_src, new_dst, kind, weight, created_at, reinforced_at FROM moving WHERE added
           ON CONFLICT DO NOTHING"""
    )
    db.execute("DELETE FROM edges WHERE src IN (SELECT id FROM absorbed) OR dst IN (SELECT id FROM absorbed)")


# --- compressing old detailed memories ----------------------------------------------------


def compressed_body(body: str) -> str:
    """The first sentences within COMPRESSED_CHARS (or its first COMPRESSED_CHARS, when one sentence is
    longer), and the figures (words with a digit: numbers, versions, identifiers) of the rest."""
    text = " ".join(body.split())
    if len(text) <= COMPRESSED_CHARS:
        return text
    cut = text[: COMPRESSED_CHARS + 1]
    ends = [match.end() for match in _SENTENCE_END.finditer(cut)]
    head = text[: ends[-1]].rstrip() if ends else text[:COMPRESSED_CHARS]
    figures: list[str] = []
    for word in dict.fromkeys(text[len(head) :].split()):  # each word once, in order
        word = word.strip(".,;:()[]\"'")
        if any(c.isdigit() for c in word) and word not in head and word not in figures:
            figures.append(word)
            if len(figures) == FIGURES_KEPT:
                break
    return head + (f" Figures: {', '.join(figures)}." if figures else "")


def _compress(db, settings: Settings, as_of: datetime, run_id: str | None) -> int:
    old = db.execute(
        """SELECT id, body FROM memories WHERE valid_to IS NULL AND coalesce(valid_from, created_at) < ?
           AND length(body) > ?
           AND sha256('compressed' || chr(31) || content_hash) NOT IN (SELECT content_hash FROM memories)
           ORDER BY id""",
        [as_of - timedelta(days=settings.compress_after_days), settings.compress_above_chars],
    ).fetchall()
    if not old:
        return 0
    ids, bodies = [row[0] for row in old], [compressed_body(row[1]) for row in old]
    new_ids = db.execute(
        """INSERT INTO memories (kind, source, url, title, body, content_hash, created_at, weight, partition_key,
                                 asset, run_id, canonical_url, valid_from, merged_from, reinforced_at)
           SELECT m.kind, m.source, m.url, m.title, c.body, sha256('compressed' || chr(31) || m.content_hash),
                  m.created_at, m.weight, m.partition_key, 'consolidation', ?, m.canonical_url, ?,
                  '[' || m.id || ']', m.reinforced_at
           FROM memories m JOIN (SELECT unnest(?::BIGINT[]) AS id, unnest(?::VARCHAR[]) AS body) c USING (id)
           RETURNING id, merged_from""",
        [run_id, as_of, ids, bodies],
    ).fetchall()
    replaced = {json.loads(merged_from)[0]: new_id for new_id, merged_from in new_ids}
    db.execute(
        "CREATE OR REPLACE TEMP TABLE absorbed AS SELECT unnest(?::BIGINT[]) AS id, unnest(?::BIGINT[]) AS survivor",
        [list(replaced), list(replaced.values())],
    )
    db.execute(
        "UPDATE memories SET valid_to = ?, superseded_by = a.survivor FROM absorbed a WHERE memories.id = a.id",
        [as_of],
    )
    _move_edges(db)
    return len(replaced)


# --- forgetting what ended long ago -------------------------------------------------------


def _forget(db, settings: Settings, as_of: datetime) -> int:
    held_sql, held_params = _held_by_briefings(settings, as_of)
    db.execute(
        f"""CREATE OR REPLACE TEMP TABLE forgotten AS
            SELECT id FROM memories WHERE valid_to < ? AND id NOT IN ({held_sql})""",
        [as_of - timedelta(days=settings.forget_after_days), *held_params],
    )
    db.execute("""DELETE FROM edges WHERE src IN (SELECT id FROM forgotten) OR dst IN (SELECT id FROM forgotten)""")
    db.execute("DELETE FROM moved_edges WHERE absorbed IN (SELECT id FROM forgotten)")
    db.execute("DELETE FROM kept_apart WHERE low IN (SELECT id FROM forgotten) OR high IN (SELECT id FROM forgotten)")
    return db.execute("DELETE FROM memories WHERE id IN (SELECT id FROM forgotten)").fetchone()[0]


# --- undoing a merge ----------------------------------------------------------------------


def undo_merge(cortex: Cortex, survivor: int, ids: list[int] | None = None) -> list[int]:
    """Make the memories `survivor` absorbed (all, or `ids`) live again with their own edges back; the
    moved copies the merge added go. A compressed memory whose original comes back ends, superseded by
    it. Returns the ids restored (one forgotten since, past memory.forget_after_days, cannot come back)."""
    with cortex.connect() as db:
        db.execute("BEGIN")
        try:
            restored = _undo(db, survivor, ids)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return restored


def _undo(db, survivor: int, ids: list[int] | None) -> list[int]:
    row = db.execute("SELECT merged_from, content_hash FROM memories WHERE id = ?", [survivor]).fetchone()
    if row is None:
        raise ValueError(f"no memory {survivor}")
    listed = json.loads(row[0] or "[]")
    wanted = [i for i in listed if ids is None or i in ids]
    restored = [
        r[0]
        for r in db.execute(
            "SELECT id FROM memories WHERE id IN (SELECT unnest(?::BIGINT[])) AND superseded_by = ? ORDER BY id",
            [wanted, survivor],
        ).fetchall()
    ]
    if not restored:
        return []
    db.execute("CREATE OR REPLACE TEMP TABLE undone AS SELECT unnest(?::BIGINT[]) AS id", [restored])
    db.execute(
        """DELETE FROM edges WHERE (src, dst, kind) IN (
               SELECT (new_src, new_dst, kind) FROM moved_edges WHERE survivor = ? AND added
               AND absorbed IN (SELECT id FROM undone))""",
        [survivor],
    )
    db.execute(
        """INSERT INTO edges (src, dst, kind, weight, created_at, reinforced_at)
           SELECT src, dst, kind, weight, created_at, reinforced_at FROM moved_edges
           WHERE survivor = ? AND absorbed IN (SELECT id FROM undone) ON CONFLICT DO NOTHING""",
        [survivor],
    )
    db.execute("DELETE FROM moved_edges WHERE survivor = ? AND absorbed IN (SELECT id FROM undone)", [survivor])
    db.execute("UPDATE memories SET valid_to = NULL, superseded_by = NULL WHERE id IN (SELECT id FROM undone)")
    remaining = [i for i in listed if i not in restored]
    db.execute(
        "UPDATE memories SET merged_from = ? WHERE id = ?", [json.dumps(remaining) if remaining else None, survivor]
    )
    compression = db.execute(  # a compression's hash is made of its original's (see _compress)
        "SELECT sha256('compressed' || chr(31) || content_hash) = ? FROM memories WHERE id = ?", [row[1], restored[0]]
    ).fetchone()[0]
    if compression:  # undone: the original is the memory again, the short one ends
        db.execute(
            "UPDATE memories SET valid_to = now(), superseded_by = ? WHERE id = ? AND valid_to IS NULL",
            [restored[0], survivor],
        )
    else:  # the owner said these are not one: the next nights' consolidation must not merge them again
        db.executemany(
            "INSERT INTO kept_apart (low, high) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [list(_pair(survivor, memory)) for memory in restored],
        )
    return restored
