"""The deployment (Dockerfile, docker-compose.yml, deploy/): no container engine runs here, so the
compose file is checked by parsing (and by `docker compose config` where that works), and its
services' own commands and healthchecks, read from it, run as local processes against a real
PostgreSQL; the systemd units run the same commands."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import urllib.request
from configparser import ConfigParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from overnight_assets.config import load_config
from overnight_assets_tests.testkit import REPO, SAMPLES, poll
from overnight_assets_tests.testkit.config import write_config
from overnight_assets_tests.testkit.loopback import free_port
from overnight_assets_tests.testkit.postgres import fresh_database

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DAGSTER_SERVICES = ["code", "webserver", "daemon"]  # what the process test starts, in this order
SYSTEMD = REPO / "deploy" / "systemd"
VENV_BIN = Path(sys.executable).parent
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|KEY", re.IGNORECASE)


def env_example() -> dict[str, str]:
    lines = (REPO / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_compose_has_the_services_each_with_a_healthcheck_and_a_restart_policy():
    assert {"postgres", "code", "webserver", "daemon", "serve"} <= set(SERVICES)
    for name, service in SERVICES.items():
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service["restart"] in ("always", "unless-stopped"), name
    for name in [*DAGSTER_SERVICES, "serve"]:
        assert service_image(name) == service_image("code"), name  # one image for all
        assert SERVICES[name]["env_file"] == ".env", name
        assert SERVICES[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}, name
    assert SERVICES["webserver"]["depends_on"]["code"] == {"condition": "service_healthy"}
    assert SERVICES["daemon"]["healthcheck"]["test"][1].endswith("dagster-daemon liveness-check")


def service_image(name: str) -> str:
    return SERVICES[name]["image"]


def test_compose_volumes_hold_the_instance_the_home_and_the_config_read_only():
    for name in [*DAGSTER_SERVICES, "serve"]:
        volumes = SERVICES[name]["volumes"]
        assert "dagster_home:/var/lib/overnight/dagster_home" in volumes, name
        assert "./deploy/dagster.yaml:/var/lib/overnight/dagster_home/dagster.yaml:ro" in volumes, name
    for name in ("code", "serve"):  # where runs execute: the overnight home and overnight.yaml
        volumes = SERVICES[name]["volumes"]
        assert "overnight_home:/var/lib/overnight/home" in volumes
        assert "${OVERNIGHT_CONFIG_FILE:-./overnight.yaml}:/etc/overnight/overnight.yaml:ro" in volumes
        assert SERVICES[name]["environment"]["OVERNIGHT_CONFIG"] == "/etc/overnight/overnight.yaml"
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    assert set(COMPOSE["volumes"]) == {"pgdata", "dagster_home", "overnight_home"}


def test_published_ports_are_on_loopback_only():
    published = [(name, port) for name, service in SERVICES.items() for port in service.get("ports", [])]
    assert {name for name, _ in published} == {"webserver", "serve"}
    for name, port in published:
        assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"
    assert "-h" in SERVICES["webserver"]["command"]  # bound to all addresses inside its container
    assert SERVICES["webserver"]["command"][SERVICES["webserver"]["command"].index("-h") + 1] == "0.0.0.0"


def test_no_secret_is_written_in_the_compose_file_or_the_image():
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{\w+(:\?[^}]*)?\}", str(value)), f"{name}: {key} is written in the file"
    assert all(value == "" for value in env_example().values()), ".env.example holds names only"
    config = load_config(REPO / "overnight.example.yaml")
    needed = {"DAGSTER_PG_PASSWORD", config.slack.token_env, config.serve.token_env, "OLLAMA_HOST"}
    assert needed <= set(env_example())
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", "overnight.yaml", ".dagster_home", ".venv"} <= set(ignored)
    assert ".env" in (REPO / ".gitignore").read_text().split()
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile and "\nUSER overnight\n" in dockerfile
    assert not re.search(r"COPY[^\n]*(\.env|overnight\.yaml|dagster\.yaml)", dockerfile)


def test_the_image_holds_the_workspace_where_the_commands_look_for_it():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "WORKDIR /opt/overnight\nCOPY pyproject.toml" in dockerfile
    assert "\nCOPY deploy/workspace.yaml ./workspace.yaml\n" in dockerfile
    for name in ("webserver", "daemon"):
        command = SERVICES[name]["command"]
        assert command[command.index("-w") + 1] == "/opt/overnight/workspace.yaml"


def test_every_variable_the_compose_file_reads_is_named_in_the_env_example():
    referenced = set(re.findall(r"\$\{(\w+)", (REPO / "docker-compose.yml").read_text()))
    example = (REPO / ".env.example").read_text()
    assert referenced and all(re.search(rf"^#? ?{name}=", example, re.MULTILINE) for name in referenced), referenced


def test_the_deployed_instance_keeps_the_projects_settings_on_postgres():
    deployed = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    repository = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert set(deployed.pop("storage")) == {"postgres"}
    assert deployed == repository  # the gpu pool at 1, run monitoring, retention, telemetry: in step


def test_compose_config_accepts_the_file_where_a_compose_command_exists(tmp_path):
    """`docker compose config` (or podman's) on a copy with a filled-in .env; skipped where none runs."""
    for name in ("docker-compose.yml", "Dockerfile", "deploy"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    (tmp_path / ".env").write_text("".join(f"{name}=filled-in-{name.lower()}\n" for name in env_example()))
    (tmp_path / "overnight.yaml").write_text("timezone: UTC\n")
    tried = []
    beside_us = Path(sys.executable).parent / "podman-compose"  # the dev extra's, in the venv
    candidates = [["docker", "compose"], ["podman", "compose"], ["docker-compose"], ["podman-compose"]]
    for command in [*candidates, [str(beside_us)]]:
        if not shutil.which(command[0]):
            continue
        result = subprocess.run([*command, "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        if result.returncode == 0:
            assert "127.0.0.1" in result.stdout and "healthcheck" in result.stdout
            return
        tried.append(f"`{' '.join(command)} config`: {(result.stderr or result.stdout).strip().splitlines()[:1]}")
    pytest.skip("no compose command works here: " + ("; ".join(tried) or "none installed"))


# --- the compose file's commands as local processes ---------------------------------------------


class Localized:
    """The compose file's container paths, hosts and ports turned into this machine's."""

    def __init__(self, root: Path, database_url: str):
        self.code_port, self.web_port = free_port(), free_port()
        self.database_url, database = database_url, urlsplit(database_url)
        self.database, self.user = database.path.lstrip("/"), database.username
        self.exact = {"0.0.0.0": "127.0.0.1", "4000": str(self.code_port), "3000": str(self.web_port)}
        self.paths = {
            "/opt/overnight/workspace.yaml": str(REPO / "deploy" / "workspace.yaml"),
            "127.0.0.1:3000": f"127.0.0.1:{self.web_port}",
            "-U dagster -d dagster": f"-U {self.user} -d {self.database}",
        }
        dagster_home = root / "dagster_home"
        dagster_home.mkdir()
        shutil.copy(REPO / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
        shutil.copytree(SAMPLES, root / "host")
        config = write_config(root, root / "host", f"http://127.0.0.1:{free_port()}")
        self.env = self._environment(dagster_home, config, database)

    def _environment(self, dagster_home: Path, config: Path, database) -> dict[str, str]:
        """The compose services' environment, its values made local; the secrets of .env as a test's."""
        compose = dict(COMPOSE["x-dagster-environment"])
        local = {
            "DAGSTER_HOME": str(dagster_home),
            "DAGSTER_PG_HOST": database.hostname,
            "DAGSTER_PG_PORT": str(database.port or 5432),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_DB": self.database,
            "OVERNIGHT_CODE_SERVER_HOST": "127.0.0.1",
            "OVERNIGHT_CODE_SERVER_PORT": str(self.code_port),
            "OVERNIGHT_CONFIG": str(config),
            "OVERNIGHT_HOME": str(config.parent / "home"),
        }
        assert set(compose) == set(local), "a new compose variable needs its local value here"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "OVERNIGHT_"))}
        return (
            env
            | local
            | {
                "DAGSTER_PG_PASSWORD": "unused-under-trust-auth",
                "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",  # `dagster` is the venv's, as in the image
                "PGHOST": database.hostname,  # pg_isready, run here rather than inside the postgres container
            }
        )

    def argv(self, command: list[str]) -> list[str]:
        return [self.arg(part) for part in command]

    def arg(self, part: str) -> str:
        part = self.exact.get(part, part)
        for container, here in self.paths.items():
            part = part.replace(container, here)
        return part

    def healthcheck(self, service: str) -> list[str]:
        kind, *test = SERVICES[service]["healthcheck"]["test"]
        return ["sh", "-c", self.arg(test[0])] if kind == "CMD-SHELL" else self.argv(test)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """code, webserver and daemon started from the compose file's commands, on a fresh PostgreSQL
    database, each once the services it depends on (depends_on: service_healthy) pass their healthchecks."""
    root = tmp_path_factory.mktemp("deploy")
    with fresh_database() as database_url:
        local, processes = Localized(root, database_url), {}
        try:
            for service in DAGSTER_SERVICES:
                for needed in SERVICES[service]["depends_on"]:
                    wait_until_healthy(local, needed, processes)
                assert not passes(local, service), f"{service}'s healthcheck passes before it runs: it checks nothing"
                with open(root / f"{service}.log", "wb") as log:
                    processes[service] = subprocess.Popen(
                        local.argv(SERVICES[service]["command"]),
                        env=local.env,
                        cwd=root,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
            yield local, processes
        finally:
            for process in processes.values():
                os.killpg(process.pid, signal.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def passes(local: Localized, service: str) -> bool:
    """Whether the service's healthcheck passes, run here as compose runs it in the container."""
    return subprocess.run(local.healthcheck(service), env=local.env, capture_output=True, timeout=60).returncode == 0


def wait_until_healthy(local: Localized, service: str, processes: dict) -> None:
    """Run the service's healthcheck until it passes; a process that exits fails at once."""

    def healthy() -> bool:
        for name, process in processes.items():
            assert process.poll() is None, f"{name} exited with {process.returncode}"
        return passes(local, service)

    poll(healthy, timeout_s=120, what=f"{service}'s healthcheck to pass", every_s=0.5)


def test_each_service_passes_its_own_healthcheck(deployment):
    local, processes = deployment
    for service in ["postgres", *DAGSTER_SERVICES]:
        wait_until_healthy(local, service, processes)


def graphql(local: Localized, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{local.web_port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["data"]


LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename } } } } }"""
LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
RUN = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""


def test_the_webserver_sees_the_grpc_location_and_a_run_launched_there_succeeds(deployment):
    local, processes = deployment
    wait_until_healthy(local, "webserver", processes)
    (entry,) = graphql(local, LOCATIONS)["workspaceOrError"]["locationEntries"]
    assert (entry["name"], entry["loadStatus"]) == ("overnight_assets", "LOADED")
    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
    selector = {
        "repositoryLocationName": "overnight_assets",
        "repositoryName": "__repository__",
        "jobName": "maintenance",
    }
    launched = graphql(local, LAUNCH, {"params": {"selector": selector, "runConfigData": {}}})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    # queued by the webserver, started by the daemon's run queue, run by the code server's worker
    ended = poll(
        lambda: (
            (status := graphql(local, RUN, {"id": run_id})["runOrError"]["status"])
            in ("SUCCESS", "FAILURE", "CANCELED")
            and status
        ),
        timeout_s=120,
        what="the maintenance run to end",
        every_s=0.5,
    )
    assert ended == "SUCCESS"
    import psycopg2

    with psycopg2.connect(local.database_url) as db, db.cursor() as cursor:  # stored in PostgreSQL, not SQLite
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,))
        assert cursor.fetchone() == ("SUCCESS",)


# --- systemd: the same commands without containers ----------------------------------------------


def unit(name: str) -> ConfigParser:
    parser = ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(SYSTEMD / name)
    return parser


UNIT_OF_SERVICE = {
    "code": "overnight-code-server.service",
    "webserver": "overnight-webserver.service",
    "daemon": "overnight-daemon.service",
    "serve": "overnight-serve.service",
}


def shape(argv: list[str]) -> list[str]:
    """A command with what differs between a container and a host (the executable's folder, the
    address bound, the workspace file's folder) left out."""
    shaped = [Path(argv[0]).name]
    for before, part in zip(argv, argv[1:], strict=False):
        shaped.append("<address>" if before in ("-h", "--bind") else Path(part).name if before == "-w" else part)
    return shaped


@pytest.mark.parametrize("service", list(UNIT_OF_SERVICE))
def test_each_systemd_unit_runs_its_compose_services_command(service):
    parsed = unit(UNIT_OF_SERVICE[service])
    exec_start = shlex.split(parsed["Service"]["ExecStart"])
    assert shape(exec_start) == shape(SERVICES[service]["command"])
    assert exec_start[0].startswith("%h/overnight_assets/.venv/bin/")
    for flag in ("-h", "--bind"):  # whatever listens, on loopback only
        assert flag not in exec_start or exec_start[exec_start.index(flag) + 1] == "127.0.0.1"
    assert parsed["Service"]["Restart"] == "on-failure"
    assert parsed["Service"]["EnvironmentFile"] == "%h/.config/overnight/environment"
    if service != "serve":  # the code location's address, as deploy/workspace.yaml reads it
        assert "OVERNIGHT_CODE_SERVER_PORT=4000" in parsed["Service"]["Environment"]


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    """Each unit (the doctor's too) checked by systemd itself, its commands pointed at this venv so
    their executables exist; skipped where systemd-analyze is not installed."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    for path in SYSTEMD.iterdir():
        (tmp_path / path.name).write_text(path.read_text().replace("%h/overnight_assets/.venv/bin", str(VENV_BIN)))
    units = sorted(str(path) for path in tmp_path.iterdir())
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    assert {path.name for path in SYSTEMD.iterdir()} >= set(UNIT_OF_SERVICE.values()) | {"overnight-doctor.timer"}


def test_the_serve_command_is_one_the_overnight_cli_parses():
    """The code, webserver and daemon commands and their healthchecks run above; `serve`'s command,
    not started by this module (operations/test_serve.py runs the server), is parsed by the CLI's own parser."""
    from overnight_assets.cli import _parser

    program, *arguments = SERVICES["serve"]["command"]
    parsed = _parser().parse_args(arguments)
    assert (program, parsed.handler.__name__, parsed.bind, parsed.port) == ("overnight", "_serve", "0.0.0.0", 8765)
