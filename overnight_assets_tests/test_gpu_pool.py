"""The `gpu` pool on a real SQLite instance: two nights at once never put two requests on the GPU.

Measured where it matters, exactly: the loopback Ollama counts the requests it serves at once.
The nights are made to meet at the pool rather than hoped to: the first night's first request is
held at the loopback Ollama until the second night is seen waiting for the pool's slot (or,
were the pool broken, its request arrives beside the held one), then both go on.

The second night starts once the first holds the slot: two claims at the very same instant can
both win on Dagster 1.13.27's storage (SQLite and PostgreSQL alike, see
benchmarks/gpu_pool_claim_race.py), which is what made the earlier timestamp version of this
test fail once under load; that is Dagster's, measured there, not this test's to sample.
"""

import os
import shutil
import subprocess
import sys
import threading

import dagster as dg

from overnight_assets_tests.testkit import REPO, poll
from overnight_assets_tests.testkit.config import write_config

FAILED_LOGINS = "".join(
    f"Nov {day} 04:00:{i:02d} homelab sshd[90{i}]: Failed password for root from 203.0.113.9 port 4000{i} ssh2\n"
    for day in (19, 20)
    for i in range(12)
)


def overnight(*args, env):
    return subprocess.Popen(
        [sys.executable, "-m", "overnight_assets.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def waiting_for_the_gpu(instance: dg.DagsterInstance) -> set[str]:
    """The runs with a step waiting for a `gpu` slot."""
    return instance.event_log_storage.get_concurrency_info("gpu").pending_run_ids


def test_two_nights_at_once_never_put_two_requests_on_the_gpu(tmp_path, host_files, ollama_server):
    ollama_server.hold = threading.Event()
    with open(host_files / "auth.log", "a") as log:
        log.write(FAILED_LOGINS)  # AMBER on both nights: each triage asks the LLM
    config = write_config(tmp_path, host_files, ollama_server.url, llm__timeout_s=300)  # a held request is no timeout
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "OVERNIGHT_CONFIG": str(config)}
    with dg.DagsterInstance.from_config(str(home)) as instance:  # storage created once, as the daemon would
        first = overnight("run", "--date", "2026-11-19", env=env)
        poll(lambda: ollama_server.in_flight or first.poll() is not None, what="the first night at the GPU")
        second = overnight("run", "--date", "2026-11-20", env=env)
        met = poll(
            lambda: waiting_for_the_gpu(instance) or ollama_server.in_flight > 1 or second.poll() is not None,
            what="the second night at the pool",
        )
        ollama_server.hold.set()
        for run in (first, second):
            output, _ = run.communicate(timeout=240)
            assert run.returncode == 0, output[-3000:]

    assert ollama_server.max_in_flight == 1, f"{ollama_server.max_in_flight} requests on the GPU at once"
    assert isinstance(met, set) and len(met) == 1, "the second night never waited at the pool"
    summaries = [chat for chat in ollama_server.chats if (chat.get("format") or {}).get("title") == "Summary"]
    assert len(summaries) == 2  # each night's briefing asked the model (the second triage review is a cache hit)
