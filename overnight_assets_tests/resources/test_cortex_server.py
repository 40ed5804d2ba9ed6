"""Cortex served by `overnight cortex serve` (a real server process on a free port) to client processes
standing in for the steps of two hosts: units of work serialized, correct, rolled back when abandoned."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from zoneinfo import ZoneInfo

import duckdb
import pytest

from overnight_assets.config import load_config
from overnight_assets.resources.cortex import Cortex, CortexLockedError
from overnight_assets.resources.cortex_wire import CortexServerError, CortexSessionExpired, ServerAddress
from overnight_assets_tests.testkit import REPO, poll
from overnight_assets_tests.testkit.cortex_server import TOKEN_ENV, client, cortex_server
from overnight_assets_tests.testkit.loopback import free_port

TOKEN = "s3cr3t-cortex-token-for-the-test"
LEASE_S = 4.0  # longer than the patient wait below: an idle holder is not yet reaped


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with cortex_server(tmp_path_factory.mktemp("cortexd"), TOKEN, lease_s=LEASE_S) as server:
        yield server


@pytest.fixture
def cortex(served, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return Cortex(served.home / "not-opened-here.duckdb", lock_wait_s=30, server=ServerAddress(served.url, TOKEN_ENV))


def finished(process) -> str:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    return out


def test_two_writer_processes_land_every_row_once(served, cortex, tmp_path):
    config = served.client_config(tmp_path / "client")
    writers = [client("write", config, served.client_env(), writer, 15) for writer in (0, 1)]
    for writer in writers:
        finished(writer)
    with cortex.connect() as db:
        cached = db.execute("SELECT count(*) FROM llm_cache WHERE cache_key LIKE 'w_-u%'").fetchone()[0]
        titles = db.execute(
            "SELECT title, count(*) FROM memories WHERE partition_key = '2026-11-20' GROUP BY 1"
        ).fetchall()
    assert cached == 2 * 15
    assert len(titles) == 2 * 15 * 3 + 15 * 2 and all(count == 1 for _, count in titles)
    assert not (tmp_path / "client" / "home" / "cortex.duckdb").exists()  # the clients never opened a file


def test_close_rolls_back_what_the_session_left_uncommitted(cortex):
    with cortex.connect() as db:
        db.execute("BEGIN")
        db.execute("INSERT INTO llm_cache (cache_key, model, response) VALUES ('left open', 'm', 'r')")
        assert db.execute("SELECT count(*) FROM llm_cache WHERE cache_key = 'left open'").fetchone() == (1,)
    assert cortex.query("SELECT count(*) FROM llm_cache WHERE cache_key = 'left open'")[1] == [(0,)]


def test_a_session_waits_for_the_one_before_and_a_too_long_wait_names_the_holder(cortex, served):
    impatient = Cortex(cortex.path, lock_wait_s=0.3, server=cortex.server)
    notices = []
    patient = Cortex(cortex.path, lock_wait_s=2.5, on_wait=notices.append, server=cortex.server)
    with cortex.connect():
        with pytest.raises(CortexLockedError, match=r"stayed held by PID \d+ on .* for 0.3 s"), impatient.connect():
            pass
        with pytest.raises(CortexLockedError, match="for 2.5 s"), patient.connect():
            pass
    assert len(notices) == 1 and "is held by PID" in notices[0]  # said once past NOTICE_AFTER_S, as for the file
    with impatient.connect() as db:  # released by the close
        assert db.execute("SELECT 42").fetchone() == (42,)


def test_a_killed_client_is_rolled_back_and_released_after_the_lease(served, cortex, tmp_path):
    config = served.client_config(tmp_path / "client")
    holder = client("hold", config, served.client_env())
    assert holder.stdout.readline().strip() == "inside"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with cortex.connect() as db:  # waits out the lease of the dead session
        assert db.execute("SELECT count(*) FROM llm_cache WHERE cache_key = 'held'").fetchone() == (0,)
    poll(lambda: "idle for" in served.output.read_text(), 10, "the server to say it rolled back the quiet session")


def test_values_cross_with_their_types(cortex):
    moment = dt.datetime(2026, 11, 20, 23, 30, 5, 123456, tzinfo=ZoneInfo("Europe/Bucharest"))
    with cortex.connect() as db:
        row = db.execute(
            "SELECT ?::TIMESTAMPTZ, ?::DATE, ?::INTERVAL, ?::DECIMAL(6,2), ?::BLOB, ?::VARCHAR[], ?, ?, ?, "
            "len(?::INTEGER[]), {'a': 1}",
            [moment, dt.date(2026, 11, 20), dt.timedelta(hours=25), Decimal("12.50"), b"\x00\xff", ["x", None]]
            + [None, True, 1.5, [1, 2, 3]],
        ).fetchone()
        named = db.execute("SELECT $night, starts_with($night, '2026')", {"night": "2026-11-20"}).fetchone()
        assert db.execute("SELECT 1 WHERE false").fetchone() is None
        assert db.execute("SELECT 1").description[0][0] == "1"
    assert row[0] == moment and row[0].utcoffset() is not None
    sent_back = (dt.date(2026, 11, 20), dt.timedelta(hours=25), Decimal("12.50"), b"\x00\xff", ["x", None])
    assert row[1:] == (*sent_back, None, True, 1.5, 3, {"a": 1})
    assert named == ("2026-11-20", True)


def test_a_duckdb_error_arrives_as_its_own_class(cortex):
    with cortex.connect() as db:
        db.execute("INSERT INTO login_sources VALUES ('10.0.0.9', now()) ON CONFLICT DO NOTHING")
        with pytest.raises(duckdb.ConstraintException, match="Duplicate key"):
            db.execute("INSERT INTO login_sources VALUES ('10.0.0.9', now())")
        with pytest.raises(duckdb.CatalogException, match="no_such_table"):
            db.execute("SELECT * FROM no_such_table")


def test_queries_are_read_only_and_exists_asks_the_server(cortex, tmp_path):
    with pytest.raises(duckdb.Error, match="read-only"):
        cortex.query("DELETE FROM memories")
    assert cortex.exists()
    copied = cortex.copy_to(tmp_path / "copy.duckdb")
    with duckdb.connect(str(copied), read_only=True) as db:
        assert db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] > 5  # migrated at the server's start
    with pytest.raises(FileExistsError):
        cortex.copy_to(copied)


def test_the_token_is_required_and_never_shown(served, cortex, monkeypatch):
    for header in ({}, {"Authorization": "Bearer wrong-token"}):
        connection = http.client.HTTPConnection("127.0.0.1", int(served.url.rsplit(":", 1)[1]), timeout=10)
        connection.request("POST", "/open", body=json.dumps({"wait_s": 0}), headers=header)
        assert connection.getresponse().status == 401
        connection.close()
    monkeypatch.setenv(TOKEN_ENV, "wrong-token")
    with pytest.raises(CortexServerError, match=f"refused the token in {TOKEN_ENV}"):
        cortex.query("SELECT 1")
    monkeypatch.delenv(TOKEN_ENV)
    with pytest.raises(CortexServerError, match=f"{TOKEN_ENV} is not set"):
        cortex.query("SELECT 1")
    assert TOKEN not in served.output.read_text()


def test_the_server_refuses_to_start_without_a_token(tmp_path):
    config = tmp_path / "server.yaml"
    config.write_text(f"home: {tmp_path / 'home'}\nmemory:\n  server_token_env: {TOKEN_ENV}\n")
    command = [sys.executable, "-m", "overnight_assets.cli", "cortex", "serve", "--config", str(config), "--port", "9"]
    env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV} | {"PYTHONPATH": str(REPO)}
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and f"{TOKEN_ENV} is not set" in refused.stderr
    assert not (tmp_path / "home" / "cortex.duckdb").exists()


def test_the_delivery_claim_is_still_once_only_across_two_processes(served, cortex, tmp_path):
    with cortex.connect() as db:
        db.execute("INSERT INTO deliveries (partition_key, text, blocks) VALUES ('2026-11-19', 'hi', '[]')")
    config = served.client_config(tmp_path / "client")
    claims = [client("claim", config, served.client_env(), "2026-11-19", f"host{n}:{n}:1") for n in (1, 2)]
    assert sorted(finished(claim).strip() for claim in claims) == ["claimed", "not claimed"]


def test_the_configuration_names_the_server(served, tmp_path):
    config = load_config(served.client_config(tmp_path / "client"))
    assert Cortex.of(config).server == ServerAddress(served.url, TOKEN_ENV)
    assert load_config(tmp_path / "client" / "overnight.yaml").memory.server_token_env == TOKEN_ENV


def _raw_post(served, path: str, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    """A request as a hostile or broken client sends it: the body and headers as given."""
    connection = http.client.HTTPConnection("127.0.0.1", int(served.url.rsplit(":", 1)[1]), timeout=30)
    try:
        connection.putrequest("POST", path)
        for name, value in {
            "Authorization": f"Bearer {TOKEN}",
            "Content-Length": str(len(body)),
            **(headers or {}),
        }.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("body", "headers", "said"),
    [
        (b"not json {", None, "the body is not JSON"),
        (b'["a", "list"]', None, "a JSON list, not an object"),
        (b"\xff\xfe", None, "the body is not JSON"),
        (b"{}", {"Content-Length": "abc"}, "Content-Length is 'abc'"),
        (b"{}", {"Content-Length": "-5"}, "Content-Length is '-5'"),
        (b"{}", {"Content-Length": str(2**40)}, "the body is over 256 MiB"),
    ],
)
def test_a_malformed_request_is_refused_in_words_and_the_server_goes_on(served, cortex, body, headers, said):
    status, answer = _raw_post(served, "/open", body, headers)
    assert status == 400 and said in answer["error"]["message"], answer
    assert TOKEN not in json.dumps(answer)
    assert cortex.query("SELECT 42")[1] == [(42,)]  # nothing held, nothing broken


def test_an_execute_without_sql_and_an_unknown_op_are_refused_in_words(served, cortex):
    status, answer = _raw_post(served, "/open", b'{"wait_s": 5}')
    session = answer["session"]
    assert _raw_post(served, "/execute", json.dumps({"session": session, "sql": 5}).encode()) == (
        400,
        {"error": {"class": "ValueError", "message": 'an /execute request needs "sql", a string'}},
    )
    assert _raw_post(served, "/drop_everything", b"{}")[0] == 404
    assert _raw_post(served, "/execute", json.dumps({"session": session, "sql": "SELECT 7"}).encode())[1]["rows"] == [
        [7]
    ]
    _raw_post(served, "/close", json.dumps({"session": session}).encode())


def test_an_error_inside_a_transaction_leaves_the_session_usable_after_a_rollback(cortex):
    with cortex.connect() as db:
        db.execute("BEGIN")
        db.execute("INSERT INTO llm_cache (cache_key, model, response) VALUES ('mid-error', 'm', 'r')")
        with pytest.raises(duckdb.CatalogException):
            db.execute("SELECT * FROM no_such_table")
        with pytest.raises(duckdb.TransactionException, match="aborted"):
            db.execute("SELECT 1")
        db.execute("ROLLBACK")
        assert db.execute("SELECT count(*) FROM llm_cache WHERE cache_key = 'mid-error'").fetchone() == (0,)


def test_a_result_over_the_row_limit_is_refused_in_words_and_the_session_goes_on(cortex):
    from overnight_assets.resources.cortex_server import MAX_RESULT_ROWS

    with cortex.connect() as db:
        with pytest.raises(duckdb.Error, match=f"more than {MAX_RESULT_ROWS:,} rows"):
            db.execute(f"SELECT * FROM range({MAX_RESULT_ROWS + 1})")
        assert db.execute(f"SELECT count(*) FROM range({MAX_RESULT_ROWS + 1})").fetchone() == (MAX_RESULT_ROWS + 1,)


def test_a_session_across_a_server_restart_fails_in_words_not_a_hang(tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    port = free_port()
    with cortex_server(tmp_path / "first", TOKEN, port=port) as first:
        cortex = Cortex(first.home / "x.duckdb", lock_wait_s=5, server=ServerAddress(first.url, TOKEN_ENV))
        unit = cortex.connect()
        db = unit.__enter__()
        db.execute("BEGIN")
        db.execute("INSERT INTO llm_cache (cache_key, model, response) VALUES ('across', 'm', 'r')")
    with pytest.raises(CortexServerError, match="not reachable"):  # the server is gone: said at once
        db.execute("SELECT 1")
    with cortex_server(tmp_path / "first", TOKEN, port=port):  # back, on the same file
        with pytest.raises(CortexSessionExpired, match="the server restarted"):
            db.execute("SELECT 1")
        unit.__exit__(None, None, None)
        assert cortex.query("SELECT count(*) FROM llm_cache WHERE cache_key = 'across'")[1] == [(0,)]
    assert TOKEN not in (tmp_path / "first" / "server.log").read_text()


def test_feedback_from_another_host_reaches_the_served_cortex(served, cortex, tmp_path):
    night = "2026-10-01"  # a night of its own on the module's server
    with cortex.connect() as db:
        db.execute("INSERT INTO deliveries (partition_key, text, blocks) VALUES (?, 'Good morning', '[]')", [night])
        db.execute(
            "INSERT INTO briefing_items (partition_key, ref, title, source) VALUES (?, 'R1', 'Served item', 'HN')",
            [night],
        )
    config = served.client_config(tmp_path / "client")
    command = [sys.executable, "-m", "overnight_assets.cli", "feedback", "R1", "good", "--date", night]
    result = subprocess.run(
        [*command, "--config", str(config)], env=served.client_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert cortex.query("SELECT subject FROM signals WHERE kind = 'feedback'")[1] == [(f"{night} R1",)]
