"""The fixtures every test folder shares; what they are built from lives in testkit.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from testkit import REPO, SAMPLES, FakeOllama, FakeSlack, _Server, write_config


@pytest.fixture
def ollama_server():
    fake = FakeOllama()
    server = _Server(fake.handle)
    fake.url = server.url
    yield fake
    server.close()


@pytest.fixture
def slack_server(monkeypatch):
    fake = FakeSlack()
    server = _Server(fake.handle)
    fake.url = server.url + "/api/"
    monkeypatch.setenv("OVERNIGHT_TEST_SLACK_TOKEN", fake.token)
    yield fake
    server.close()


@pytest.fixture
def unused_url() -> str:
    """A loopback URL where nothing listens: connection refused at once."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def host_files(tmp_path) -> Path:
    """A clean host's inputs: the demo's samples, copied so a test may plant problems."""
    target = tmp_path / "host"
    shutil.copytree(SAMPLES, target)
    return target


@pytest.fixture
def make_config(tmp_path, host_files):
    def make(llm_url: str, slack_url: str | None = None, **overrides):
        from overnight_assets.config import load_config

        return load_config(write_config(tmp_path, host_files, llm_url, slack_url, **overrides))

    return make


@pytest.fixture
def instance(tmp_path):
    """A real SQLite instance with the repo's dagster.yaml (the gpu pool limited to 1)."""
    import dagster as dg

    overrides = yaml.safe_load((REPO / "dagster.yaml").read_text())
    overrides.pop("run_monitoring", None)  # no daemon in these tests
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(overrides=overrides, temp_dir=str(home)) as instance:
        yield instance
