"""`make dev`'s server: the real webserver and daemon show the graph, schedule, sensor and pool, and
re-execute a night that `overnight run` ran.

One server for the module: it takes the longest of anything here to start.
"""

import json
import subprocess
import sys
import urllib.request

import pytest

from overnight_assets_tests.testkit import REPO, poll
from overnight_assets_tests.testkit.instances import dagster_dev

QUERY = """{
  assetNodes { assetKey { path } groupName pools dependencyKeys { path } }
  workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError {
    ... on RepositoryLocation { repositories { schedules { name scheduleState { status } }
                                               sensors { name sensorState { status } } } }
    ... on PythonError { message } } } } }
  instance { poolConfig { defaultPoolLimit poolGranularity } }
}"""


def graphql(port: int, query: str = QUERY, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    assert "errors" not in answer, answer["errors"]
    return answer["data"]


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    """One `dagster dev` for the module (it takes the longest of anything here to start)."""
    with dagster_dev(tmp_path_factory.mktemp("dev")) as server:
        yield server


def test_ui_shows_lineage_schedule_sensor_and_pool(dev_server):
    data = graphql(dev_server.port)
    nodes = {node["assetKey"]["path"][-1]: node for node in data["assetNodes"]}
    assert {"gpu_warmup", "security_triage", "morning_briefing", "morning_delivery"} <= set(nodes)
    assert nodes["security_triage"]["pools"] == ["gpu"] and nodes["security_triage"]["groupName"] == "nightly"
    assert {"path": ["morning_briefing"]} in nodes["morning_briefing"]["dependencyKeys"]
    repository = data["workspaceOrError"]["locationEntries"][0]["locationOrLoadError"]["repositories"][0]
    assert {"name": "nightly_schedule", "scheduleState": {"status": "RUNNING"}} in repository["schedules"]
    assert {"name": "outbox_sensor", "sensorState": {"status": "RUNNING"}} in repository["sensors"]
    assert {"name": "new_commits_sensor", "sensorState": {"status": "RUNNING"}} in repository["sensors"]
    assert data["instance"]["poolConfig"] == {"defaultPoolLimit": 1, "poolGranularity": "op"}


NIGHTLY_RUNS = """query {
  pipelineOrError(params: {pipelineName: "nightly", repositoryName: "__repository__",
                           repositoryLocationName: "overnight_assets"}) {
    ... on Pipeline { runs { runId status rootRunId tags { key value } } }
    ... on PythonError { message }
  }
}"""

REEXECUTE = """mutation ($parent: String!) {
  launchRunReexecution(reexecutionParams: {parentRunId: $parent, strategy: ALL_STEPS}) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}"""

RUN_STATUS = """query ($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }"""


def finished(port: int, run_id: str) -> str | None:
    """The run's status once it has ended, else None."""
    status = graphql(port, RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
    return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None


def nightly_runs(port: int) -> dict[str, dict]:
    return {run["runId"]: run for run in graphql(port, NIGHTLY_RUNS)["pipelineOrError"]["runs"]}


def test_an_overnight_run_shows_under_its_job_and_the_ui_reexecutes_it(dev_server):
    """The run `overnight run` launched carries the code location's origin: the webserver lists it
    under the nightly job and re-executes it (what failed with `remote_job_origin` None)."""
    night = "2026-11-20"
    cli = [sys.executable, "-m", "overnight_assets.cli"]
    prepared = subprocess.run(
        [*cli, "demo", "--inputs-only", "--date", night], env=dev_server.env, capture_output=True, text=True
    )
    assert prepared.returncode == 0, prepared.stderr[-2000:]
    ran = subprocess.run(
        [*cli, "run", "--date", night, "--config", str(REPO / "overnight_assets" / "demo" / "overnight.yaml")],
        env=dev_server.env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "overnight:   security_triage done in " in ran.stdout  # steps printed as they end

    [(run_id, run)] = nightly_runs(dev_server.port).items()
    assert run["status"] == "SUCCESS" and {"key": "dagster/partition", "value": night} in run["tags"]
    assert f"overnight: nightly run {run_id} launched (partition {night})" in ran.stdout

    launched = graphql(dev_server.port, REEXECUTE, {"parent": run_id})["launchRunReexecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    rerun_id = launched["run"]["runId"]
    status = poll(lambda: finished(dev_server.port, rerun_id), 180, "the re-execution to end", every_s=0.5)
    assert status == "SUCCESS"
    assert nightly_runs(dev_server.port)[rerun_id]["rootRunId"] == run_id
