"""`make dev`'s server: the real webserver and daemon show the graph, schedule, sensor and pool."""

import json
import urllib.request

QUERY = """{
  assetNodes { assetKey { path } groupName pools dependencyKeys { path } }
  workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError {
    ... on RepositoryLocation { repositories { schedules { name scheduleState { status } }
                                               sensors { name sensorState { status } } } }
    ... on PythonError { message } } } } }
  instance { poolConfig { defaultPoolLimit poolGranularity } }
}"""


def graphql(port: int) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", json.dumps({"query": QUERY}).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]


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
