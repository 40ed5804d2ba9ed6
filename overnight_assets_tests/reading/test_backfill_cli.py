"""The README's backfill, for real: `dagster job backfill` of seven nights, run by a real daemon."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from overnight_assets_tests.testkit import REPO
from overnight_assets_tests.testkit.feeds import conditional, rss2
from overnight_assets_tests.testkit.instances import dagster_daemon
from overnight_assets_tests.testkit.reading_runs import many_entries, source

NIGHTS = [f"2026-11-{day}" for day in range(14, 21)]
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def backfill(env: dict) -> None:
    command = [
        "dagster",
        "job",
        "backfill",
        "-w",
        "workspace.yaml",
        "-j",
        "reading",
        "--from",
        NIGHTS[0],
        "--to",
        NIGHTS[-1],
        "--noprompt",
    ]
    done = subprocess.run(
        [str(Path(sys.executable).with_name(command[0])), *command[1:]],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def wait_for_runs(home: Path, count: int) -> list[dg.DagsterRunStatus]:
    deadline = time.monotonic() + 240
    with dg.DagsterInstance.from_config(str(home)) as instance:
        while time.monotonic() < deadline:
            statuses = [record.dagster_run.status for record in instance.get_run_records()]
            if len(statuses) >= count and all(status in FINISHED for status in statuses):
                return statuses
            time.sleep(0.5)  # polling the instance until the daemon has run them all
    raise AssertionError(f"the daemon did not finish {count} runs in time: {statuses}")


def test_a_cli_backfill_of_seven_nights_then_again_asks_nothing_twice(
    feed_server, reading_config, ollama_server, tmp_path
):
    feed_server.routes["/week"] = conditional(
        rss2([entry for night in NIGHTS for entry in many_entries(5, night)]), '"week"'
    )
    config = reading_config([source("Week", feed_server, "/week")], digest_size=2)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "OVERNIGHT_CONFIG": config.source}
    dg.DagsterInstance.from_config(str(home)).dispose()  # create its storage before two processes race to
    with dagster_daemon(env):
        backfill(env)
        assert wait_for_runs(home, 7) == [dg.DagsterRunStatus.SUCCESS] * 7
        judged = len(ollama_server.chats)
        assert judged == 7 * 4  # each night: its 5 new items, the top 2 x digest_size judged

        backfill(env)
        assert wait_for_runs(home, 14) == [dg.DagsterRunStatus.SUCCESS] * 14
        assert len(ollama_server.chats) == judged  # every item already judged: the cache answers
