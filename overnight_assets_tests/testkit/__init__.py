"""The test kit: what the tests and the benchmarks build their worlds from, imported by name
(`overnight_assets_tests.testkit.<module>`); the fixtures made of it are in the conftest.py files.

Nothing here reaches outside the machine: the real `ollama`, `slack_sdk`, feed and arXiv clients
talk to small HTTP servers on 127.0.0.1 that answer in the real APIs' formats.

- loopback: the HTTP server the fakes are served by, and replies written by hand (trickled, hung)
- fake_ollama, fake_slack: Ollama's and Slack's Web APIs, and what Slack would show wrong
- feeds: feeds, trending pages and the arXiv API, and documents in their formats
- registries: PyPI's JSON, npm's registry documents and GitHub's release feeds, for the feeds server
- config: an overnight.yaml for a test night
- instances: Dagster instances on SQLite, a real daemon
- postgres: a database of its own on the real PostgreSQL server
- serve: `overnight serve` as a real process, and calls to it
- nights: the nightly job's nights, in process and as `overnight run` processes
- hung_nights: nights hung in a gpu step, and how to wait for them
- run_history: weeks of runs in an instance, backdated with Dagster's freeze_time, one re-executed
- reading_runs: the reading assets run for a night
- git_history: real git repositories with chosen commit times and authors
- planted_secrets: a secret of every kind for every place, and everything a night wrote
- resources: the project's LLM session and Slack outbox as the resource tests use them
- cortex: another process holding Cortex open
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "overnight_assets" / "demo" / "samples"


def poll(predicate: Callable[[], Any], timeout_s: float = 120.0, what: str = "a condition", every_s: float = 0.05):
    """predicate's first truthy answer, asked every every_s; a clear failure after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out after {timeout_s:g} s waiting for {what}"
        time.sleep(every_s)
    return result


def require_or_skip(available: bool, reason: str) -> None:
    """A missing server skips with the reason outside CI and fails in CI."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)
