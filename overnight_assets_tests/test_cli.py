"""The `overnight` command: demo, run (rerun replaces, never duplicates), rebaseline, validate."""

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from overnight_assets.cli import DEMO_FIRST_NIGHT_ENV, DEMO_FIRST_NIGHT_FILE, main
from overnight_assets.config import CONFIG_ENV, HOME_ENV, load_config
from overnight_assets.definitions import build_defs
from overnight_assets.resources.cortex import Cortex
from overnight_assets_tests.testkit import REPO
from overnight_assets_tests.testkit.config import write_config


def overnight(*args, env, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "overnight_assets.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )


def clean_env(**extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DAGSTER_HOME", "OVERNIGHT_CONFIG", "OVERNIGHT_HOME", "OLLAMA_HOST")
    }
    return {**env, **extra}


def test_run_twice_replaces_the_night_and_posts_once(tmp_path, host_files, ollama_server, slack_server):
    config = write_config(tmp_path, host_files, ollama_server.url, slack_server.url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = clean_env(DAGSTER_HOME=str(home), OVERNIGHT_TEST_SLACK_TOKEN=slack_server.token)
    for _ in range(2):
        result = overnight("run", "--date", "2026-11-20", "--config", str(config), env=env)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Security triage: GREEN" in result.stdout and "2026-11-20.md" in result.stdout
    overnight_home = tmp_path / "home"
    assert [p.name for p in (overnight_home / "briefings").iterdir()] == ["2026-11-20.md"]
    assert len(slack_server.posts) == 1 and len(slack_server.updates) == 1
    with Cortex(overnight_home / "cortex.duckdb").connect() as db:
        assert db.execute("SELECT count(*), bool_or(pending) FROM deliveries").fetchone() == (1, False)
    assert not list((overnight_home / "outbox").iterdir())


def test_run_without_dagster_home_says_what_to_do(tmp_path):
    result = overnight("run", "--date", "2026-11-20", "--config", str(REPO / "overnight.example.yaml"), env=clean_env())
    assert result.returncode == 2 and "DAGSTER_HOME is not set" in result.stderr


def test_bad_date_and_bad_config_are_named(tmp_path, capsys):
    assert overnight("run", "--date", "20-11-2026", env=clean_env()).returncode == 2
    bad = tmp_path / "overnight.yaml"
    bad.write_text("timezone: Mars/Olympus")
    assert main(["validate", "--config", str(bad)]) == 2
    assert "timezone: expected an IANA timezone" in capsys.readouterr().err


def test_demo_runs_the_whole_chain_on_bundled_samples(tmp_path):
    result = overnight("demo", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (
        "Security triage: GREEN, 2 notes (llm: not needed)" in result.stdout
    )  # baselines recorded: notes, not problems
    assert "Reading list: GREEN, 8 to read (llm: unavailable)" in result.stdout  # 18 offline sample sources
    assert "arXiv finds: NOT CONFIGURED, nothing to report" in result.stdout  # the demo runs offline: no queries
    # the demo's repository: a forgotten breakpoint() and an unused import are warnings, never GREEN
    assert "Code reviews: AMBER, 2 needing action (llm: unavailable)" in result.stdout
    briefings = list((tmp_path / ".dagster_home" / "overnight-home" / "briefings").glob("*.md"))
    assert len(briefings) == 1 and f"Morning message: {briefings[0]}" in result.stdout
    # the demo instance's partitions start at its night: the UI shows no months of missing nights
    assert (tmp_path / ".dagster_home" / DEMO_FIRST_NIGHT_FILE).read_text() == f"{briefings[0].stem}\n"
    assert "Undelivered messages kept" in result.stdout  # no Slack in the demo: the outbox keeps it


def test_rebaseline_accepts_the_watched_files_as_they_are(tmp_path, host_files, instance, ollama_server, capsys):
    config_path = write_config(tmp_path, host_files, ollama_server.url)
    config = load_config(config_path)
    job = build_defs(config).resolve_job_def("nightly")

    def triage_status(night):
        job.execute_in_process(partition_key=night, instance=instance)
        return json.loads((config.paths.assets / "security_triage" / f"{night}.json").read_text())["status"]

    assert triage_status("2026-11-18") == "GREEN"  # records the baseline
    (host_files / "watched" / "mcp" / "servers.json").write_text('{"servers": {"evil": {"command": "curl"}}}')
    assert triage_status("2026-11-19") == "RED"
    assert main(["rebaseline", "--config", str(config_path)]) == 0
    assert "Baseline recorded for 2 files" in capsys.readouterr().out
    assert triage_status("2026-11-20") == "GREEN"


def tomorrow(timezone: str) -> str:
    return (datetime.now(ZoneInfo(timezone)) + timedelta(days=1)).date().isoformat()


@pytest.mark.parametrize("night", ["2025-12-31", "tomorrow"])
def test_run_refuses_a_date_outside_the_partitions_before_any_work(
    tmp_path, host_files, ollama_server, monkeypatch, capsys, night
):
    config = write_config(tmp_path, host_files, ollama_server.url)
    night = tomorrow("Europe/Bucharest") if night == "tomorrow" else night
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv(CONFIG_ENV, str(config))  # restored after the test: `run` sets it

    assert main(["run", "--date", night, "--config", str(config)]) == 2
    today = datetime.now(ZoneInfo("Europe/Bucharest")).date().isoformat()
    expected = f"--date {night} is not a nightly partition: expected a date from 2026-01-01 (first_night) to {today} (today in Europe/Bucharest)"
    assert expected in capsys.readouterr().err
    assert not ollama_server.loads and not ollama_server.chats
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs_count() == 0


def test_demo_refuses_a_date_outside_the_partitions_before_writing_its_inputs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(CONFIG_ENV, "restored after the test: `demo` sets it")
    monkeypatch.delenv(DEMO_FIRST_NIGHT_ENV, raising=False)  # unset again after the test: `demo` sets it
    assert main(["demo", "--date", "2025-12-31"]) == 2
    assert (
        "--date 2025-12-31 is not a nightly partition: expected a date from 2026-01-01 (first_night) to "
        in capsys.readouterr().err
    )
    assert not (tmp_path / "home").exists() and not list((tmp_path / "dagster_home").glob("*first-night"))


def test_the_demo_instance_partitions_start_at_its_first_night_and_only_move_earlier(tmp_path, monkeypatch):
    from overnight_assets.config import BUNDLED_DEMO_CONFIG
    from overnight_assets.partitions import nightly_partitions

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(CONFIG_ENV, "restored after the test: `demo` sets it")

    def demo_first_night(night: str) -> str:
        monkeypatch.delenv(DEMO_FIRST_NIGHT_ENV, raising=False)  # as a new `overnight demo` process starts
        assert main(["demo", "--inputs-only", "--date", night]) == 0
        first = nightly_partitions(load_config(BUNDLED_DEMO_CONFIG)).get_first_partition_key()
        assert (tmp_path / "dagster_home" / DEMO_FIRST_NIGHT_FILE).read_text() == f"{first}\n"
        return first

    assert demo_first_night("2026-11-19") == "2026-11-19"
    assert demo_first_night("2026-11-21") == "2026-11-19"  # a later night keeps the nights already run
    assert demo_first_night("2026-11-10") == "2026-11-10"  # an earlier one extends the partitions


class BasicAuthFiles:
    """Static files behind HTTP Basic auth: a feed, and a git repository over git's dumb HTTP protocol."""

    def __init__(self, root, user: str, password: str):
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.authorized: list[str] = []
        served = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="overnight"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                served.authorized.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def served_repository(root):
    """A bare repository with one commit in the night of 2026-11-20, ready for dumb HTTP."""
    work = root.parent / "lab-work"
    stamp = "2026-11-20T10:00:00+02:00"
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Ana",
        "GIT_AUTHOR_EMAIL": "ana@lab",
        "GIT_COMMITTER_NAME": "Ana",
        "GIT_COMMITTER_EMAIL": "ana@lab",
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
    }
    for args in (
        ["init", "-q", "-b", "main", str(work)],
        ["-C", str(work), "commit", "-q", "--allow-empty", "-m", "Tune the backups"],
        ["clone", "-q", "--bare", str(work), str(root / "lab.git")],
        ["-C", str(root / "lab.git"), "update-server-info"],
    ):
        subprocess.run(["git", *args], env=env, check=True)


def files_holding(text: bytes, *folders) -> list[str]:
    return [
        str(path) for folder in folders for path in folder.rglob("*") if path.is_file() and text in path.read_bytes()
    ]


def test_passwords_in_urls_reach_the_servers_and_nothing_written(tmp_path, host_files, ollama_server, slack_server):
    """The password in llm.host, a feed's URL and a repository's URL: used to connect, written nowhere."""
    served = tmp_path / "served"
    served.mkdir()
    served_repository(served)
    (served / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Private</title></channel></rss>'
    )
    private = BasicAuthFiles(served, "reader", "hunter2pass")
    llm_url = ollama_server.url.replace("http://", "http://ollama:hunter2pass@")
    config = write_config(
        tmp_path,
        host_files,
        llm_url,
        slack_server.url,
        reading__sources=[
            {"name": "Private feed", "url": f"http://reader:hunter2pass@127.0.0.1:{private.port}/feed.xml"}
        ],
        code_review__repos=[{"name": "lab", "url": f"http://reader:hunter2pass@127.0.0.1:{private.port}/lab.git"}],
    )
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    env = clean_env(DAGSTER_HOME=str(dagster_home), OVERNIGHT_TEST_SLACK_TOKEN=slack_server.token)
    try:
        validated = overnight("validate", "--config", str(config), env=env)
        nights, reviewed = [], []
        for _ in range(2):  # clone, then fetch
            nights.append(overnight("run", "--date", "2026-11-20", "--config", str(config), env=env))
            reviewed.append(
                json.loads((tmp_path / "home" / "assets" / "code_reviews" / "2026-11-20.json").read_text())["items"]
            )
    finally:
        private.close()

    assert validated.returncode == 0 and "LLM http://***@127.0.0.1:" in validated.stdout
    for night in nights:
        assert night.returncode == 0, night.stdout[-3000:] + night.stderr[-3000:]
        assert "Code reviews: GREEN, nothing to report" in night.stdout  # a clean commit: nothing needs action
    assert [len(items) for items in reviewed] == [1, 1]  # the commit came through the authenticated clone, then fetch
    assert private.authorized.count("/feed.xml") == 2
    assert private.authorized.count("/lab.git/info/refs?service=git-upload-pack") == 2
    for result in (validated, *nights):
        assert "hunter2pass" not in result.stdout + result.stderr
    assert files_holding(b"hunter2pass", dagster_home, tmp_path / "home") == []
    assert [mirror.name[:4] for mirror in (tmp_path / "home" / "repos").iterdir()] == ["lab-"]  # the git mirror cache


def cortex_config(tmp_path):
    """A config whose home holds a real Cortex file with one memory in it."""
    config = tmp_path / "overnight.yaml"
    config.write_text(f"home: {tmp_path / 'home'}\n")
    Cortex(tmp_path / "home" / "cortex.duckdb").remember(
        [{"kind": "article", "source": "hn", "url": "https://example.org/a", "title": "A\tnote"}]
    )
    return config


def chain_can_write(tmp_path) -> bool:
    """A write as the chain makes one, failing within a second if anything still holds Cortex."""
    cortex = Cortex(tmp_path / "home" / "cortex.duckdb", lock_wait_s=1)
    return cortex.remember([{"kind": "a", "source": "s", "title": "written by the chain"}]) == 1


def test_cortex_query_prints_rows_while_someone_else_reads_cortex(tmp_path, capsys):
    from overnight_assets_tests.testkit.cortex import hold_cortex, release_cortex

    config = cortex_config(tmp_path)
    holder = hold_cortex(tmp_path / "home" / "cortex.duckdb")  # another reader: a shell left open
    try:
        assert main(["cortex", "query", "--config", str(config), "SELECT kind, url, title FROM memories"]) == 0
    finally:
        release_cortex(holder)
    assert capsys.readouterr().out == 'kind\turl\ttitle\narticle\thttps://example.org/a\t"A\tnote"\n'
    # the chain can write again at once: the query held Cortex for its statement only
    assert chain_can_write(tmp_path)


def test_cortex_query_never_writes_and_says_why(tmp_path, capsys):
    config = cortex_config(tmp_path)
    assert main(["cortex", "query", "--config", str(config), "DELETE FROM memories"]) == 2
    assert "read-only" in capsys.readouterr().err
    with Cortex(tmp_path / "home" / "cortex.duckdb").connect() as db:
        assert db.execute("SELECT count(*) FROM memories").fetchone() == (1,)


def test_cortex_copy_is_a_database_to_explore_for_as_long_as_one_likes(tmp_path, capsys):
    import duckdb

    config = cortex_config(tmp_path)
    copy = tmp_path / "explore.duckdb"
    result = overnight("cortex", "copy", "--config", str(config), str(copy), env=clean_env())
    assert result.returncode == 0, result.stderr
    assert f"Cortex copied to {copy}" in result.stdout
    with duckdb.connect(str(copy), read_only=True) as explore:  # held open: the chain still writes
        assert explore.execute("SELECT title FROM memories").fetchall() == [("A\tnote",)]
        assert chain_can_write(tmp_path)
    assert main(["cortex", "copy", "--config", str(config), str(copy)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_cortex_unmerge_undoes_a_merge_from_the_command_line(tmp_path, capsys):
    from datetime import UTC, datetime

    from overnight_assets.memory.consolidation import Settings, consolidate
    from overnight_assets_tests.testkit.memories import add_memory

    config = cortex_config(tmp_path)
    cortex, now = Cortex(tmp_path / "home" / "cortex.duckdb"), datetime(2026, 11, 20, 3, tzinfo=UTC)
    with cortex.connect() as db:
        survivor = add_memory(db, "DuckDB 1.2 released with faster joins", now, 3, weight=0.9)
        twin = add_memory(db, "DuckDB 1.2 released, with faster joins", now, 1, weight=0.5)
    assert consolidate(cortex, Settings(), now).merged == 1
    assert main(["cortex", "unmerge", "--config", str(config), str(survivor)]) == 0
    assert capsys.readouterr().out == f"Live again, apart from {survivor} from now on: {twin}\n"
    with cortex.connect() as db:
        assert db.execute("SELECT valid_to FROM memories WHERE id = ?", [twin]).fetchone() == (None,)
    assert main(["cortex", "unmerge", "--config", str(config), str(survivor)]) == 0
    assert "nothing merged into it" in capsys.readouterr().out
    assert main(["cortex", "unmerge", "--config", str(config), "999999"]) == 2
    assert "no memory 999999" in capsys.readouterr().err


def test_cortex_commands_without_a_cortex_say_so(tmp_path, capsys):
    config = tmp_path / "overnight.yaml"
    config.write_text(f"home: {tmp_path / 'home'}\n")
    assert main(["cortex", "query", "--config", str(config), "SELECT 1"]) == 2
    assert f"no Cortex at {tmp_path / 'home' / 'cortex.duckdb'} yet" in capsys.readouterr().err
    assert not (tmp_path / "home" / "cortex.duckdb").exists()


def test_cortex_query_waits_briefly_for_a_writer_then_names_it(tmp_path, capsys):
    from overnight_assets_tests.testkit.cortex import hold_cortex, release_cortex

    config = cortex_config(tmp_path)
    writer = hold_cortex(tmp_path / "home" / "cortex.duckdb", read_only=False)
    try:
        assert main(["cortex", "query", "--config", str(config), "--wait", "0.5", "SELECT 1"]) == 2
    finally:
        release_cortex(writer)
    assert f"stayed locked by PID {writer.pid} (" in capsys.readouterr().err
