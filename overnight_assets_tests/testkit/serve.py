"""`overnight serve` as a real process: on a free loopback port, a SQLite DAGSTER_HOME with the repo's
dagster.yaml, a test night's config (the demo's host samples, an LLM nobody answers: every LLM step
falls back) and a fresh token; its stdout and stderr in a file the tests read."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from overnight_assets_tests.testkit import REPO, SAMPLES, poll
from overnight_assets_tests.testkit.config import write_config
from overnight_assets_tests.testkit.loopback import free_port

TOKEN_ENV = "OVERNIGHT_TEST_SERVE_TOKEN"


@dataclasses.dataclass
class Served:
    url: str
    token: str
    log: Path  # the process's stdout and stderr
    dagster_home: Path
    process: subprocess.Popen

    def call(self, method: str, path: str, body: dict | bytes | None = None, token: str | None = "valid", headers=None):
        """(status, JSON answer, headers); token "valid" sends the server's, None sends no Authorization."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {self.token if token == 'valid' else token}"
        data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read()), answer.headers
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read()), error.headers


def serve_env(root: Path, token: str | None, **config_overrides) -> tuple[dict, Path]:
    """(the environment, the config file) of a server in `root`, made ready: DAGSTER_HOME and host inputs."""
    host = root / "host"
    shutil.copytree(SAMPLES, host)
    llm = f"http://127.0.0.1:{free_port()}"  # nothing listens: the LLM steps fall back at once
    config = write_config(root, host, llm, serve__token_env=TOKEN_ENV, **config_overrides)
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    skip = ("DAGSTER_HOME", "OVERNIGHT_CONFIG", "OVERNIGHT_HOME", "OLLAMA_HOST", TOKEN_ENV)
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env |= {"DAGSTER_HOME": str(dagster_home), "OVERNIGHT_CONFIG": str(config)}
    if token is not None:
        env[TOKEN_ENV] = token
    return env, config


@contextlib.contextmanager
def overnight_serve(root: Path, **config_overrides) -> Iterator[Served]:
    """`overnight serve` running in root until the block ends, once it answers HTTP."""
    token = secrets.token_urlsafe(32)
    env, _ = serve_env(root, token, **config_overrides)
    port, log = free_port(), root / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "overnight_assets.cli", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served = Served(f"http://127.0.0.1:{port}", token, log, Path(env["DAGSTER_HOME"]), process)
    try:
        poll(lambda: _answers(served), timeout_s=120, what="overnight serve to answer", every_s=0.2)
        yield served
    finally:
        _signal_group(process.pid, signal.SIGTERM)  # the server, its code server and their run workers
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()


def _signal_group(group: int, number: int) -> None:
    try:
        os.killpg(group, number)
    except ProcessLookupError:
        pass  # every process of it has ended already


def _answers(served: Served) -> bool:
    assert served.process.poll() is None, f"overnight serve exited:\n{served.log.read_text()[-3000:]}"
    try:
        urllib.request.urlopen(served.url + "/runs/none", timeout=2)
    except urllib.error.HTTPError:
        return True  # 401: it answers
    except OSError:
        return False
    return True
