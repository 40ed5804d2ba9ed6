import copy

import pytest

from overnight_assets.status import Status
from overnight_assets.triage.docker import collect_docker, container_findings
from overnight_assets.triage.findings import Severity
from overnight_assets.triage.gate import gate

# The shape `docker inspect` gives for a healthy, running, well-configured container.
RUNNING_HEALTHY = {
    "Id": "4f1c2d3e4b5a69788796a5b4c3d2e1f0",
    "Name": "/web",
    "RestartCount": 0,
    "State": {
        "Status": "running",
        "Running": True,
        "ExitCode": 0,
        "Error": "",
        "Health": {"Status": "healthy", "FailingStreak": 0, "Log": []},
    },
    "Config": {"Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]}},
    "HostConfig": {
        "Privileged": False,
        "NetworkMode": "bridge",
        "PidMode": "",
        "Binds": ["web-data:/data"],
        "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
    },
    "Mounts": [
        {
            "Type": "volume",
            "Name": "web-data",
            "Source": "/var/lib/docker/volumes/web-data/_data",
            "Destination": "/data",
        }
    ],
    "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}], "443/tcp": None}},
}


def container(**changes) -> dict:
    """RUNNING_HEALTHY with nested changes given as "Section__Key"=value."""
    attrs = copy.deepcopy(RUNNING_HEALTHY)
    for path, value in changes.items():
        *parents, key = path.split("__")
        target = attrs
        for parent in parents:
            target = target.setdefault(parent, {})
        target[key] = value
    return attrs


def titles(findings) -> dict[str, Severity]:
    return {finding.title: finding.severity for finding in findings}


def test_clean_running_container_is_green():
    assert container_findings([RUNNING_HEALTHY]) == []
    assert gate(container_findings([RUNNING_HEALTHY])) is Status.GREEN


@pytest.mark.parametrize(
    "changes, title, severity",
    [
        ({"State__Status": "exited"}, "container web is not running (exited)", Severity.AMBER),
        ({"State__Status": "restarting"}, "container web keeps restarting", Severity.AMBER),
        ({"RestartCount": 12}, "container web keeps restarting", Severity.AMBER),
        ({"State__Health__Status": "unhealthy"}, "container web is unhealthy", Severity.AMBER),
        ({"HostConfig__Privileged": True}, "container web runs privileged", Severity.RED),
        (
            {"HostConfig__NetworkMode": "host"},
            "container web uses the host network",
            Severity.AMBER,
        ),
        (
            {"HostConfig__PidMode": "host"},
            "container web shares the host PID namespace",
            Severity.AMBER,
        ),
        ({"Config__Healthcheck": None}, "container web has no healthcheck", Severity.INFO),
        (
            {"Config__Healthcheck": {"Test": ["NONE"]}},
            "container web has no healthcheck",
            Severity.INFO,
        ),
    ],
)
def test_each_planted_problem_gives_its_finding(changes, title, severity):
    assert titles(container_findings([container(**changes)])) == {title: severity}


@pytest.mark.parametrize(
    "source",
    [
        "/var/run/docker.sock",
        "/run/docker.sock",
        "/run/user/1000/podman/podman.sock",
        "/home/ana/.docker/run/docker.sock",
    ],
)
def test_engine_socket_mount_is_red(source):
    found = titles(
        container_findings(
            [container(Mounts=[{"Type": "bind", "Source": source, "Destination": "/var/run/docker.sock"}])]
        )
    )
    assert found == {f"container web mounts the container engine socket {source}": Severity.RED}


def test_engine_socket_found_in_binds_alone():
    attrs = container(HostConfig__Binds=["/var/run/docker.sock:/var/run/docker.sock:ro"], Mounts=None)
    assert gate(container_findings([attrs])) is Status.RED


@pytest.mark.parametrize("host_ip", ["", "0.0.0.0", "::"])
def test_ports_on_all_interfaces_are_amber(host_ip):
    bindings = {"80/tcp": [{"HostIp": host_ip, "HostPort": "8080"}]}
    attrs = container(HostConfig__PortBindings=bindings, NetworkSettings__Ports=bindings)
    assert titles(container_findings([attrs])) == {
        "container web publishes 8080->80/tcp on all interfaces": Severity.AMBER
    }


def test_podman_style_nulls_and_missing_sections_do_not_crash():
    sparse = {
        "Id": "abcdef0123456789",
        "State": {"Status": "running", "Health": None},
        "HostConfig": None,
        "Mounts": None,
        "Config": {"Healthcheck": None},
        "NetworkSettings": {"Ports": None},
    }
    assert titles(container_findings([sparse, {}])) == {
        "container abcdef012345 has no healthcheck": Severity.INFO,
        "container ? is not running (unknown)": Severity.AMBER,
        "container ? has no healthcheck": Severity.INFO,
    }


def test_findings_are_sorted_by_container_name():
    names = [
        f.title.split()[1]
        for f in container_findings(
            [
                container(Name="/zeta", State__Status="exited"),
                container(Name="/alpha", State__Status="exited"),
            ]
        )
    ]
    assert names == ["alpha", "zeta"]


def test_unreachable_engine_names_the_url(tmp_path):
    url = f"unix://{tmp_path}/no-such.sock"
    with pytest.raises(RuntimeError, match=f"Docker engine at {url} unreachable"):
        collect_docker(url, timeout_s=2)


def test_real_engine_api_reports_each_planted_container(podman_url, planted_containers):
    found = titles(collect_docker(podman_url))
    assert found["container risky-privileged runs privileged"] is Severity.RED
    assert found["container risky-privileged mounts the container engine socket /var/run/docker.sock"] is Severity.RED
    assert found["container risky-host uses the host network"] is Severity.AMBER
    assert found["container risky-host shares the host PID namespace"] is Severity.AMBER
    assert found["container risky-port publishes 8080->80/tcp on all interfaces"] is Severity.AMBER
    assert found["container risky-port has no healthcheck"] is Severity.INFO
    # created but never started (nothing can run here): that is the clean container's only finding
    clean = {title for title in found if title.startswith("container clean ")}
    assert clean == {"container clean is not running (created)"}
