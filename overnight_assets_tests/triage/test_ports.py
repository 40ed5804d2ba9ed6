import shutil
from pathlib import Path

import pytest

import overnight_assets
from overnight_assets.status import Status
from overnight_assets.triage.findings import Severity
from overnight_assets.triage.gate import gate
from overnight_assets.triage.ports import Socket, port_findings, read_listening_sockets

SAMPLE = Path(overnight_assets.__file__).parent / "demo" / "samples" / "proc_net"
ALLOWED = ["tcp/22", "tcp/443"]
HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  inode\n"
TCP6_HEADER = "  sl  local_address                         remote_address                        st\n"


def row(local: str, state: str, remote="00000000:0000") -> str:
    return f"   0: {local} {remote} {state} 00000000:00000000 00:00000000 00000000  0  0 1234 1\n"


def proc_net(tmp_path, **tables) -> str:
    for name, rows in tables.items():
        header = TCP6_HEADER if name.endswith("6") else HEADER
        (tmp_path / name).write_text(header + "".join(rows))
    return str(tmp_path)


def titles(findings) -> dict[str, Severity]:
    return {finding.title: finding.severity for finding in findings}


def test_demo_sample_decodes_every_listening_socket():
    sockets = read_listening_sockets(str(SAMPLE))
    assert sorted(sockets, key=lambda s: (s.protocol, s.port, s.address)) == [
        Socket("tcp", "0.0.0.0", 22),
        Socket("tcp", "::", 22),
        Socket("tcp", "0.0.0.0", 443),
        Socket("tcp", "::", 443),
        Socket("tcp", "127.0.0.1", 5432),
        Socket("tcp", "::1", 5432),
        Socket("udp", "127.0.0.53", 53),
        Socket("udp", "::1", 323),
    ]
    assert sockets.malformed_lines == 0


def test_demo_sample_is_green():
    assert port_findings(read_listening_sockets(str(SAMPLE)), ALLOWED) == []


def test_unexpected_port_is_one_amber_finding_for_v4_and_v6(tmp_path):
    directory = proc_net(
        tmp_path,
        tcp=[row("00000000:1F90", "0A")],
        tcp6=[row("00000000000000000000000000000000:1F90", "0A")],
    )
    findings = port_findings(read_listening_sockets(directory), ALLOWED)
    assert titles(findings) == {"unexpected listening port tcp/8080 on 0.0.0.0, ::": Severity.AMBER}
    assert gate(findings) is Status.AMBER


def test_specific_addresses_are_decoded_little_endian(tmp_path):
    # 192.168.1.10:8080 and fe80::1:8080 as the kernel writes them
    directory = proc_net(
        tmp_path,
        tcp=[row("0A01A8C0:1F90", "0A")],
        tcp6=[row("000080FE000000000000000001000000:1F90", "0A")],
    )
    assert set(read_listening_sockets(directory)) == {
        Socket("tcp", "192.168.1.10", 8080),
        Socket("tcp", "fe80::1", 8080),
    }


def test_loopback_and_non_listening_sockets_are_ignored(tmp_path):
    directory = proc_net(
        tmp_path,
        tcp=[
            row("0100007F:1538", "0A"),
            row("0200007F:1F90", "0A"),  # 127.0.0.1, 127.0.0.2
            row("0A01A8C0:C822", "01", remote="1701A8C0:0016"),
        ],  # ESTABLISHED
        tcp6=[
            row("00000000000000000000000001000000:1538", "0A"),  # ::1
            row("0000000000000000FFFF00000100007F:1F91", "0A"),
        ],  # ::ffff:127.0.0.1
        udp=[row("0A01A8C0:A3F5", "01", remote="0101A8C0:0035")],
    )  # connected UDP
    assert port_findings(read_listening_sockets(directory), []) == []


def test_udp_bound_socket_counts_and_is_matched_by_protocol(tmp_path):
    directory = proc_net(tmp_path, udp=[row("00000000:0016", "07")])
    assert titles(port_findings(read_listening_sockets(directory), ["tcp/22"])) == {
        "unexpected listening port udp/22 on 0.0.0.0": Severity.AMBER
    }
    assert port_findings(read_listening_sockets(directory), ["UDP/22 "]) == []


def test_missing_tables_are_skipped(tmp_path):
    directory = proc_net(tmp_path, tcp=[row("00000000:0016", "0A")])
    assert read_listening_sockets(directory) == [Socket("tcp", "0.0.0.0", 22)]


def test_no_tables_at_all_is_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match=f"no socket tables .* in {tmp_path}"):
        read_listening_sockets(str(tmp_path))


def test_unreadable_table_is_a_clear_error(tmp_path):
    (tmp_path / "tcp").mkdir()  # fails to open even as root
    with pytest.raises(RuntimeError, match=f"cannot read {tmp_path}/tcp"):
        read_listening_sockets(str(tmp_path))


def test_malformed_lines_are_skipped_counted_and_reported(tmp_path):
    directory = proc_net(
        tmp_path,
        tcp=[
            row("00000000:0016", "0A"),
            "garbage\n",
            row("ZZZZ:0016", "0A"),
            row("00000000:FFFFF", "0A"),
            row("000000:0016", "0A"),
            "   7: 00000000\n",
        ],
    )
    shutil.copy(SAMPLE / "udp", tmp_path / "udp")
    sockets = read_listening_sockets(directory)
    assert sockets.malformed_lines == 5
    assert len(sockets) == 2  # tcp/22 and the sample's udp/53
    findings = port_findings(sockets, ALLOWED)
    assert titles(findings) == {"5 malformed lines in the /proc/net socket tables": Severity.AMBER}


def test_findings_are_sorted_by_protocol_and_port():
    sockets = [
        Socket("udp", "0.0.0.0", 5353),
        Socket("tcp", "0.0.0.0", 10000),
        Socket("tcp", "0.0.0.0", 8080),
    ]
    assert [f.title.split()[3] for f in port_findings(sockets, [])] == [
        "tcp/8080",
        "tcp/10000",
        "udp/5353",
    ]
