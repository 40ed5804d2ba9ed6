"""Dagster instances as the tests run them: on SQLite with the repo's dagster.yaml, with the
loopback Ollama and Slack serving, and a real `dagster-daemon run`."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from overnight_assets_tests.testkit import REPO
from overnight_assets_tests.testkit.loopback import free_port, serving


@contextlib.contextmanager
def sqlite_instance(dagster_home: Path) -> Iterator:
    """A real SQLite instance in dagster_home (made here) with the repo's dagster.yaml, the gpu pool
    limited to 1; run monitoring left out, as no daemon runs beside these tests."""
    import dagster as dg

    overrides = yaml.safe_load((REPO / "dagster.yaml").read_text())
    overrides.pop("run_monitoring", None)
    dagster_home.mkdir()
    with dg.instance_for_test(overrides=overrides, temp_dir=str(dagster_home)) as instance:
        yield instance


@contextlib.contextmanager
def loopback_instance(root: Path, ollama, slack) -> Iterator[tuple]:
    """A SQLite instance (sqlite_instance) under `root`, the loopback Ollama and Slack serving, and
    Slack's token in the environment: (instance, dagster_home, ollama_url, slack_url)."""
    dagster_home = root / "dagster_home"
    with (
        serving(ollama),
        serving(slack, "/api/"),
        pytest.MonkeyPatch.context() as patch,
        sqlite_instance(dagster_home) as instance,
    ):
        patch.setenv("OVERNIGHT_TEST_SLACK_TOKEN", slack.token)
        yield instance, dagster_home, ollama.url, slack.url


@contextlib.contextmanager
def dagster_daemon(env: dict | None = None):
    """A real `dagster-daemon run` on the repo's workspace.yaml (env: its environment, default this
    process's), stopped with its whole process group on exit."""
    daemon = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield daemon
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a loaded machine: the daemon's children may not stop in time
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()


@dataclasses.dataclass
class DevServer:
    port: int
    env: dict  # the server's environment: DAGSTER_HOME and OVERNIGHT_HOME as `make dev` sets them


@contextlib.contextmanager
def dagster_dev(root: Path) -> Iterator[DevServer]:
    """`make dev`'s server (`dagster dev`: webserver and daemon) on a DAGSTER_HOME in root with the
    repo's dagster.yaml and an overnight home beside it, once its webserver answers."""
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "OVERNIGHT_HOME": str(root / "home")}
    env.pop("OVERNIGHT_CONFIG", None)
    dagster = Path(sys.executable).with_name("dagster")
    server = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert server.poll() is None, "dagster dev exited during start-up"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                time.sleep(0.25)  # polling the port until the webserver answers
        yield DevServer(port, env)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a loaded machine: dagster dev's children may not stop in time
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
