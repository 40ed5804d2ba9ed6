"""Ports collector: listening sockets read from /proc/net, compared with an allow-list.

Reads the kernel's tables directly (no `ss`/`netstat` needed, and a copied /proc/net works too):
addresses are hex in host byte order, i.e. little-endian on the machines this runs on.
"""

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from overnight_assets.triage.findings import Finding, Severity

COLLECTOR = "ports"
_TABLES = {"tcp": "tcp", "tcp6": "tcp", "udp": "udp", "udp6": "udp"}
_LISTENING_STATE = {"tcp": "0A", "udp": "07"}  # TCP_LISTEN; UDP "TCP_CLOSE" = bound, unconnected


@dataclass(frozen=True)
class Socket:
    protocol: Literal["tcp", "udp"]
    address: str
    port: int


class SocketTable(list):
    """The listening sockets, plus how many lines could not be read (a partly blind check)."""

    def __init__(self, sockets=(), malformed_lines: int = 0):
        super().__init__(sockets)
        self.malformed_lines = malformed_lines


def read_listening_sockets(proc_net_dir: str) -> list[Socket]:
    """Listening sockets from tcp, tcp6, udp, udp6 in `proc_net_dir`; a missing table is skipped
    (no IPv6 on the host), malformed lines are skipped and counted in `.malformed_lines`."""
    directory = Path(proc_net_dir).expanduser()
    table = SocketTable()
    tables_read = 0
    for name, protocol in _TABLES.items():
        try:
            text = (directory / name).read_text(errors="replace")
        except FileNotFoundError:
            continue
        except OSError as error:
            raise RuntimeError(f"cannot read {directory / name}: {error.strerror or error}") from error
        tables_read += 1
        _read_table(text, protocol, table)
    if not tables_read:
        raise RuntimeError(f"no socket tables (tcp, tcp6, udp, udp6) in {directory}")
    return table


def _read_table(text: str, protocol: str, table: SocketTable) -> None:
    for line in text.splitlines()[1:]:  # the first line is the column header
        if not line.strip():
            continue
        try:
            socket = _parse_row(line, protocol)
        except (ValueError, IndexError):
            table.malformed_lines += 1
            continue
        if socket:
            table.append(socket)


def _parse_row(line: str, protocol: str) -> Socket | None:
    """The socket a row describes if it is listening; raises ValueError on a malformed row."""
    fields = line.split()
    local, state = fields[1], fields[3]
    address_hex, port_hex = local.split(":")
    address, port = _decode_address(address_hex), int(port_hex, 16)
    if len(state) != 2 or not 0 <= port <= 0xFFFF:
        raise ValueError(f"bad row: {line!r}")
    return Socket(protocol, address, port) if state.upper() == _LISTENING_STATE[protocol] else None


def _decode_address(address_hex: str) -> str:
    raw = bytes.fromhex(address_hex)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    if len(raw) == 16:  # four 32-bit words, each in host (little-endian) order
        return str(ipaddress.IPv6Address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))))
    raise ValueError(f"address of {len(raw)} bytes: {address_hex}")


def port_findings(sockets: list[Socket], allowed: list[str]) -> list[Finding]:
    """One AMBER finding per protocol/port listening beyond loopback and not in `allowed`
    ("tcp/22"), whether it listens on IPv4, IPv6 or both."""
    permitted = {entry.strip().lower() for entry in allowed}
    exposed: dict[str, set[str]] = {}
    for socket in sockets:
        spec = f"{socket.protocol}/{socket.port}"
        if spec not in permitted and not _is_loopback(socket.address):
            exposed.setdefault(spec, set()).add(socket.address)
    findings = [
        Finding(
            COLLECTOR,
            Severity.AMBER,
            f"unexpected listening port {spec} on {', '.join(sorted(addresses))}",
            "not in triage.ports.allowed; reachable from outside this host",
        )
        for spec, addresses in sorted(exposed.items(), key=lambda item: _spec_order(item[0]))
    ]
    return findings + _malformed_findings(getattr(sockets, "malformed_lines", 0))


def _is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is loopback too
    return (mapped or ip).is_loopback


def _spec_order(spec: str) -> tuple[str, int]:
    protocol, port = spec.split("/")
    return protocol, int(port)


def _malformed_findings(malformed_lines: int) -> list[Finding]:
    if not malformed_lines:
        return []
    return [
        Finding(
            COLLECTOR,
            Severity.AMBER,
            f"{malformed_lines} malformed lines in the /proc/net socket tables",
            "those sockets were not checked against the allow-list",
        )
    ]
