"""Docker collector: risky container configuration, read from the Engine API's inspect data.

Works on `container.attrs` from the docker SDK, from Docker itself or podman's compatible API.
Podman fills fields differently (None where Docker has {}), so every lookup tolerates gaps.
What a container says (its name, error, health output) is redacted by Finding when it is quoted.
"""

from overnight_assets.redaction import redact_secrets
from overnight_assets.triage.findings import Finding, Severity

COLLECTOR = "docker"
RESTARTS_WORTH_FLAGGING = 5
_ALL_INTERFACES = {"", "0.0.0.0", "::"}
_ENGINE_SOCKETS = {"/var/run/docker.sock", "/run/docker.sock"}
_ENGINE_SOCKET_SUFFIXES = ("docker.sock", "podman.sock")


def collect_docker(base_url: str, timeout_s: float = 10) -> list[Finding]:
    """Inspect every container (running or not) of the engine at `base_url`."""
    import docker as docker_sdk  # at first use: loading the SDK costs every code-location load ~80 ms
    import requests

    try:
        client = docker_sdk.DockerClient(base_url=base_url, timeout=timeout_s)
        try:
            # ignore_removed: a container deleted between list and inspect is not an error
            containers = client.containers.list(all=True, ignore_removed=True)
        finally:
            client.close()
    except (docker_sdk.errors.DockerException, requests.RequestException, OSError) as error:
        raise RuntimeError(f"Docker engine at {base_url} unreachable: {error}") from error
    return container_findings([container.attrs for container in containers])


def container_findings(containers: list[dict]) -> list[Finding]:
    """Findings for every container, sorted by name so reruns produce the same order."""
    findings: list[Finding] = []
    for attrs in sorted(containers, key=_name):
        findings.extend(_findings_for(attrs))
    return findings


def _findings_for(attrs: dict) -> list[Finding]:
    name = _name(attrs)
    checks = [
        _state,
        _health,
        _privileged,
        _engine_socket,
        _host_namespaces,
        _public_ports,
        _healthcheck,
    ]
    return [
        Finding(COLLECTOR, severity, f"container {name} {title}", detail)
        for check in checks
        for severity, title, detail in check(attrs)
    ]


def _state(attrs: dict):
    status = _get(attrs, "State", "Status") or "unknown"
    restarts = _get(attrs, "RestartCount")
    restarts = restarts if isinstance(restarts, int) else 0
    if status == "restarting" or restarts >= RESTARTS_WORTH_FLAGGING:
        # the count stays in the detail: it grows, and titles must repeat on a rerun
        yield Severity.AMBER, "keeps restarting", f"state {status}, restarted {restarts} times"
    elif status != "running":
        yield Severity.AMBER, f"is not running ({status})", _exit_detail(attrs)


def _exit_detail(attrs: dict) -> str:
    code, error = _get(attrs, "State", "ExitCode"), _get(attrs, "State", "Error")
    return f"exit code {code}" + (f": {error}" if error else "")


def _health(attrs: dict):
    # Docker says State.Health; older podman said State.Healthcheck
    health = _dict(_get(attrs, "State", "Health") or _get(attrs, "State", "Healthcheck"))
    if health.get("Status") == "unhealthy":
        last_check = _dict((_list(health.get("Log")) or [{}])[-1])
        # the check's output may print anything (an env dump): redacted before the cut, not after
        yield Severity.AMBER, "is unhealthy", redact_secrets(str(last_check.get("Output") or "").strip())[:300]


def _privileged(attrs: dict):
    if _get(attrs, "HostConfig", "Privileged"):
        yield Severity.RED, "runs privileged", "full access to the host's devices and kernel"


def _engine_socket(attrs: dict):
    sockets = sorted(source for source in _mount_sources(attrs) if _is_engine_socket(source))
    if sockets:
        yield (
            Severity.RED,
            f"mounts the container engine socket {sockets[0]}",
            "root on the host for anyone inside: " + ", ".join(sockets),
        )


def _mount_sources(attrs: dict) -> set[str]:
    mounts = _list(_get(attrs, "Mounts")) + _list(_get(attrs, "HostConfig", "Mounts"))
    sources = {str(_dict(mount).get("Source") or "") for mount in mounts}
    binds = _list(_get(attrs, "HostConfig", "Binds"))  # "source:target[:options]"
    return sources | {str(bind).split(":", 1)[0] for bind in binds}


def _is_engine_socket(source: str) -> bool:
    return source in _ENGINE_SOCKETS or source.endswith(_ENGINE_SOCKET_SUFFIXES)


def _host_namespaces(attrs: dict):
    if _get(attrs, "HostConfig", "NetworkMode") == "host":
        yield Severity.AMBER, "uses the host network", "every port it opens is opened on the host"
    if _get(attrs, "HostConfig", "PidMode") == "host":
        yield (
            Severity.AMBER,
            "shares the host PID namespace",
            "it can see and signal host processes",
        )


def _public_ports(attrs: dict):
    # configured bindings win over live ones: they are stable, live ones may be random host ports
    bindings = {
        **_dict(_get(attrs, "NetworkSettings", "Ports")),
        **_dict(_get(attrs, "HostConfig", "PortBindings")),
    }
    published = sorted(
        {
            f"{binding.get('HostPort') or 'any'}->{container_port}"
            for container_port, host_bindings in bindings.items()
            for binding in map(_dict, _list(host_bindings))
            if binding and (binding.get("HostIp") or "") in _ALL_INTERFACES
        }
    )
    if published:
        yield (
            Severity.AMBER,
            f"publishes {', '.join(published)} on all interfaces",
            "reachable from every network the host is on; bind to 127.0.0.1 or a LAN address",
        )


def _healthcheck(attrs: dict):
    test = _list(_dict(_get(attrs, "Config", "Healthcheck")).get("Test"))
    if not test or test[0] == "NONE":
        yield Severity.INFO, "has no healthcheck", "a hung service would look running"


def _name(attrs: dict) -> str:
    return str(attrs.get("Name") or "").lstrip("/") or str(attrs.get("Id") or "?")[:12]


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _get(mapping: dict, *keys):
    """Walk nested dicts; None when any level is missing or not a dict."""
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping
