"""Where Cortex can live when steps write it from two hosts: a step's Cortex unit of work through each
option, and whether two writer processes (standing in for two hosts) leave it correct.

A unit of work is what an LLM step does with Cortex around one question: look the answer up in
llm_cache, store it, and remember five memories (two of them also remembered by the other writer,
so both insert the same content_hash). Each writer does UNITS units; afterwards every cached
answer must be there once and every memory once, with no error on either side.

- duckdb, one writer: today's single host (the real Cortex class: open, work, close per unit).
- duckdb, two writers on one file: correct here only because both processes share this kernel's
  file locks; DuckDB documents that its lock does not hold over a network file system, and two
  hosts' page caches see one file differently, so this option is not open to two hosts. It shows
  what serialising every unit of work through one file lock costs.
- the Cortex server, two writers: `overnight cortex serve` holding the one DuckDB file, the writers sending
  their units of work over HTTP on 127.0.0.1 (the real client: Cortex with memory.server_url), each
  unit one session, sessions one at a time. Open to two hosts: only the server's process opens the file.
- postgres, two writers: the same SQL on PostgreSQL (127.0.0.1:5432, a database of its own), each
  unit one transaction; PostgreSQL is already the two hosts' Dagster storage.
Not measurable here: DuckDB's postgres extension (not bundled with duckdb 2.0.0, and extensions are
downloaded from DuckDB's own site, which this machine cannot reach; PyPI's duckdb-ext-postgres is
built for DuckDB 1.4.4 and does not load into 2.0.0) and NFS (no second host).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

UNITS = 100
TOKEN_ENV = "OVERNIGHT_CORTEX_BENCH_TOKEN"
PG_URL = os.environ.get("OVERNIGHT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")

CACHE_GET = "SELECT response FROM llm_cache WHERE cache_key = ?"
CACHE_PUT = "INSERT INTO llm_cache (cache_key, model, response) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
REMEMBER = (
    "INSERT INTO memories (kind, source, title, content_hash, partition_key) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (content_hash) DO NOTHING"
)
PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_cache (cache_key VARCHAR PRIMARY KEY, model VARCHAR NOT NULL,
    response VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS memories (id BIGSERIAL PRIMARY KEY, kind VARCHAR NOT NULL, source VARCHAR NOT NULL,
    title VARCHAR NOT NULL, content_hash VARCHAR NOT NULL UNIQUE, partition_key VARCHAR,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now());
"""


def unit_rows(writer: int, unit: int) -> tuple[list, list[list]]:
    cache = [f"w{writer}-u{unit}", "qwen3.5", '{"status": "AMBER"}']
    own = [["finding", f"writer{writer}", f"own {i}", f"w{writer}-u{unit}-{i}", "2026-11-20"] for i in range(3)]
    shared = [["finding", f"writer{writer}", f"shared {i}", f"shared-u{unit}-{i}", "2026-11-20"] for i in range(2)]
    return cache, own + shared


def duckdb_unit(cortex, writer: int, unit: int) -> None:
    cache, memories = unit_rows(writer, unit)
    with cortex.connect() as db:
        db.execute(CACHE_GET, [cache[0]]).fetchone()
        db.execute("BEGIN")
        db.execute(CACHE_PUT, cache)
        db.executemany(REMEMBER, memories)
        db.execute("COMMIT")


def postgres_unit(connection, writer: int, unit: int) -> None:
    cache, memories = unit_rows(writer, unit)
    with connection, connection.cursor() as cursor:  # one transaction
        cursor.execute(CACHE_GET.replace("?", "%s"), [cache[0]])
        cursor.fetchone()
        cursor.execute(CACHE_PUT.replace("?", "%s"), cache)
        cursor.executemany(REMEMBER.replace("?", "%s"), memories)


def writer_process(kind: str, target: str, writer: int, start, results) -> None:
    try:
        if kind in ("duckdb", "server"):
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from overnight_assets.resources.cortex import Cortex
            from overnight_assets.resources.cortex_wire import ServerAddress

            server = ServerAddress(target, TOKEN_ENV) if kind == "server" else None
            store, unit_fn = Cortex("unused.duckdb" if server else target, server=server), duckdb_unit
        else:
            import psycopg2

            store, unit_fn = psycopg2.connect(target), postgres_unit
        start.wait()
        latencies = []
        for unit in range(UNITS):
            began = time.perf_counter()
            unit_fn(store, writer, unit)
            latencies.append(time.perf_counter() - began)
        results.put((writer, latencies, None))
    except Exception as error:  # reported, counted as incorrect
        results.put((writer, [], repr(error)))


