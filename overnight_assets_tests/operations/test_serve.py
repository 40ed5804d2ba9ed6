"""`overnight serve` as a real process: each auth branch, the allowlist, the body limit, a run launched
into the code location and polled to success with its verdicts, and the token in no log."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import uuid

import dagster as dg
import pytest
import yaml

from overnight_assets_tests.testkit import REPO, poll
from overnight_assets_tests.testkit.loopback import free_port
from overnight_assets_tests.testkit.nights import NIGHT
from overnight_assets_tests.testkit.serve import overnight_serve, serve_env

ALLOWED = ["nightly", "maintenance"]  # the project's `reading` job, among others, is kept from the token
LIMIT = 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    with overnight_serve(root, serve__jobs=ALLOWED, serve__max_body_bytes=LIMIT) as server:
        yield server


def test_no_token_is_401_with_the_bearer_challenge(served):
    status, answer, headers = served.call("POST", "/runs", {"job": "nightly", "partition": NIGHT}, token=None)
    assert (status, answer) == (401, {"error": "a bearer token is required"})
    assert headers["WWW-Authenticate"] == 'Bearer realm="overnight"'


@pytest.mark.parametrize(
    "authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer wrong-token-of-some-length", "bearer{token}x"]
)
def test_a_malformed_or_wrong_token_is_401(served, authorization):
    headers = {"Authorization": authorization.format(token=" " + served.token)}
    status, _, answer_headers = served.call("GET", "/runs/any", token=None, headers=headers)
    assert status == 401 and answer_headers["WWW-Authenticate"].startswith("Bearer ")


def test_a_job_outside_the_project_is_404_and_one_kept_from_the_token_403(served):
    assert served.call("POST", "/runs", {"job": "drop_database"})[:2] == (
        404,
        {"error": "no job 'drop_database' in the project"},
    )
    status, answer, _ = served.call("POST", "/runs", {"job": "reading", "partition": NIGHT})
    assert (status, answer) == (403, {"error": "job 'reading' is not one this service launches (serve.jobs)"})


def runs_count(served) -> int:
    with dg.DagsterInstance.from_config(str(served.dagster_home)) as instance:
        return instance.get_runs_count()


def test_requests_that_cannot_run_are_400_with_the_reason(served):
    before = runs_count(served)
    assert served.call("POST", "/runs", {"job": "nightly"})[:2] == (
        400,
        {"error": "job 'nightly' is partitioned: give \"partition\""},
    )
    status, answer, _ = served.call("POST", "/runs", {"job": "nightly", "partition": "2025-12-31"})
    assert status == 400 and answer["error"].startswith(
        "'2025-12-31' is not a partition of job 'nightly': expected one from 2026-01-01 to "
    )
    assert served.call("POST", "/runs", {"job": "maintenance", "partition": NIGHT})[:2] == (
        400,
        {"error": "job 'maintenance' takes no partition"},
    )
    assert served.call("POST", "/runs", {"job": 3})[0] == 400
    assert served.call("POST", "/runs", b"not json")[:2] == (400, {"error": "the body is not JSON"})
    assert runs_count(served) == before


def test_runs_that_are_not_the_projects_are_404_and_runs_of_a_job_kept_from_the_token_403(served):
    foreign, kept = str(uuid.uuid4()), str(uuid.uuid4())
    with dg.DagsterInstance.from_config(str(served.dagster_home)) as instance:
        instance.add_run(
            dg.DagsterRun(job_name="someone_elses_job", run_id=foreign, status=dg.DagsterRunStatus.SUCCESS)
        )
        instance.add_run(dg.DagsterRun(job_name="reading", run_id=kept, status=dg.DagsterRunStatus.SUCCESS))
        try:
            assert served.call("GET", f"/runs/{uuid.uuid4()}")[0] == 404
            assert served.call("GET", f"/runs/{foreign}")[:2] == (404, {"error": "no run of the project has that id"})
            assert served.call("GET", f"/runs/{kept}")[0] == 403
        finally:
            instance.delete_run(foreign)
            instance.delete_run(kept)


def raw_request(served, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send a request by hand, the body cut short; the answer's (status, body). A server waiting for
    the rest of the body would time this out."""
    with socket.create_connection(served.url.removeprefix("http://").split(":"), timeout=10) as connection:
        connection.sendall(head.replace("\n", "\r\n").encode() + body)
        answer = http.client.HTTPResponse(connection)
        answer.begin()
        return answer.status, answer.read()


def test_a_body_over_the_limit_is_413_without_being_read(served):
    auth = f"Authorization: Bearer {served.token}\n"
    declared = raw_request(served, f"POST /runs HTTP/1.1\nHost: x\n{auth}Content-Length: 100000000\n\n")
    assert declared == (413, b'{"error":"the request body is over 1024 bytes"}')
    chunk = b"x" * 600
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3))  # 1,800 bytes, the end never sent
    streamed = raw_request(served, f"POST /runs HTTP/1.1\nHost: x\n{auth}Transfer-Encoding: chunked\n\n", chunked)
    assert streamed == declared


