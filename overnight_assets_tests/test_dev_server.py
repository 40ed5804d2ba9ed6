"""`make dev`'s server: the real webserver and daemon show the graph, schedule, sensor and pool."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from overnight_assets_tests.testkit import REPO

QUERY = """{
  assetNodes { assetKey { path } groupName pools dependencyKeys { path } }
  workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError {
    ... on RepositoryLocation { repositories { schedules { name scheduleState { status } }
                                               sensors { name sensorState { status } } } }
    ... on PythonError { message } } } } }
  instance { poolConfig { defaultPoolLimit poolGranularity } }
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def graphql(port: int) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", json.dumps({"query": QUERY}).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]


@pytest.fixture
def dev_server(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "OVERNIGHT_HOME": str(tmp_path / "home")}
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
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.poll() is None, "dagster dev exited during start-up"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
            break
        except OSError:
            time.sleep(0.25)  # polling the port until the webserver answers
    yield port
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:  # a loaded machine: dagster dev's children may not stop in time
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def test_ui_shows_lineage_schedule_sensor_and_pool(dev_server):
    data = graphql(dev_server)
    nodes = {node["assetKey"]["path"][-1]: node for node in data["assetNodes"]}
    assert {"gpu_warmup", "security_triage", "morning_briefing", "morning_delivery"} <= set(nodes)
    assert nodes["security_triage"]["pools"] == ["gpu"] and nodes["security_triage"]["groupName"] == "nightly"
    assert {"path": ["morning_briefing"]} in nodes["morning_briefing"]["dependencyKeys"]
    repository = data["workspaceOrError"]["locationEntries"][0]["locationOrLoadError"]["repositories"][0]
    assert {"name": "nightly_schedule", "scheduleState": {"status": "RUNNING"}} in repository["schedules"]
    assert {"name": "outbox_sensor", "sensorState": {"status": "RUNNING"}} in repository["sensors"]
    assert {"name": "new_commits_sensor", "sensorState": {"status": "RUNNING"}} in repository["sensors"]
    assert data["instance"]["poolConfig"] == {"defaultPoolLimit": 1, "poolGranularity": "op"}
