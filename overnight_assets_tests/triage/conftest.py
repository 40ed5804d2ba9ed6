"""A real Docker Engine API for the docker collector: `podman system service` on a unix socket.

Podman keeps its storage under a temporary directory (`--root`/`--runroot`/`--tmpdir`) with the
`vfs` driver: the default overlay driver leaves a bind mount behind that blocks cleanup. Images
cannot be pulled (no internet), so the fixture imports an empty root filesystem as a local
image; containers from it can be created but not started, which is all a configuration check
needs.
"""

import io
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import docker
import pytest

IMAGE = "localhost/overnight-empty:latest"
_STARTUP_TIMEOUT_S = 60


def skip_or_fail(reason: str):
    """A missing server skips the test on a workstation and fails it in CI."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def podman_url():
    """unix:// URL of a podman API service private to this test session."""
    podman = shutil.which("podman")
    if podman is None:
        skip_or_fail("podman is not installed (Debian/Ubuntu package `podman`)")
    workdir = Path(tempfile.mkdtemp(prefix="overnight-podman-"))  # short: unix socket paths max 107
    sock = workdir / "podman.sock"
    log_path = workdir / "service.log"
    command = [
        podman,
        "--root",
        str(workdir / "storage"),
        "--runroot",
        str(workdir / "run"),
        "--tmpdir",
        str(workdir / "tmp"),
        "--storage-driver",
        "vfs",
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "file",
        "system",
        "service",
        "--time=0",
        f"unix://{sock}",
    ]
    with open(log_path, "wb") as log:
        service = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_socket(sock, service, log_path)
        yield f"unix://{sock}"
    finally:
        service.terminate()
        try:
            service.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        shutil.rmtree(workdir, ignore_errors=True)  # rootless storage may hold sub-uid files


def _wait_for_socket(sock: Path, service: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if service.poll() is not None:
            skip_or_fail(
                f"podman system service exited with {service.returncode}: "
                f"{log_path.read_text(errors='replace')[-2000:]}"
            )
        if sock.exists() and _accepts_connections(sock):
            return
        time.sleep(0.05)  # polling the socket, not waiting blindly
    skip_or_fail(f"podman socket {sock} not ready after {_STARTUP_TIMEOUT_S}s")


def _accepts_connections(sock: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(sock))
            return True
        except OSError:
            return False


@pytest.fixture(scope="session")
def podman_client(podman_url):
    client = docker.DockerClient(base_url=podman_url, timeout=30)
    yield client
    client.close()


@pytest.fixture(scope="session")
def empty_image(podman_client) -> str:
    """A local image with an empty root filesystem: nothing to pull, enough to create from."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w"):
        pass
    repository, tag = IMAGE.rsplit(":", 1)
    podman_client.api.import_image_from_data(archive.getvalue(), repository=repository, tag=tag)
    return IMAGE


@pytest.fixture(scope="session")
def planted_containers(podman_client, empty_image) -> dict[str, str]:
    """Containers with one known problem each, plus a clean one; created, never started."""

    def create(name: str, **options) -> str:
        return podman_client.containers.create(empty_image, command=["/app"], name=name, **options).name

    return {
        "privileged": create(
            "risky-privileged",
            privileged=True,
            volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}},
        ),
        "host_namespaces": create("risky-host", network_mode="host", pid_mode="host"),
        "public_port": create("risky-port", ports={"80/tcp": ("0.0.0.0", 8080)}),
        "clean": create(
            "clean",
            ports={"80/tcp": ("127.0.0.1", 8081)},
            healthcheck={"test": ["CMD", "/app", "--health"], "interval": 30_000_000_000},
        ),
    }
