"""Loopback fixtures for the benchmarks: a temporary DAGSTER_HOME and overnight home, fake Ollama and Slack.

The servers are the tests' own (the test kit, overnight_assets_tests/testkit/): the real `ollama`
and `slack_sdk` clients talk to them on 127.0.0.1 and they answer instantly. Nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from overnight_assets_tests.testkit import REPO, SAMPLES
from overnight_assets_tests.testkit.config import write_config
from overnight_assets_tests.testkit.fake_ollama import FakeOllama
from overnight_assets_tests.testkit.fake_slack import FakeSlack
from overnight_assets_tests.testkit.loopback import serving

# the variables the config loader reads; cleared so the benchmark's own config is what counts
_CLEARED = ("OVERNIGHT_HOME", "OLLAMA_HOST", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@dataclass
class Loopback:
    root: Path
    dagster_home: Path
    host: Path  # the host's inputs: a copy of the demo samples
    config: Path
    ollama: FakeOllama
    slack: FakeSlack

    def plant_failed_logins(self, night: date, source: str, count: int = 12) -> None:
        """`count` failed root logins from `source` at 04:0x local time on `night` (gate: AMBER)."""
        stamp = f"{night:%b} {night.day:>2}"
        lines = "".join(
            f"{stamp} 04:0{i % 10}:1{i % 10} homelab sshd[{9000 + i}]: "
            f"Failed password for root from {source} port {40000 + i} ssh2\n"
            for i in range(count)
        )
        with open(self.host / "auth.log", "a") as log:
            log.write(lines)


@contextlib.contextmanager
def loopback(**config_overrides):
    """Everything in one temporary folder; env vars set for this process and its children."""
    with (
        tempfile.TemporaryDirectory(prefix="overnight-bench-") as tmp,
        serving(FakeOllama()) as ollama,
        serving(FakeSlack(), "/api/") as slack,
    ):
        root = Path(tmp)
        dagster_home = root / "dagster_home"
        dagster_home.mkdir()
        shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
        host = root / "host"
        shutil.copytree(SAMPLES, host)
        config = write_config(root, host, ollama.url, slack.url, **config_overrides)

        env = {
            "DAGSTER_HOME": str(dagster_home),
            "OVERNIGHT_CONFIG": str(config),
            "OVERNIGHT_TEST_SLACK_TOKEN": slack.token,
            "NO_PROXY": "127.0.0.1,localhost",
        }
        saved = {key: os.environ.get(key) for key in (*env, *_CLEARED)}
        for key in _CLEARED:
            os.environ.pop(key, None)
        os.environ.update(env)
        try:
            yield Loopback(root, dagster_home, host, config, ollama, slack)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