def run_writers(kind: str, target: str, writers: int) -> dict:
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(writers + 1), context.Queue()
    processes = [context.Process(target=writer_process, args=(kind, target, w, start, results)) for w in range(writers)]
    for process in processes:
        process.start()
    start.wait()
    began = time.perf_counter()
    outcomes = [results.get(timeout=600) for _ in processes]
    wall = time.perf_counter() - began
    for process in processes:
        process.join()
    latencies = [seconds for _, found, _ in outcomes for seconds in found]
    errors = [error for _, _, error in outcomes if error]
    return {"wall": wall, "latencies": latencies, "errors": errors}


@contextlib.contextmanager
def cortex_server(folder: Path):
    """`overnight cortex serve` on a free port, its Cortex in `folder`; yields its URL."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "server.yaml"
    config.write_text(f"home: {folder}\nmemory:\n  server_token_env: {TOKEN_ENV}\n")
    repo = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "overnight_assets.cli", "cortex", "serve", "--config", str(config)]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    server = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert "served on" in server.stdout.readline()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=60)


def counts_duckdb(path: str) -> tuple[int, int]:
    import duckdb

    with duckdb.connect(path, read_only=True) as db:
        return tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("llm_cache", "memories"))


def counts_postgres(url: str) -> tuple[int, int]:
    import psycopg2

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        found = []
        for table in ("llm_cache", "memories"):
            cursor.execute(f"SELECT count(*) FROM {table}")
            found.append(cursor.fetchone()[0])
    connection.close()
    return tuple(found)


def expected(writers: int) -> tuple[int, int]:
    return writers * UNITS, writers * UNITS * 3 + UNITS * 2


def postgres_database():
    import psycopg2

    admin = psycopg2.connect(f"{PG_URL}/postgres", connect_timeout=3)
    admin.autocommit = True
    name = f"overnight_cortex_bench_{uuid.uuid4().hex[:8]}"
    admin.cursor().execute(f"CREATE DATABASE {name}")
    url = f"{PG_URL}/{name}"
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(PG_SCHEMA)
    connection.close()
    return admin, name, url


def option(name: str, outcome: dict, counts: tuple[int, int], want: tuple[int, int]) -> dict:
    latencies = sorted(outcome["latencies"])
    correct = not outcome["errors"] and counts == want
    p95 = latencies[int(len(latencies) * 0.95) - 1] if latencies else float("nan")
    print(
        f"  {name:<24} {len(latencies) / outcome['wall']:7.0f} units/s  p50 {statistics.median(latencies) * 1000:6.2f} ms"
        f"  p95 {p95 * 1000:6.2f} ms  rows {counts} want {want}  errors {outcome['errors'] or 'none'}"
        f"  -> {'correct' if correct else 'WRONG'}"
    )
    return {"name": name, "rate": len(latencies) / outcome["wall"], "p50": statistics.median(latencies), "ok": correct}


def main() -> None:
    from _report import figure, report

    results = []
    with tempfile.TemporaryDirectory(prefix="cortex-bench-") as tmp:
        for writers in (1, 2):
            path = str(Path(tmp) / f"cortex-{writers}.duckdb")
            outcome = run_writers("duckdb", path, writers)
            results.append(option(f"duckdb, {writers} writer(s)", outcome, counts_duckdb(path), expected(writers)))
        os.environ[TOKEN_ENV] = secrets.token_urlsafe(24)  # the server and the writers inherit it
        with cortex_server(Path(tmp)) as url:
            outcome = run_writers("server", url, 2)
        counts = counts_duckdb(str(Path(tmp) / "cortex.duckdb"))  # the server has closed it
        results.append(option("cortex server, 2 writers", outcome, counts, expected(2)))
    admin, name, url = postgres_database()
    try:
        outcome = run_writers("postgres", url, 2)
        results.append(option("postgres, 2 writers", outcome, counts_postgres(url), expected(2)))
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
    figures = []
    for result in results:
        figures.append(figure(f"{result['name']}: units/s", result["rate"], "1/s"))
        figures.append(figure(f"{result['name']}: p50 unit", result["p50"] * 1000, "ms", "correct", result["ok"]))
    report("cortex_two_hosts", figures)


if __name__ == "__main__":
    main()
