"""A database of its own on the real PostgreSQL server (127.0.0.1:5432, trust auth; CI runs one),
dropped afterwards; skipped outside CI when the server is not there, failed in CI."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

from overnight_assets_tests.testkit import require_or_skip

PG_URL = os.environ.get("OVERNIGHT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database (postgresql://user@host:port/name)."""
    import psycopg2

    try:
        admin = psycopg2.connect(f"{PG_URL}/postgres", connect_timeout=3)
    except psycopg2.OperationalError as error:
        require_or_skip(False, f"PostgreSQL at {PG_URL} is not reachable: {error}")
    admin.autocommit = True
    name = f"overnight_test_{uuid.uuid4().hex[:10]}"
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        yield f"{PG_URL}/{name}"
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