def launched_and_finished(served, body: dict) -> dict:
    status, launched, _ = served.call("POST", "/runs", body)
    assert status == 202 and launched["job"] == body["job"] and launched["partition"] == body.get("partition")
    run_id = launched["run_id"]
    return poll(
        lambda: (answer := served.call("GET", f"/runs/{run_id}")[1])["finished"] and answer,
        timeout_s=180,
        what=f"the {body['job']} run to end",
        every_s=0.5,
    )


def test_a_nightly_run_launched_and_polled_to_success_with_its_verdicts(served):
    done = launched_and_finished(served, {"job": "nightly", "partition": NIGHT})
    assert (done["status"], done["job"], done["partition"], done["overall"]) == ("SUCCESS", "nightly", NIGHT, "GREEN")
    verdicts = {verdict["title"]: verdict for verdict in done["verdicts"]}
    assert verdicts["Security triage"] == {
        "title": "Security triage",
        "status": "GREEN",
        "items": "2 notes",
        "llm": "not needed",
    }
    assert verdicts["Reading list"]["status"] == "NOT CONFIGURED"
    with dg.DagsterInstance.from_config(str(served.dagster_home)) as instance:
        run = instance.get_run_by_id(done["run_id"])
        # launched into the code location as the UI launches: the run names its location and carries the trigger
        assert run.remote_job_origin.location_name == "overnight_assets"
        assert run.tags["overnight/trigger"] == "serve"

    again = launched_and_finished(served, {"job": "nightly", "partition": NIGHT})
    assert again["status"] == "SUCCESS" and again["verdicts"]
    first = served.call("GET", f"/runs/{done['run_id']}")[1]  # its night's file now holds the second run's verdicts
    assert (first["overall"], first["verdicts"]) == ("GREEN", [])
    assert first["note"] == f"the night was composed again by run {again['run_id']}: ask it"


def test_a_job_without_partitions_runs_too(served):
    done = launched_and_finished(served, {"job": "maintenance"})
    assert (done["status"], done["partition"], done["overall"], done["verdicts"]) == ("SUCCESS", None, None, [])


def test_the_token_is_in_no_log(served):
    served.call("GET", "/runs/any")
    near_miss = served.token[:-1] + ("A" if served.token[-1] != "A" else "B")
    served.call("GET", "/runs/any", token=near_miss)
    log = served.log.read_text()
    assert '"GET /runs/any HTTP/1.1" 404' in log and '"GET /runs/any HTTP/1.1" 401' in log  # the access log is there
    assert served.token not in log and near_miss not in log and served.token[:12] not in log


def test_sigterm_stops_it_cleanly_with_its_code_server(tmp_path):
    """uvicorn's graceful shutdown, then the code location's server shut down too: nothing left running."""
    with overnight_serve(tmp_path) as server:
        assert server.call("GET", "/runs/none")[0] == 404
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0
    assert "overnight serve: SIGTERM received: stopped" in server.log.read_text()
    poll(lambda: not group_alive(server.process.pid), timeout_s=30, what="its code server to end too")


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def overnight_serve_once(tmp_path, token, **overrides) -> subprocess.CompletedProcess:
    env, _ = serve_env(tmp_path, token, **overrides)
    return subprocess.run(
        [sys.executable, "-m", "overnight_assets.cli", "serve", "--port", "1"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("token", "overrides", "said"),
    [
        (None, {}, "$OVERNIGHT_TEST_SERVE_TOKEN (serve.token_env) is not set: overnight serve does not start"),
        ("short", {}, "$OVERNIGHT_TEST_SERVE_TOKEN (serve.token_env) is shorter than 16 characters"),
        ("a-long-enough-token-0123456789", {"serve__jobs": ["nightly", "mine"]}, "serve.jobs names mine, not a job"),
    ],
)
def test_it_refuses_to_start_without_a_usable_token_or_allowlist(tmp_path, token, overrides, said):
    result = overnight_serve_once(tmp_path, token, **overrides)
    assert result.returncode == 2 and said in result.stderr, result.stderr[-2000:]
    assert "short" not in result.stderr.replace("shorter", "")  # the token itself is not repeated


def test_the_compose_files_healthcheck_of_serve_passes_against_it(served):
    """docker-compose.yml's `serve` healthcheck, its port made this server's, run as compose would."""
    kind, *command = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["serve"]["healthcheck"][
        "test"
    ]
    assert kind == "CMD" and command[0] == "python"

    def check(port) -> int:
        local = [part.replace(":8765/", f":{port}/") for part in command[1:]]
        return subprocess.run([sys.executable, *local], capture_output=True, timeout=60).returncode

    assert check(served.url.rsplit(":", 1)[1]) == 0  # a 401 is an answer: it serves
    assert check(free_port()) != 0  # nothing listening: unhealthy
