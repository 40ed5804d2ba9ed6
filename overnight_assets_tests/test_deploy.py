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
from overnight_assets_tests.testkit import REPO, SAMPLES, poll, require_or_skip
from overnight_assets_tests.testkit.config import write_config
from overnight_assets_tests.testkit.loopback import free_port
from overnight_assets_tests.testkit.postgres import fresh_database

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DAGSTER_SERVICES = ["code", "webserver", "daemon"]  # what the process test starts, in this order
DISTRIBUTED_SERVICES = ["redis", "cortex", "worker"]  # `--profile distributed`, started after them
GPU_HOST = REPO / "deploy" / "gpu-host"
GPU_COMPOSE = yaml.safe_load((GPU_HOST / "docker-compose.yml").read_text())
GPU_SERVICES = GPU_COMPOSE["services"]
HOME_VOLUME = "${OVERNIGHT_HOME_DIR:-overnight_home}:/var/lib/overnight/home"  # a named volume, or a folder for NFS
SYSTEMD = REPO / "deploy" / "systemd"
VENV_BIN = Path(sys.executable).parent
REDIS_PASSWORD, CORTEX_TOKEN = "redis-password-of-the-test", "cortex-token-of-the-test"  # .env's, here
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|KEY", re.IGNORECASE)


def env_example(folder: Path = REPO) -> dict[str, str]:
    lines = (folder / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def with_defaults(text: str) -> str:
    """`text` with each ${VAR:-default} as its default: what compose makes of it when .env leaves VAR unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)


@pytest.mark.parametrize("services", [SERVICES, GPU_SERVICES], ids=["dagster-host", "gpu-host"])
def test_every_service_has_a_healthcheck_and_a_restart_policy(services):
    for name, service in services.items():
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service["restart"] in ("always", "unless-stopped"), name


def test_compose_has_the_services():
    assert {"postgres", "code", "webserver", "daemon", "serve", *DISTRIBUTED_SERVICES} <= set(SERVICES)
    for name in [*DAGSTER_SERVICES, "serve", "cortex", "worker"]:
        assert service_image(name) == service_image("code"), name  # one image for all
        assert SERVICES[name]["env_file"] == ".env", name
        if name != "cortex":  # the Cortex server needs only its file
            assert SERVICES[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}, name
    assert SERVICES["webserver"]["depends_on"]["code"] == {"condition": "service_healthy"}
    assert SERVICES["daemon"]["healthcheck"]["test"][1].endswith("dagster-daemon liveness-check")
    assert SERVICES["worker"]["depends_on"]["redis"] == {"condition": "service_healthy"}
    for name in DISTRIBUTED_SERVICES:  # the single-host default starts none of them
        assert SERVICES[name]["profiles"] == ["distributed"], name
    assert "profiles" not in SERVICES["postgres"]


def test_the_workers_serve_the_queues_the_executor_routes_to():
    """The Dagster host's worker the default queue, the GPU host's the gpu queue one step at a time,
    both from the one image, which holds the distributed extra."""
    from overnight_assets.config.schema import ExecutionConfig

    queues = ExecutionConfig()
    for services, name, queue in (
        (SERVICES, "worker", queues.default_queue),
        (GPU_SERVICES, "gpu-worker", queues.gpu_queue),
    ):
        command = services[name]["command"]
        assert command[:5] == ["dagster-celery", "worker", "start", "-A", "dagster_celery.app"], name
        assert command[command.index("-q") + 1] == queue, name
        node = command[command.index("-n") + 1]
        assert f'-d "{node}@$$(hostname)"' in services[name]["healthcheck"]["test"][1], name  # pings its own node
        assert "-y" not in command, name  # -y would write the broker URL, password included, to a file
        assert services[name]["image"] == service_image("code"), name
    gpu_worker = GPU_SERVICES["gpu-worker"]["command"]
    assert gpu_worker[gpu_worker.index("--concurrency") + 1] == "1"
    assert GPU_SERVICES["gpu-worker"]["build"] == "../.." and GPU_SERVICES["gpu-worker"]["env_file"] == ".env"
    assert GPU_SERVICES["gpu-worker"]["depends_on"]["ollama"] == {"condition": "service_healthy"}
    assert GPU_COMPOSE["x-gpu-environment"]["OLLAMA_HOST"] == "http://ollama:11434"  # Ollama beside it
    assert 'pip install ".[distributed]"' in (REPO / "Dockerfile").read_text()


def test_both_hosts_name_the_same_instance_and_broker():
    """The GPU host's worker writes to the Dagster host's PostgreSQL and takes tasks from its Redis, as
    the same role, database and password variable; only the host differs."""
    here, there = COMPOSE["x-dagster-environment"], GPU_COMPOSE["x-gpu-environment"]
    for name in ("DAGSTER_HOME", "DAGSTER_PG_USER", "DAGSTER_PG_DB", "OVERNIGHT_CONFIG", "OVERNIGHT_HOME"):
        assert there[name] == here[name], name
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        assert here[name].startswith("redis://:${OVERNIGHT_REDIS_PASSWORD:-}@redis:6379/"), name
        assert there[name].startswith("redis://:${OVERNIGHT_REDIS_PASSWORD:?"), name
        assert there[name].endswith("@${OVERNIGHT_DAGSTER_HOST}:${OVERNIGHT_REDIS_PORT:-6379}/0"), name
    assert there["DAGSTER_PG_HOST"].startswith("${OVERNIGHT_DAGSTER_HOST:?")
    volumes = GPU_SERVICES["gpu-worker"]["volumes"]
    assert "../dagster.yaml:/var/lib/overnight/dagster_home/dagster.yaml:ro" in volumes  # the same instance file
    assert any(volume.startswith("${OVERNIGHT_HOME_DIR:?") for volume in volumes)  # the shared home, required


def service_image(name: str) -> str:
    return SERVICES[name]["image"]


def test_compose_volumes_hold_the_instance_the_home_and_the_config_read_only():
    for name in [*DAGSTER_SERVICES, "serve", "worker"]:
        volumes = SERVICES[name]["volumes"]
        assert "dagster_home:/var/lib/overnight/dagster_home" in volumes, name
        assert "./deploy/dagster.yaml:/var/lib/overnight/dagster_home/dagster.yaml:ro" in volumes, name
    # where steps execute (and the Cortex server): the overnight home and overnight.yaml
    for name in ("code", "serve", "worker", "cortex"):
        volumes = SERVICES[name]["volumes"]
        assert HOME_VOLUME in volumes, name
        assert "${OVERNIGHT_CONFIG_FILE:-./overnight.yaml}:/etc/overnight/overnight.yaml:ro" in volumes
        assert SERVICES[name]["environment"]["OVERNIGHT_CONFIG"] == "/etc/overnight/overnight.yaml"
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    assert "redis_data:/data" in SERVICES["redis"]["volumes"]
    assert set(COMPOSE["volumes"]) == {"pgdata", "dagster_home", "overnight_home", "redis_data"}


def test_published_ports_are_on_loopback_unless_the_owner_sets_the_lan_address():
    published = [(name, port) for name, service in SERVICES.items() for port in service.get("ports", [])]
    assert {name for name, _ in published} == {"webserver", "serve", "postgres", "redis", "cortex"}
    for name, port in published:
        assert with_defaults(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"
        if name in ("postgres", "redis", "cortex"):  # what the GPU host reaches, on the address the owner sets
            assert port.startswith("${OVERNIGHT_LAN_BIND:-127.0.0.1}:"), name
        else:  # the UI and the trigger stay on loopback: a reverse proxy reaches them
            assert port.startswith("127.0.0.1:"), name
    assert all("ports" not in service for service in GPU_SERVICES.values())  # nothing listens there for others
    assert "-h" in SERVICES["webserver"]["command"]  # bound to all addresses inside its container
    assert SERVICES["webserver"]["command"][SERVICES["webserver"]["command"].index("-h") + 1] == "0.0.0.0"


def environments(compose: dict) -> list[tuple[str, dict]]:
    """Every environment the file writes: each service's and each x- block's."""
    blocks = [(name, service.get("environment") or {}) for name, service in compose["services"].items()]
    return blocks + [
        (name, block) for name, block in compose.items() if name.startswith("x-") and isinstance(block, dict)
    ]


@pytest.mark.parametrize("compose", [COMPOSE, GPU_COMPOSE], ids=["dagster-host", "gpu-host"])
def test_no_secret_is_written_in_the_compose_files(compose):
    for name, environment in environments(compose):
        for key, value in environment.items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{\w+(:\?[^}]*|:-)?\}", str(value)), f"{name}: {key} is written in the file"
            if "://" in str(value):  # a URL's password only as the variable holding it
                credentials = urlsplit(str(value)).netloc.rpartition("@")[0]
                assert credentials in ("", ":${OVERNIGHT_REDIS_PASSWORD:-}") or credentials.startswith(
                    ":${OVERNIGHT_REDIS_PASSWORD:?"
                ), f"{name}: {key}"


def test_no_secret_is_written_in_the_env_examples_or_the_image():
    config = load_config(REPO / "overnight.example.yaml")
    needed = {"DAGSTER_PG_PASSWORD", config.slack.token_env, config.serve.token_env, "OLLAMA_HOST"}
    needed |= {"OVERNIGHT_REDIS_PASSWORD", config.memory.server_token_env}
    assert needed <= set(env_example())
    gpu_needed = {"DAGSTER_PG_PASSWORD", "OVERNIGHT_REDIS_PASSWORD", config.memory.server_token_env}
    assert gpu_needed <= set(env_example(GPU_HOST))
    for folder in (REPO, GPU_HOST):
        assert all(value == "" for value in env_example(folder).values()), f"{folder}/.env.example holds names only"
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", "**/.env", "overnight.yaml", ".dagster_home", ".venv"} <= set(ignored)
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


@pytest.mark.parametrize("folder", [REPO, GPU_HOST], ids=["dagster-host", "gpu-host"])
def test_every_variable_the_compose_file_reads_is_named_in_the_env_example(folder):
    """Compose's own variables; `$${NAME}` is the container shell's, escaped from compose."""
    referenced = set(re.findall(r"(?<!\$)\$\{(\w+)", (folder / "docker-compose.yml").read_text()))
    example = (folder / ".env.example").read_text()
    missing = {name for name in referenced if not re.search(rf"^#? ?{name}=", example, re.MULTILINE)}
    assert referenced and not missing, missing


def test_the_deployed_instance_keeps_the_projects_settings_on_postgres():
    deployed = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    repository = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert set(deployed.pop("storage")) == {"postgres"}
    assert deployed == repository  # the gpu pool at 1, run monitoring, retention, telemetry: in step


FILLED_IN = {
    "OVERNIGHT_HOME_DIR": "/srv/overnight/home",
    "OVERNIGHT_PG_PORT": "5432",
    "OVERNIGHT_DAGSTER_HOST": "10.0.0.5",
}


@pytest.mark.parametrize(
    ("folder", "services"),
    [(".", {"postgres", "code", *DISTRIBUTED_SERVICES}), ("deploy/gpu-host", set(GPU_SERVICES))],
    ids=["dagster-host", "gpu-host"],
)
def test_compose_config_accepts_the_file_where_a_compose_command_exists(tmp_path, folder, services):
    """`docker compose --profile distributed config` (or podman's) on a copy with a filled-in .env;
    skipped where none runs."""
    for name in ("docker-compose.yml", "Dockerfile", "deploy"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    here = tmp_path / folder
    filled = {name: FILLED_IN.get(name, f"filled-in-{name.lower()}") for name in env_example(REPO / folder)}
    (here / ".env").write_text("".join(f"{name}={value}\n" for name, value in filled.items()))
    (here / "overnight.yaml").write_text("timezone: UTC\n")
    tried = []
    beside_us = Path(sys.executable).parent / "podman-compose"  # the dev extra's, in the venv
    candidates = [["docker", "compose"], ["podman", "compose"], ["docker-compose"], ["podman-compose"]]
    for command in [*candidates, [str(beside_us)]]:
        if not shutil.which(command[0]):
            continue
        result = subprocess.run(
            [*command, "--profile", "distributed", "config"], cwd=here, capture_output=True, text=True, timeout=60
        )
        if result.returncode == 0:
            assert "healthcheck" in result.stdout
            assert services <= set(yaml.safe_load(result.stdout)["services"]), result.stdout
            assert "filled-in-overnight_redis_password" in result.stdout  # the .env's value, in the broker URL
            if folder == ".":
                assert "127.0.0.1:6379:6379" in result.stdout  # the LAN address left at its default
            return
        tried.append(f"`{' '.join(command)} config`: {(result.stderr or result.stdout).strip().splitlines()[:1]}")
    pytest.skip("no compose command works here: " + ("; ".join(tried) or "none installed"))


# --- the compose file's commands as local processes ---------------------------------------------


class Localized:
    """The compose file's container paths, hosts and ports turned into this machine's."""

    def __init__(self, root: Path, database_url: str):
        self.root = root
        self.code_port, self.web_port = free_port(), free_port()
        self.redis_port, self.cortex_port = free_port(), free_port()
        self.database_url, database = database_url, urlsplit(database_url)
        self.database, self.user = database.path.lstrip("/"), database.username
        self.exact = {
            "0.0.0.0": "127.0.0.1",
            "4000": str(self.code_port),
            "3000": str(self.web_port),
            "8766": str(self.cortex_port),
        }
        self.paths = {
            "$$": "$",  # compose's escape of a `$` the container's shell expands
            "/opt/overnight/workspace.yaml": str(REPO / "deploy" / "workspace.yaml"),
            "127.0.0.1:3000": f"127.0.0.1:{self.web_port}",
            "127.0.0.1:8766": f"127.0.0.1:{self.cortex_port}",
            "-U dagster -d dagster": f"-U {self.user} -d {self.database}",
            "--port 6379": f"--port {self.redis_port}",
            "-p 6379": f"-p {self.redis_port}",
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
            "CELERY_BROKER_URL": self.broker_url(compose["CELERY_BROKER_URL"]),
            "CELERY_RESULT_BACKEND": self.broker_url(compose["CELERY_RESULT_BACKEND"]),
        }
        assert set(compose) == set(local), "a new compose variable needs its local value here"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "OVERNIGHT_"))}
        return (
            env
            | local
            | {
                "DAGSTER_PG_PASSWORD": "unused-under-trust-auth",
                "OVERNIGHT_REDIS_PASSWORD": REDIS_PASSWORD,
                "OVERNIGHT_CORTEX_TOKEN": CORTEX_TOKEN,  # memory.server_token_env's default
                "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",  # `dagster` is the venv's, as in the image
                "PGHOST": database.hostname,  # pg_isready, run here rather than inside the postgres container
            }
        )

    def broker_url(self, composed: str) -> str:
        """The compose file's broker URL with .env's password, and the redis service on its local port."""
        local = composed.replace("${OVERNIGHT_REDIS_PASSWORD:-}", REDIS_PASSWORD)
        local = local.replace("@redis:6379/", f"@127.0.0.1:{self.redis_port}/")
        assert REDIS_PASSWORD in local and str(self.redis_port) in local, composed
        return local

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
                processes[service] = start(local, service, processes, local.env)
            yield local, processes
        finally:
            stop(processes)


@pytest.fixture(scope="module")
def distributed(deployment):
    """redis, cortex and worker (`--profile distributed`) started from the compose file's commands beside
    the deployment, Redis on a port of its own. Their overnight home is their own: the single-host
    services above open the Cortex file directly (no memory.server_url), and a Cortex server holds it."""
    require_or_skip(bool(shutil.which("redis-server") and shutil.which("redis-cli")), "redis-server is not installed")
    local, deployed = deployment
    env = local.env | {"OVERNIGHT_HOME": str(local.root / "distributed-home")}
    started = {}
    try:
        for service in DISTRIBUTED_SERVICES:
            started[service] = start(local, service, started | deployed, env)
        yield local, started | deployed
    finally:
        stop(started)


def start(local: Localized, service: str, running: dict, env: dict) -> subprocess.Popen:
    """The service's command started once the services it depends on pass their healthchecks."""
    for needed in SERVICES[service].get("depends_on", {}):
        wait_until_healthy(local, needed, running)
    assert not passes(local, service), f"{service}'s healthcheck passes before it runs: it checks nothing"
    with open(local.root / f"{service}.log", "wb") as log:
        return subprocess.Popen(
            local.argv(SERVICES[service]["command"]),
            env=env,
            cwd=local.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(processes: dict) -> None:
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


def test_the_distributed_services_pass_their_own_healthchecks(distributed):
    """Redis with the .env password (and refusing without it), the Cortex server answering /status to
    the token only, the default-queue worker answering a ping through that Redis."""
    local, processes = distributed
    for service in DISTRIBUTED_SERVICES:
        wait_until_healthy(local, service, processes)
    anonymous = subprocess.run(["redis-cli", "-p", str(local.redis_port), "ping"], capture_output=True, text=True)
    assert "NOAUTH" in anonymous.stdout + anonymous.stderr
    wrong_token = local.env | {"OVERNIGHT_CORTEX_TOKEN": "not-the-token"}
    assert subprocess.run(local.healthcheck("cortex"), env=wrong_token, capture_output=True, timeout=60).returncode
    assert (local.root / "distributed-home" / "cortex.duckdb").exists()  # the server holds the home's file


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
    "cortex": "overnight-cortex.service",
    "worker": "overnight-worker.service",
    "gpu-worker": "overnight-gpu-worker.service",  # the GPU host's
}


def compose_service(name: str) -> dict:
    return GPU_SERVICES[name] if name in GPU_SERVICES else SERVICES[name]


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
    assert shape(exec_start) == shape(compose_service(service)["command"])
    assert exec_start[0].startswith("%h/overnight_assets/.venv/bin/")
    for flag in ("-h", "--bind"):  # whatever listens, on loopback, or on the LAN address the owner sets
        address = exec_start[exec_start.index(flag) + 1] if flag in exec_start else "127.0.0.1"
        if address == "${OVERNIGHT_LAN_BIND}":  # Environment= gives the default; the environment file overrides it
            assert "OVERNIGHT_LAN_BIND=127.0.0.1" in parsed["Service"]["Environment"]
        else:
            assert address == "127.0.0.1"
    assert parsed["Service"]["Restart"] == "on-failure"
    assert parsed["Service"]["EnvironmentFile"] == "%h/.config/overnight/environment"
    if service in DAGSTER_SERVICES:  # the code location's address, as deploy/workspace.yaml reads it
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
