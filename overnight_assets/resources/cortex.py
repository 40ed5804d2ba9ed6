"""Cortex: the shared memory every worker reads and writes, a DuckDB file in `home`.

DuckDB lets one process hold a file open for writing at a time, so Cortex is opened briefly for
each unit of work, retried on the lock with backoff, and never held across an LLM call or a
network fetch. The schema is created and migrated here, in order, once per process.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    import duckdb

LOCK_WAIT_S = 60.0

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
}

_migrated: set[str] = set()


class CortexLockedError(RuntimeError):
    pass


class Cortex:
    """Plain access to the Cortex file; every `connect()` is one short unit of work."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        self._migrate_once()
        if read_only and not self.path.exists():
            read_only = False  # nothing to read yet; create it
        connection = self._open(read_only)
        try:
            yield connection
        finally:
            connection.close()

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        import duckdb  # at first use: it costs every code-location load ~0.1 s

        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline, delay = time.monotonic() + LOCK_WAIT_S, 0.02
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.IOException as error:
                if "lock" not in str(error).lower() or time.monotonic() > deadline:
                    raise CortexLockedError(
                        f"Cortex at {self.path} stayed locked by another process for {LOCK_WAIT_S:.0f} s: {error}"
                    ) from error
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

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
        its body when `refresh_body` (a later, fuller account of the same thing). Returns how many
        are new."""
        if not rows:
            return 0
        on_conflict = "DO UPDATE SET body = excluded.body" if refresh_body else "DO NOTHING"
        with self.connect() as db:
            before = db.execute("SELECT count(*) FROM memories").fetchone()[0]
            db.executemany(
                f"""INSERT INTO memories (kind, source, url, title, body, content_hash, weight, partition_key)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (content_hash) {on_conflict}""",
                [
                    [
                        row["kind"],
                        row["source"],
                        row.get("url"),
                        row["title"],
                        row.get("body"),
                        row.get("content_hash") or memory_hash(row["kind"], row.get("url") or row["title"]),
                        row.get("weight", 1.0),
                        partition_key,
                    ]
                    for row in rows
                ],
            )
            return db.execute("SELECT count(*) FROM memories").fetchone()[0] - before


def memory_hash(kind: str, identity: str) -> str:
    """A memory's content_hash: its kind and what identifies it (a URL, a sha, a title)."""
    return content_hash(kind, identity)


def content_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def stable_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
