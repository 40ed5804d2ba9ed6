"""Cortex: the shared memory every worker reads and writes, a DuckDB file in `home`.

DuckDB lets one process hold a file open for writing at a time, so Cortex is opened briefly for
each unit of work, retried on the lock with backoff, and never held across an LLM call or a
network fetch. The schema is created and migrated here, in order, once per process.

Any other process that keeps the file open, even read-only (a `duckdb cortex.duckdb` shell left
open), blocks every write. A lock is no reason to lose a night: a unit of work waits for it up to
`memory.lock_wait_s`, says who holds it while it waits, then fails with an error that names the
holder. Readers use `query` (read-only, for one statement) or `copy_to` (a consistent copy to
explore for as long as they like): `overnight cortex query|copy`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from overnight_assets.resources.cortex_wire import RemoteCortex, ServerAddress, open_session

if TYPE_CHECKING:
    import duckdb

    from overnight_assets.config import OvernightConfig

LOCK_WAIT_S = 900.0  # the default of memory.lock_wait_s: a reader's lock is waited out, not fatal
QUERY_LOCK_WAIT_S = 30.0  # `overnight cortex`: the chain holds the file only briefly
NOTICE_AFTER_S = 2.0  # a wait this long is said (shorter ones are the chain's own steps taking turns)
NOTICE_EVERY_S = 60.0
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
_WRITER = (
    "a process keeps it open (a `duckdb` shell?). Close it, and read Cortex with `overnight cortex query` or "
    "`overnight cortex copy` instead; memory.lock_wait_s sets how long the chain waits."
)
_WRITER_SERVED = "a unit of work of the chain's is that long; memory.lock_wait_s sets how long the chain waits."
_READER = "the chain, or a process keeping it open, is writing to it; try again later."
_log = logging.getLogger(__name__)
T = TypeVar("T")

# Applied in order, each once, recorded by name. Append new entries; never edit a released one.
MIGRATIONS: dict[str, str] = {
    "0001_core": """
    CREATE SEQUENCE IF NOT EXISTS memory_ids;
    CREATE TABLE IF NOT EXISTS memories (
        id BIGINT PRIMARY KEY DEFAULT nextval('memory_ids'),
        kind VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        url VARCHAR,
        title VARCHAR NOT NULL,
        body VARCHAR,
        content_hash VARCHAR NOT NULL UNIQUE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        weight DOUBLE NOT NULL DEFAULT 1.0,
        partition_key VARCHAR
    );
    CREATE TABLE IF NOT EXISTS llm_cache (
        cache_key VARCHAR PRIMARY KEY,
        model VARCHAR NOT NULL,
        response VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS integrity_baseline (
        path VARCHAR PRIMARY KEY,
        sha256 VARCHAR NOT NULL,
        recorded_for VARCHAR,
        recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS login_sources (
        address VARCHAR PRIMARY KEY,
        first_seen TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE IF NOT EXISTS deliveries (
        partition_key VARCHAR PRIMARY KEY,
        text VARCHAR NOT NULL,
        blocks VARCHAR NOT NULL,
        channel_id VARCHAR,
        ts VARCHAR,
        pending BOOLEAN NOT NULL DEFAULT TRUE,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error VARCHAR,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    """,
    "0002_reading": """
    CREATE TABLE IF NOT EXISTS http_cache (
        url VARCHAR PRIMARY KEY,
        etag VARCHAR,
        last_modified VARCHAR,
        checked_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    """,
    "0003_code_review": """
    CREATE TABLE IF NOT EXISTS commit_reviews (
        sha VARCHAR PRIMARY KEY,
        repo VARCHAR NOT NULL,
        review VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    """,
    "0005_reading_items": """
    CREATE TABLE IF NOT EXISTS feed_items (
        feed_url VARCHAR NOT NULL,
        url VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        title VARCHAR NOT NULL,
        summary VARCHAR,
        published TIMESTAMPTZ,
        extra VARCHAR,
        first_seen_partition VARCHAR NOT NULL,
        first_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (feed_url, url)
    );
    CREATE TABLE IF NOT EXISTS source_weights (
        source VARCHAR PRIMARY KEY,
        weight DOUBLE NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    """,
    # once per partition across runs and crashes (briefing/delivery.py): who delivers it, until
    # when, and a post attempted whose outcome was never recorded; `revision` counts re-kept texts
    "0006_delivery_claims": """
    ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS claimed_by VARCHAR;
    ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS claim_expires TIMESTAMPTZ;
    ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS intent_at TIMESTAMPTZ;
    ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS revision INTEGER DEFAULT 0;
    """,
    # a message longer than Slack's 50 blocks goes on in its thread (briefing/delivery.py): the
    # replies to post (JSON list of {text, blocks}) and the ts of each one posted (JSON list)
    "0007_delivery_thread_replies": """
    ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS replies VARCHAR;
    ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS reply_ts VARCHAR;
    """,
    # retention (operations/retention.py): a cached answer goes when unused, not when old, so it is
    # stamped at each use; a feed item goes once it has left its feed, so each parse stamps the items
    # it saw. Existing items count as seen now: none is removed before it had the chance to be seen.
    "0008_retention": """
    ALTER TABLE llm_cache ADD COLUMN IF NOT EXISTS used_at TIMESTAMPTZ DEFAULT now();
    UPDATE llm_cache SET used_at = created_at;
    ALTER TABLE feed_items ADD COLUMN IF NOT EXISTS last_seen_at TIMESTAMPTZ DEFAULT now();
    """,
    # the memory that learns (memory/, weekly/): every memory says which asset, night and run kept it
    # and whether it is live (valid_to NULL) or was superseded, merged, compressed or pruned, by what;
    # edges relate memories; signals are outcomes read once each (dedupe_key); weight_log explains
    # every weight that ever changed (memory, edge, source, interest) and why.
    "0009_memory_graph": """
    ALTER TABLE memories ADD COLUMN IF NOT EXISTS asset VARCHAR;
    ALTER TABLE memories ADD COLUMN IF NOT EXISTS run_id VARCHAR;
    ALTER TABLE memories ADD COLUMN IF NOT EXISTS canonical_url VARCHAR;
    ALTER TABLE memories ADD COLUMN IF NOT EXISTS valid_from TIMESTAMPTZ;
    ALTER TABLE memories ADD COLUMN IF NOT EXISTS valid_to TIMESTAMPTZ;
    ALTER TABLE memories ADD COLUMN IF NOT EXISTS superseded_by BIGINT;
    ALTER TABLE memories ADD COLUMN IF NOT EXISTS merged_from VARCHAR;
    ALTER TABLE memories ADD COLUMN IF NOT EXISTS reinforced_at TIMESTAMPTZ;
    UPDATE memories SET valid_from = created_at WHERE valid_from IS NULL;
    CREATE TABLE IF NOT EXISTS edges (
        src BIGINT NOT NULL,
        dst BIGINT NOT NULL,
        kind VARCHAR NOT NULL,
        weight DOUBLE NOT NULL DEFAULT 1.0,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        reinforced_at TIMESTAMPTZ,
        PRIMARY KEY (src, dst, kind)
    );
    CREATE SEQUENCE IF NOT EXISTS signal_ids;
    CREATE TABLE IF NOT EXISTS signals (
        id BIGINT PRIMARY KEY DEFAULT nextval('signal_ids'),
        kind VARCHAR NOT NULL,
        polarity INTEGER NOT NULL,
        memory_id BIGINT,
        subject VARCHAR NOT NULL,
        detail VARCHAR,
        partition_key VARCHAR,
        dedupe_key VARCHAR NOT NULL UNIQUE,
        observed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        applied_at TIMESTAMPTZ
    );
    CREATE SEQUENCE IF NOT EXISTS weight_change_ids;
    CREATE TABLE IF NOT EXISTS weight_log (
        id BIGINT PRIMARY KEY DEFAULT nextval('weight_change_ids'),
        target_kind VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        old_weight DOUBLE,
        new_weight DOUBLE NOT NULL,
        reason VARCHAR NOT NULL,
        signal_id BIGINT,
        changed_by VARCHAR NOT NULL,
        partition_key VARCHAR,
        changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS interest_weights (
        topic VARCHAR PRIMARY KEY,
        weight DOUBLE NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS briefing_items (
        partition_key VARCHAR NOT NULL,
        ref VARCHAR NOT NULL,
        memory_id BIGINT,
        title VARCHAR NOT NULL,
        source VARCHAR,
        message_ts VARCHAR,
        PRIMARY KEY (partition_key, ref)
    );
    """,
    # the Sunday chain (weekly/): each weekly asset's section for the week, kept until a morning
    # briefing takes it (the briefing reads this table: the domains meet in Cortex); `week_end` is the
    # week's Sunday, `briefed_in` the night whose briefing carried it (a rerun of that night carries it again)
    "0010_weekly_sections": """
    CREATE TABLE IF NOT EXISTS weekly_sections (
        week VARCHAR NOT NULL,
        asset VARCHAR NOT NULL,
        week_end VARCHAR NOT NULL,
        section VARCHAR NOT NULL,
        report_path VARCHAR,
        briefed_in VARCHAR,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (week, asset)
    );
    """,
    # consolidation (memory/consolidation.py): the edges a merge or compression moved to the survivor, as
    # they were, so `undo_merge` can put them back; `added` says the moved copy was new (not already there)
    "0010_consolidation_moved_edges": """
    CREATE TABLE IF NOT EXISTS moved_edges (
        survivor BIGINT NOT NULL,
        absorbed BIGINT NOT NULL,
        src BIGINT NOT NULL,
        dst BIGINT NOT NULL,
        kind VARCHAR NOT NULL,
        weight DOUBLE NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        reinforced_at TIMESTAMPTZ,
        new_src BIGINT NOT NULL,
        new_dst BIGINT NOT NULL,
        added BOOLEAN NOT NULL
    );
    """,
    # which page of the night's Slack message prints each ITEM ref (0: the message, n: its n-th thread
    # reply): the delivery turns it into briefing_items.message_ts once that page's ts is known
    "0010_graph_briefing_item_pages": """
    ALTER TABLE briefing_items ADD COLUMN IF NOT EXISTS page INTEGER;
    """,
    # consolidation's undo stands: two memories an owner un-merged (undo_merge) are never merged again
    "0011_consolidation_kept_apart": """
    CREATE TABLE IF NOT EXISTS kept_apart (
        low BIGINT NOT NULL,
        high BIGINT NOT NULL,
        kept_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (low, high)
    );
    """,
}

_migrated: set[str] = set()


class CortexLockedError(RuntimeError):
    pass


class Cortex:
    """Plain access to the Cortex file; every `connect()` is one short unit of work.

    `lock_wait_s` (default LOCK_WAIT_S) bounds the wait for another process's lock; `on_wait` hears,
    every NOTICE_EVERY_S while a wait lasts, who holds the file (default: this module's logger)."""

    def __init__(
        self,
        path: str | Path,
        lock_wait_s: float | None = None,
        on_wait: Callable[[str], None] | None = None,
        server: ServerAddress | None = None,
    ):
        self.path = Path(path).expanduser()
        self.lock_wait_s = lock_wait_s
        self.on_wait = on_wait or _log.warning
        self.server = server  # set: the file is the server's (memory.server_url), every unit of work goes there

    @classmethod
    def of(cls, config: OvernightConfig, lock_wait_s: float | None = None, on_wait=None) -> Cortex:
        """The configuration's Cortex: its file, or its server when memory.server_url is set."""
        memory = config.memory
        server = ServerAddress(memory.server_url, memory.server_token_env) if memory.server_url else None
        return cls(config.paths.cortex, lock_wait_s, on_wait, server)

    def exists(self) -> bool:
        """Whether Cortex has been created (a served one always has: its server created it)."""
        if self.server is None:
            return self.path.exists()
        channel = self.server.channel(QUERY_LOCK_WAIT_S)
        try:
            return channel.call("/status")[1]["exists"]
        finally:
            channel.close()

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.server is not None:
            with self._session(self.lock_wait_s, read_only) as db:
                yield db
            return
        self._migrate_once()
        if read_only and not self.path.exists():
            read_only = False  # nothing to read yet; create it
        connection = self._open(read_only)
        try:
            yield connection
        finally:
            connection.close()

    @contextmanager
    def _session(self, lock_wait_s: float | None, read_only: bool) -> Iterator[RemoteCortex]:
        """One unit of work on the Cortex server, waited for as the file's lock is."""
        wait_s = next(value for value in (lock_wait_s, self.lock_wait_s, LOCK_WAIT_S) if value is not None)
        advice = _READER if read_only else _WRITER_SERVED

        def locked(holder: str, waited_s: float) -> CortexLockedError:
            return CortexLockedError(
                f"Cortex at {self.server.url} stayed held by {holder} for {waited_s:g} s: {advice}"
            )

        db = open_session(self.server, wait_s, read_only, self.on_wait, locked)
        try:
            yield db
        finally:
            db.close()

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        import duckdb  # at first use: it costs every code-location load ~0.1 s

        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._waiting_out_locks(lambda: duckdb.connect(str(self.path), read_only=read_only))

    def _waiting_out_locks(self, attempt: Callable[[], T], lock_wait_s: float | None = None, advice=_WRITER) -> T:
        """`attempt()`, retried with backoff while another process holds the file's lock."""
        import duckdb

        wait_s = next(value for value in (lock_wait_s, self.lock_wait_s, LOCK_WAIT_S) if value is not None)
        started, delay, notice_at = time.monotonic(), 0.02, NOTICE_AFTER_S
        while True:
            try:
                return attempt()
            except duckdb.IOException as error:
                if "lock" not in str(error).lower():
                    raise
                waited, holder = time.monotonic() - started, lock_holder(error)
                if waited >= wait_s:
                    raise CortexLockedError(
                        f"Cortex at {self.path} stayed locked by {holder} for {wait_s:g} s: {advice}"
                    ) from error
                if waited >= notice_at:
                    self.on_wait(f"Cortex at {self.path} is locked by {holder}: waited {waited:.0f} s of {wait_s:g} s")
                    notice_at = waited + NOTICE_EVERY_S
                time.sleep(min(delay, max(wait_s - waited, 0.0)))
                delay = min(delay * 2, 1.0)

    # --- reading from outside the chain: `overnight cortex` ----------------------------------

    def query(
        self, sql: str, lock_wait_s: float = QUERY_LOCK_WAIT_S, params: list | None = None
    ) -> tuple[list[str], list[tuple]]:
        """(column names, rows) of one statement (with its `?` parameters) on a read-only connection held
        for it alone. No migration and no new file: a reader never takes the write lock."""
        import duckdb

        if self.server is not None:
            with self._session(lock_wait_s, read_only=True) as db:
                cursor = db.execute(sql, params)
                return (
                    ([column[0] for column in cursor.description], cursor.fetchall())
                    if cursor.description
                    else ([], [])
                )
        self._require_file()
        connect = partial(duckdb.connect, str(self.path), read_only=True)
        connection = self._waiting_out_locks(connect, lock_wait_s, advice=_READER)
        try:
            cursor = connection.execute(sql, params)
            if cursor.description is None:
                return [], []
            return [column[0] for column in cursor.description], cursor.fetchall()
        finally:
            connection.close()

    def copy_to(self, destination: str | Path, lock_wait_s: float = QUERY_LOCK_WAIT_S) -> Path:
        """A consistent copy of Cortex in a new DuckDB file. Cortex is attached read-only, so DuckDB's lock
        keeps every writer out while it is copied. Served Cortex is copied by its server, on its host."""
        import duckdb

        if self.server is not None:
            return Path(self._served_copy(destination, lock_wait_s))
        self._require_file()
        db = duckdb.connect()  # in memory: both files are attached to it
        try:
            attach = f"ATTACH {_sql_text(self.path)} AS cortex_source (READ_ONLY)"
            self._waiting_out_locks(lambda: db.execute(attach), lock_wait_s, advice=_READER)
            return copy_database(db, "cortex_source", destination, detach_source=True)
        finally:
            db.close()

    def _served_copy(self, destination: str | Path, lock_wait_s: float) -> str:
        with self._session(lock_wait_s, read_only=False) as db:
            return db.copy(str(destination))

    def _require_file(self) -> None:
        if not self.path.is_file():
            raise FileNotFoundError(f"no Cortex at {self.path} yet: no night has run with this home")

    def _migrate_once(self) -> None:
        key = str(self.path.resolve()) if self.path.exists() else str(self.path)
        if key in _migrated and self.path.exists():
            return
        connection = self._open(read_only=False)
        try:
            connection.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY)")
            applied = {row[0] for row in connection.execute("SELECT name FROM schema_migrations").fetchall()}
            for name, statement in MIGRATIONS.items():
                if name in applied:
                    continue
                connection.execute("BEGIN")
                connection.execute(statement)
                connection.execute("INSERT INTO schema_migrations VALUES (?)", [name])
                connection.execute("COMMIT")
        finally:
            connection.close()
        _migrated.add(str(self.path.resolve()))

    # --- memories: shared by every worker -------------------------------------------------

    def remember(self, rows: list[dict], partition_key: str | None = None, refresh_body: bool = False) -> int:
        """Insert memories; a row whose content_hash is already known is left as it was, but for
        its body when `refresh_body`. Returns how many are new. The graph's own entry point,
        with provenance and ids, is memory_graph.remember: this one keeps its callers working."""
        from overnight_assets.resources.memory_graph import Provenance, remember

        return remember(self, rows, Provenance(asset="", partition_key=partition_key), refresh_body).new


def copy_database(db, source: str, destination: str | Path, detach_source: bool = False) -> Path:
    """Database `source` of connection `db` copied to the new file `destination`: written beside it, then
    renamed, so a failed copy leaves nothing half-written."""
    destination = Path(destination).expanduser().resolve()
    if destination.exists():
        raise FileExistsError(f"{destination} already exists: remove it or choose another path")
    unfinished = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    try:
        db.execute(f"ATTACH {_sql_text(unfinished)} AS cortex_copy")
        db.execute(f"COPY FROM DATABASE {source} TO cortex_copy")
        db.execute("DETACH cortex_copy")
        if detach_source:
            db.execute(f"DETACH {source}")
    except BaseException:
        for leftover in (unfinished, unfinished.with_name(unfinished.name + ".wal")):
            leftover.unlink(missing_ok=True)
        raise
    os.replace(unfinished, destination)
    return destination


def lock_holder(error: Exception) -> str:
    """Who holds the file, as DuckDB's lock error names it: "PID 123 (/usr/bin/duckdb)"."""
    if match := _HOLDER.search(str(error)):
        return f"PID {match['pid']} ({match['program']})"
    return "another process"


def _sql_text(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def memory_hash(kind: str, identity: str) -> str:
    """A memory's content_hash: its kind and what identifies it (a URL, a sha, a title)."""
    return content_hash(kind, identity)


def content_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def stable_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
