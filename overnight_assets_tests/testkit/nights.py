"""The nightly job's nights: what a test plants in the host's auth log, the job run in process,
`overnight run` in real processes, and what each night recorded and posted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg

from overnight_assets.definitions import build_defs
from overnight_assets_tests.testkit import REPO

NIGHT = "2026-11-20"
FAILED_LOGINS = "".join(
    f"Nov 20 04:0{i % 10}:1{i % 10} homelab sshd[900{i}]: Failed password for root from 203.0.113.9 port 4{i:04d} ssh2\n"
    for i in range(12)
)
NEW_SUDO_USER = "Nov 20 05:00:00 homelab usermod[777]: add 'mallory' to group 'sudo'\n"


def append_to_auth_log(host_files: Path, text: str) -> None:
    with open(host_files / "auth.log", "a") as log:
        log.write(text)


def run_nightly(config, instance, partition=NIGHT) -> dg.ExecuteInProcessResult:
    """The nightly job in process; a failed step is in the result, not raised."""
    return (
        build_defs(config)
        .resolve_job_def("nightly")
        .execute_in_process(partition_key=partition, instance=instance, raise_on_error=False)
    )


def metadata(instance, asset: str, partition=NIGHT) -> dict:
    """The asset's latest materialization's metadata, which must be the partition's."""
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event.asset_materialization.partition == partition
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}


def dagster_env(tmp_path, slack_server) -> dict:
    """The environment of `overnight run` processes sharing one SQLite DAGSTER_HOME, made here."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)):  # created once: runs starting together race to create it
        pass
    env = {k: v for k, v in os.environ.items() if k not in ("OVERNIGHT_CONFIG", "OVERNIGHT_HOME", "OLLAMA_HOST")}
    return {**env, "DAGSTER_HOME": str(home), "OVERNIGHT_TEST_SLACK_TOKEN": slack_server.token}


def overnight_run(night: str, config, env) -> subprocess.Popen:
    """`overnight run` in a session of its own: with the code server and run worker it starts, a killable whole."""
    command = [sys.executable, "-m", "overnight_assets.cli", "run", "--date", night, "--config", str(config)]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def finished(process: subprocess.Popen) -> tuple[int, str]:
    output = process.communicate(timeout=300)[0]
    return process.returncode, output


def posts_per_night(slack_server) -> dict[str, int]:
    nights = [post["metadata"]["event_payload"]["partition"] for post in slack_server.posts]
    return {night: nights.count(night) for night in sorted(set(nights))}
