"""sudo logs a line longer than syslog_maxlen (960 bytes) in pieces, the rest as "(command
continued)" lines: a command padded past that length must not hide its tail from the triage."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from overnight_assets.triage.auth_log import auth_log_findings
from overnight_assets.triage.findings import Severity

ZONE = ZoneInfo("Europe/Bucharest")
START = datetime(2026, 11, 20, tzinfo=ZONE)


def sudo_lines(user: str, logged: str, pid: str = "") -> str:
    """The lines sudo 1.9's do_syslog_sudo() writes for one log line (lib/eventlog/eventlog.c):
    each piece broken at the last space that fits in syslog_maxlen, or mid-word when none does."""
    lines, fmt, rest = [], "%8s : %s", logged.encode()
    while rest:
        room = 960 - (len(fmt) - 5 + len(user))
        if len(rest) > room:
            cut = rest.rfind(b" ", 0, room)
            cut = room if cut < 0 else cut
            piece, rest = rest[:cut], rest[cut:].lstrip(b" ")
        else:
            piece, rest = rest, b""
        lines.append(fmt % (user, piece.decode()))
        fmt = "%8s : (command continued) %s"
    return "".join(f"Nov 20 05:00:00 homelab sudo{pid}: {line}\n" for line in lines)


def red_titles(log: str) -> list[str]:
    result = auth_log_findings(log.encode(), START, START + timedelta(days=1), 10, set())
    return [finding.title for finding in result.findings if finding.severity is Severity.RED]


FIELDS = "TTY=pts/0 ; PWD=/home/ana ; USER=root ; COMMAND="


@pytest.mark.parametrize(
    "padding",
    ["x " * 600, "x" * 2000 + " ", "y" * 950],
    ids=["words: broken at a space", "one long word: broken mid-word", "a word ending just short of the break"],
)
def test_a_sudoers_write_after_padding_is_red(padding):
    log = sudo_lines("ana", f"{FIELDS}/bin/sh -c echo {padding}; echo 'ana ALL=(ALL) NOPASSWD:ALL' >>/etc/sudoers")
    assert log.count("(command continued)") >= 1
    assert red_titles(log) == ["/etc/sudoers changed through sudo"]


def test_a_grant_whose_group_list_is_cut_inside_sudo_is_read_whole():
    """`usermod -aG` with a list of groups longer than a line: the word is cut at the line's end,
    here between "su" and "do", and joined back without a space."""
    groups = "grp," * 233 + "sudo"  # the cut falls 934 bytes into the list: after "su"
    log = sudo_lines("ana", f"{FIELDS}/usr/sbin/usermod -aG {groups} eve")
    assert "(command continued) do eve" in log
    assert red_titles(log) == ["user eve added to group sudo"]


def test_continuations_of_two_sudo_processes_interleaved_are_kept_apart():
    first = sudo_lines("ana", f"{FIELDS}/usr/bin/true {'a ' * 600}>>/etc/sudoers", pid="[11]").splitlines(keepends=True)
    second = sudo_lines("ana", f"{FIELDS}/usr/bin/true {'b ' * 600}harmless", pid="[12]").splitlines(keepends=True)
    interleaved = "".join(line for pair in zip(first, second, strict=True) for line in pair)
    assert red_titles(interleaved) == ["/etc/sudoers changed through sudo"]


def test_a_forged_continuation_cannot_take_a_grant_back():
    """`logger -t sudo 'ana : (command continued) -r'` written after a real grant: `usermod -r`
    removes, but the grant was logged whole before it."""
    real = sudo_lines("ana", f"{FIELDS}/usr/sbin/usermod -aG sudo eve")
    forged = "Nov 20 05:00:01 homelab sudo:      ana : (command continued) -r\n"
    assert red_titles(real + forged) == ["user eve added to group sudo"]
