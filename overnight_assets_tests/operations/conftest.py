"""Fixtures: nights against a slow loopback Ollama, one of them hung in a gpu step."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import dagster as dg
import pytest

from overnight_assets_tests.testkit import REPO
from overnight_assets_tests.testkit.config import write_config
from overnight_assets_tests.testkit.hung_nights import HUNG_NIGHT, Nights, wait_for


@pytest.fixture
def nights(tmp_path, host_files, ollama_server):
    """Nights against a loopback Ollama that takes ten minutes to answer (the LLM timeout is longer):
    a night's first gpu step holds the pool until its process ends."""
    ollama_server.delay_s = 600
    config = write_config(tmp_path, host_files, ollama_server.url, llm__timeout_s=900)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "OVERNIGHT_CONFIG": str(config)}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        nights = Nights(home, env, instance)
        yield nights
        for process in nights.processes.values():  # a night's code server and worker may outlive its command
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


@pytest.fixture
def hung_night(nights) -> tuple[subprocess.Popen, str]:
    """An `overnight run` whose gpu_warmup step holds the gpu slot; returns its process and run id."""
    process = nights.start(HUNG_NIGHT)
    holders = wait_for(nights.slot_holders, "the hung night to hold the gpu slot", process)
    (run_id,) = holders
    return process, run_id
