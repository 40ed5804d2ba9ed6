"""The fixtures every test folder shares, made of the test kit (overnight_assets_tests/testkit/)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from overnight_assets.cli import DEMO_FIRST_NIGHT_ENV
from overnight_assets_tests.testkit import SAMPLES
from overnight_assets_tests.testkit.config import write_config
from overnight_assets_tests.testkit.fake_ollama import FakeOllama
from overnight_assets_tests.testkit.fake_slack import FakeSlack
from overnight_assets_tests.testkit.feeds import Entry, FeedServer, Paper, Reply, arxiv_feed, at, rss2
from overnight_assets_tests.testkit.instances import dagster_dev, sqlite_instance
from overnight_assets_tests.testkit.loopback import free_port, serving
from overnight_assets_tests.testkit.nights import NEW_SUDO_USER, NIGHT, append_to_auth_log
from overnight_assets_tests.testkit.reading_runs import INTERESTS


@pytest.fixture(autouse=True)
def no_demo_first_night(monkeypatch):
    """`overnight demo` run in-process sets OVERNIGHT_DEMO_FIRST_NIGHT in os.environ for the runs it
    launches: each test starts without it, whichever test of its worker ran the demo before."""
    monkeypatch.delenv(DEMO_FIRST_NIGHT_ENV, raising=False)


@pytest.fixture
def ollama_server():
    with serving(FakeOllama()) as fake:
        yield fake


@pytest.fixture
def slack_server(monkeypatch):
    with serving(FakeSlack(), "/api/") as fake:
        monkeypatch.setenv("OVERNIGHT_TEST_SLACK_TOKEN", fake.token)
        yield fake


@pytest.fixture
def feed_server():
    """Feeds, trending pages, the arXiv API and the package registries, served from 127.0.0.1."""
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def unused_url() -> str:
    """A loopback URL where nothing listens: connection refused at once."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def dev_server(tmp_path):
    """`dagster dev` on a temporary DAGSTER_HOME, as `make dev` starts it: its port and environment."""
    with dagster_dev(tmp_path) as server:
        yield server


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
    with sqlite_instance(tmp_path / "dagster_home") as instance:
        yield instance


@pytest.fixture
def busy_night(make_config, host_files, tmp_path):
    """A config for a night in which every LLM asset has a question: a planted RED in the auth log,
    feed items and papers in the window, and commits in a repository."""
    from overnight_assets.demo.inputs import prepare_demo_repository

    feeds = FeedServer()
    feeds.routes["/feed"] = Reply(200, rss2([
        Entry("Running GGUF quantization with ollama", "https://example.org/gguf", "How to run ollama models.", at(NIGHT)),
        Entry("A proxmox and zfs homelab", "https://example.org/zfs", "Storage for a homelab.", at(NIGHT, "12:00")),
    ]))  # fmt: skip
    feeds.routes["/api/query"] = Reply(
        200, arxiv_feed([Paper("2611.00001", "GGUF quantization at 2 bits", "With ollama.", at(NIGHT))])
    )
    repo = prepare_demo_repository(date.fromisoformat(NIGHT), "Europe/Bucharest", tmp_path / "repos" / "homelab")
    append_to_auth_log(host_files, NEW_SUDO_USER)

    def make(llm_url: str, **overrides):
        return make_config(
            llm_url,
            reading__sources=[{"name": "Feed", "url": feeds.url("/feed")}],
            reading__interests=INTERESTS,
            reading__digest_size=2,
            reading__arxiv={
                "queries": ["abs:gguf"],
                "api_url": feeds.url("/api/query"),
                "delay_s": 0.01,
                "num_retries": 0,
                "keep": 2,
            },
            code_review__repos=[{"name": "homelab", "path": str(repo)}],
            **overrides,
        )

    yield make
    feeds.close()
