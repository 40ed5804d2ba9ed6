import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import overnight_assets
from overnight_assets.status import Status
from overnight_assets.triage import auth_log
from overnight_assets.triage.auth_log import auth_log_findings, open_auth_log
from overnight_assets.triage.findings import Severity
from overnight_assets.triage.gate import gate

ZONE = ZoneInfo("Europe/Bucharest")
START = datetime(2026, 11, 20, tzinfo=ZONE)
END = START + timedelta(days=1)
LAN = "192.168.1.23"
ATTACKER = "203.0.113.9"
SAMPLE = Path(overnight_assets.__file__).parent / "demo" / "samples" / "auth.log"


def triage(text: str | bytes, known=frozenset({LAN}), threshold=10, start=START, end=END):
    data = text.encode() if isinstance(text, str) else text
    return auth_log_findings(data, start, end, threshold, set(known))


def titles(result) -> dict[str, Severity]:
    return {finding.title: finding.severity for finding in result.findings}


def failed_logins(count: int, source=ATTACKER, day="Nov 20") -> str:
    return "".join(
        f"{day} 10:{i // 60:02d}:{i % 60:02d} homelab sshd[{900 + i}]: Failed password for root "
        f"from {source} port {40000 + i} ssh2\n"
        for i in range(count)
    )


def accepted(source: str, when="Nov 20 11:00:00", user="ana") -> str:
    return f"{when} h sshd[77]: Accepted publickey for {user} from {source} port 50000 ssh2\n"


def test_demo_sample_is_green_with_the_lan_address_known():
    result = triage(SAMPLE.read_bytes())
    assert result.findings == []
    assert result.accepted_sources == {LAN: datetime(2026, 11, 20, 9, 14, 26, tzinfo=ZONE)}


def test_demo_sample_first_run_records_a_baseline_and_stays_green():
    result = triage(SAMPLE.read_bytes(), known=set())
    assert titles(result) == {"recorded 1 SSH login addresses as the baseline": Severity.INFO}
    assert gate(result.findings) is Status.GREEN


def test_demo_sample_is_green_on_any_other_day():
    other_day = datetime(2026, 3, 1, tzinfo=ZONE)
    result = triage(SAMPLE.read_bytes(), start=other_day, end=other_day + timedelta(days=1))
    assert titles(result) == {"auth log has no lines in the window": Severity.INFO}
    assert gate(result.findings) is Status.GREEN


def test_failed_logins_over_the_threshold_are_amber():
    assert triage(failed_logins(10)).findings == []  # at the threshold: not over it
    assert titles(triage(failed_logins(11))) == {
        f"11 failed SSH logins from {ATTACKER}": Severity.AMBER
    }


def test_one_connection_logging_several_lines_counts_once():
    connection = (
        f"Nov 20 10:00:01 h sshd[5]: Invalid user admin from {ATTACKER} port 4000\n"
        f"Nov 20 10:00:02 h sshd[5]: pam_unix(sshd:auth): authentication failure; logname= uid=0 "
        f"euid=0 tty=ssh ruser= rhost={ATTACKER}\n"
        f"Nov 20 10:00:03 h sshd[5]: Failed password for invalid user admin "
        f"from {ATTACKER} port 4000 ssh2\n"
        f"Nov 20 10:00:09 h sshd[5]: message repeated 2 times: [ Failed password for invalid "
        f"user admin from {ATTACKER} port 4000 ssh2]\n"
        f"Nov 20 10:00:10 h sshd[6]: Invalid user oracle from {ATTACKER} port 4001\n"
    )
    assert titles(triage(connection, threshold=3)) == {
        f"4 failed SSH logins from {ATTACKER}": Severity.AMBER
    }


def test_brute_force_that_succeeded_is_red():
    result = triage(failed_logins(20) + accepted(ATTACKER, user="root"))
    assert (
        titles(result)[f"SSH login accepted from {ATTACKER} after 20 failed attempts"]
        is Severity.RED
    )
    assert gate(result.findings) is Status.RED


def test_login_from_a_new_address_is_amber_and_reported_as_accepted_source():
    result = triage(accepted(LAN) + accepted("198.51.100.20", when="Nov 20 12:30:00"))
    assert titles(result) == {"SSH login from new address 198.51.100.20": Severity.AMBER}
    assert result.accepted_sources["198.51.100.20"] == datetime(2026, 11, 20, 12, 30, tzinfo=ZONE)


@pytest.mark.parametrize(
    "line, user, group",
    [
        ("usermod[301]: add 'mallory' to group 'sudo'", "mallory", "sudo"),
        ("usermod[301]: add 'mallory' to shadow group 'sudo'", "mallory", "sudo"),
        ("gpasswd[302]: user eve added by root to group sudo", "eve", "sudo"),
        ("useradd[303]: add 'trent' to group 'wheel'", "trent", "wheel"),
    ],
)
def test_new_sudo_user_is_red(line, user, group):
    result = triage(f"Nov 20 04:00:00 homelab {line}\n")
    assert titles(result) == {f"user {user} added to group {group}": Severity.RED}


def test_sudo_grant_text_from_any_other_program_is_not_trusted():
    # anyone can write "usermod-like" text with `logger`; only the account tools count
    log = "Nov 20 04:00:00 homelab ana: add 'mallory' to group 'sudo'\n"
    assert triage(log).findings == []


def test_adding_a_user_to_an_ordinary_group_is_not_flagged():
    assert (
        triage("Nov 20 04:00:00 homelab usermod[301]: add 'ana' to group 'docker'\n").findings == []
    )


def test_window_is_half_open():
    log = (
        accepted("10.0.0.1", when="Nov 19 23:59:59")
        + accepted("10.0.0.2", when="Nov 20 00:00:00")
        + accepted("10.0.0.3", when="Nov 20 23:59:59")
        + accepted("10.0.0.4", when="Nov 21 00:00:00")
    )
    assert set(triage(log).accepted_sources) == {"10.0.0.2", "10.0.0.3"}


def test_rfc3339_lines_are_compared_in_absolute_time():
    log = (
        "2026-11-19T21:59:59.999999Z h sshd[1]: Accepted publickey for ana from 10.0.0.1 port 1\n"
        "2026-11-19T22:00:00.000000Z h sshd[2]: Accepted publickey for ana from 10.0.0.2 port 1\n"
        "2026-11-21T00:00:00.123+02:00 h sshd[3]: Accepted publickey for ana from 10.0.0.3 port 1\n"
    )
    assert triage(log).accepted_sources == {"10.0.0.2": START}


@pytest.mark.parametrize(
    "start, inside, outside",
    [
        (datetime(2026, 12, 31, tzinfo=ZONE), "Dec 31 23:59:59", "Jan  1 00:00:00"),
        (datetime(2027, 1, 1, tzinfo=ZONE), "Jan  1 00:00:00", "Dec 31 23:59:59"),
    ],
)
def test_classic_syslog_year_is_right_across_new_year(start, inside, outside):
    log = accepted("10.0.0.1", when=inside) + accepted("10.0.0.2", when=outside)
    result = triage(log, start=start, end=start + timedelta(days=1))
    assert list(result.accepted_sources) == ["10.0.0.1"]
    assert result.accepted_sources["10.0.0.1"].year == start.year


def test_binary_junk_is_an_amber_finding_not_a_crash():
    junk = Path(sys.executable).resolve().read_bytes()[:65536]
    result = triage(junk)
    [finding] = [f for f in result.findings if f.severity is not Severity.INFO]
    assert finding.title.endswith("lines of the auth log are not valid UTF-8: possible log injection")
    assert gate(result.findings) is Status.AMBER


def test_latin1_lines_are_a_finding_and_still_count():
    log = b"".join(
        f"Nov 20 10:00:00 h sshd[{pid}]: Invalid user jos\xe9 from {ATTACKER} port 1\n".encode(
            "latin-1"
        )
        for pid in (5, 6, 7)
    )
    assert titles(triage(log, threshold=2)) == {
        f"3 failed SSH logins from {ATTACKER}": Severity.AMBER,
        "3 lines of the auth log are not valid UTF-8: possible log injection": Severity.AMBER,
    }


@pytest.mark.parametrize("nuls", [200, 100_000])
def test_nul_bytes_from_a_crash_do_not_blind_the_check(nuls):
    # NUL is valid UTF-8 and a crash artefact, not an attacker's junk: dropped, not a finding
    log = "\x00" * nuls + failed_logins(6) + "\x00" * nuls + failed_logins(6, day="Nov 20")
    assert titles(triage(log)) == {f"12 failed SSH logins from {ATTACKER}": Severity.AMBER}


def test_unparseable_lines_are_one_info_finding():
    log = (
        accepted(LAN) + "not a log line\n-- MARK --\n\tcontinuation\n" + "Xyz 20 10:00:00 h x: y\n"
    )
    result = triage(log)
    assert titles(result) == {"4 auth log lines could not be parsed": Severity.INFO}
    assert gate(result.findings) is Status.GREEN


def test_truncated_last_line_is_fine():
    cut_in_timestamp = failed_logins(11) + "Nov 20 10:5"
    assert titles(triage(cut_in_timestamp)) == {
        f"11 failed SSH logins from {ATTACKER}": Severity.AMBER
    }
    cut_in_message = (
        failed_logins(11) + f"Nov 20 10:59:00 h sshd[1]: Failed password for root from {ATTACKER}"
    )
    assert titles(triage(cut_in_message)) == {
        f"12 failed SSH logins from {ATTACKER}": Severity.AMBER
    }


def test_empty_log_is_green():
    assert gate(triage(b"").findings) is Status.GREEN


def test_titles_repeat_byte_identically_on_a_rerun():
    log = SAMPLE.read_text() + failed_logins(30) + accepted(ATTACKER)
    assert triage(log).findings == triage(log).findings


def test_open_auth_log_names_the_path_when_missing(tmp_path):
    with pytest.raises(RuntimeError, match=f"cannot read auth log {tmp_path}/absent.log"):
        open_auth_log(tmp_path / "absent.log")


def test_open_auth_log_names_the_path_when_unreadable(tmp_path):
    # a directory cannot be read as a file even by root, unlike a chmod 000 file
    with pytest.raises(RuntimeError, match=f"cannot read auth log {tmp_path}: not a regular file \\(a directory\\)"):
        open_auth_log(tmp_path)


def test_open_auth_log_reads_the_bytes():
    with open_auth_log(SAMPLE) as log:
        assert log.read() == SAMPLE.read_bytes()


# --- hostile and large logs: read line by line, streaming, only the window's part ---------------


def classic(stamp: datetime, rest: str) -> str:
    return f"{stamp:%b} {stamp.day:2d} {stamp:%H:%M:%S} homelab {rest}\n"


def history(first: datetime, count: int, step_s: int = 10) -> str:
    """Quiet, dated, ordinary lines: what a busy host's auth log is mostly made of (made fast: a
    timestamp formatted per minute)."""
    lines, minute_prefix, minute = [], "", None
    for i in range(count):
        stamp = first + timedelta(seconds=i * step_s)
        if stamp.replace(second=0) != minute:
            minute = stamp.replace(second=0)
            minute_prefix = f"{stamp:%b} {stamp.day:2d} {stamp:%H:%M}"
        lines.append(f"{minute_prefix}:{stamp.second:02d} homelab CRON[{i % 30000}]: pam_unix(cron:session): "
                     "session closed for user root\n")
    return "".join(lines)


class CountingReader:
    """A binary file that counts what is read through it."""

    def __init__(self, handle):
        self.handle, self.reads = handle, []

    def read(self, size=-1):
        data = self.handle.read(size)
        self.reads.append(len(data))
        return data

    def seek(self, *args):
        return self.handle.seek(*args)


def test_junk_lines_around_a_brute_force_and_a_sudo_grant_are_a_finding_and_the_verdict_stays_red(tmp_path):
    # any local user can write undecodable lines with `logger`: the old reader saw "not text" and said AMBER
    junk_line = b"\xff\xfe\x80" * 60
    attack = [line.encode() for line in (failed_logins(20) + accepted(ATTACKER, user="root")).splitlines(True)]
    body = [b"Nov 20 04:00:00 homelab usermod[301]: add 'mallory' to group 'sudo'\n"]
    for number, line in enumerate(attack):
        body.append(line)
        body += [b"Nov 20 10:00:30 homelab mallory: " + junk_line + b"\n", junk_line + b"\n"] * 7
    path = tmp_path / "auth.log"
    path.write_bytes(history(START - timedelta(hours=5), 100).encode() + b"".join(body))
    with open_auth_log(path) as log:
        result = auth_log_findings(log, START, END, 10, {LAN}, name=str(path))
    found = titles(result)
    assert found[f"SSH login accepted from {ATTACKER} after 20 failed attempts"] is Severity.RED
    assert found["user mallory added to group sudo"] is Severity.RED
    assert found[f"294 lines of {path} are not valid UTF-8: possible log injection"] is Severity.AMBER
    assert gate(result.findings) is Status.RED
    [junk] = [f for f in result.findings if "UTF-8" in f.title]
    first_junk = path.read_bytes().index(b"Nov 20 10:00:30 homelab mallory")
    assert junk.detail.startswith(f"the first is line 103 (byte {first_junk});")
    assert not any("\ufffd" in f.title + f.detail for f in result.findings)  # never the attacker's bytes


def test_junk_before_the_window_is_not_counted_for_it():
    log = b"Nov 19 10:00:00 homelab x: \xff\xff\n" + failed_logins(11).encode()
    assert titles(triage(log)) == {f"11 failed SSH logins from {ATTACKER}": Severity.AMBER}


def test_a_line_over_the_length_cap_is_cut_and_a_finding_and_the_rest_still_counts():
    huge = "Nov 20 10:00:00 homelab mallory: " + "A" * 5_000_000 + "\n"
    result = triage(failed_logins(6) + huge + failed_logins(6, day="Nov 20"))
    assert titles(result) == {
        f"12 failed SSH logins from {ATTACKER}": Severity.AMBER,
        "1 line of the auth log is longer than 16 kB: possible log injection": Severity.AMBER,
    }


def test_a_stray_timestamp_far_past_the_window_does_not_end_the_reading():
    forged = classic(datetime(2026, 12, 25, tzinfo=ZONE), "sshd[1]: Connection closed by 198.51.100.1")
    assert titles(triage(forged * 3 + failed_logins(11))) == {f"11 failed SSH logins from {ATTACKER}": Severity.AMBER}


def test_a_log_much_larger_than_the_window_is_not_read_whole(tmp_path):
    # 40 days of history, then the night: the old reader held the whole file (and more) in memory
    path = tmp_path / "auth.log"
    with path.open("w") as log:
        log.write(history(START - timedelta(days=40), 345_600))
        log.write(failed_logins(11))
    size = path.stat().st_size
    with open_auth_log(path) as handle:
        reader = CountingReader(handle)
        result = auth_log_findings(reader, START, END, 10, {LAN})
    assert titles(result) == {f"11 failed SSH logins from {ATTACKER}": Severity.AMBER}
    assert size > 30_000_000 and sum(reader.reads) < size / 20
    assert max(reader.reads) <= auth_log.READ_CHUNK_BYTES  # a chunk at a time, never the file


def test_reading_stops_once_well_past_the_window(tmp_path):
    path = tmp_path / "auth.log"
    path.write_text(history(START - timedelta(days=20), 172_800) + failed_logins(11) + history(END, 200_000))
    with open_auth_log(path) as handle:
        reader = CountingReader(handle)
        result = auth_log_findings(reader, START, END, 10, {LAN})
    assert titles(result) == {f"11 failed SSH logins from {ATTACKER}": Severity.AMBER}
    assert sum(reader.reads) < path.stat().st_size / 10


def test_the_window_is_found_in_a_large_log_across_the_new_year(tmp_path):
    new_year = datetime(2027, 1, 1, tzinfo=ZONE)
    path = tmp_path / "auth.log"
    path.write_text(history(new_year - timedelta(days=10), 86_400) + accepted(ATTACKER, when="Jan  1 08:00:00"))
    with open_auth_log(path) as handle:
        result = auth_log_findings(handle, new_year, new_year + timedelta(days=1), 10, {LAN})
    assert titles(result) == {f"SSH login from new address {ATTACKER}": Severity.AMBER}
    assert result.accepted_sources[ATTACKER] == datetime(2027, 1, 1, 8, tzinfo=ZONE)


def test_a_log_truncated_while_it_is_read_says_so_and_keeps_what_it_read(tmp_path):
    # logrotate's copytruncate empties the file in place: reads past the new end find nothing
    path = tmp_path / "auth.log"
    path.write_text(failed_logins(11) + history(START + timedelta(hours=11), 40_000, step_s=1))
    with open_auth_log(path) as handle:
        reader = CountingReader(handle)
        real_read = reader.read

        def read_then_rotate(size=-1):
            data = real_read(size)
            if sum(reader.reads) > auth_log.READ_CHUNK_BYTES:
                path.write_bytes(b"")
            return data

        reader.read = read_then_rotate
        result = auth_log_findings(reader, START, END, 10, {LAN})
    found = titles(result)
    assert found[f"11 failed SSH logins from {ATTACKER}"] is Severity.AMBER
    assert found["auth log shrank while it was read (rotated in place?)"] is Severity.INFO


def test_open_auth_log_refuses_a_fifo_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "auth.log"
    os.mkfifo(fifo)
    with pytest.raises(RuntimeError, match=r"cannot read auth log .*: not a regular file \(a FIFO\)"):
        open_auth_log(fifo)


def test_a_login_hours_before_the_burst_is_not_a_brute_force_that_worked():
    result = triage(accepted(ATTACKER, when="Nov 20 06:00:00") + failed_logins(12))
    assert titles(result)[f"SSH login accepted from {ATTACKER}, an address that later failed 12 times"] is Severity.AMBER
    assert not [t for t, severity in titles(result).items() if severity is Severity.RED]


def test_a_login_after_the_burst_is_red_and_counts_only_the_failures_before_it():
    # 40 failures from 10:00:00, one a second: the login at 10:00:30 follows 31 of them
    burst = failed_logins(40)
    login = accepted(ATTACKER, when="Nov 20 10:00:30")
    lines = sorted((burst + login).splitlines(keepends=True), key=lambda line: line[:15])
    result = triage("".join(lines))
    assert titles(result)[f"SSH login accepted from {ATTACKER} after 31 failed attempts"] is Severity.RED


def test_a_pam_host_name_and_the_sshd_address_of_one_connection_are_one_attacker():
    # the PAM line names the host, sshd's own lines the address: the same process, the same attacker
    lines = "".join(
        f"Nov 20 10:00:{i:02d} homelab sshd[{500 + i}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 "
        f"euid=0 tty=ssh ruser= rhost=scanner.example.net  user=root\n"
        f"Nov 20 10:00:{i:02d} homelab sshd[{500 + i}]: Failed password for root from {ATTACKER} port {41000 + i} ssh2\n"
        for i in range(12)
    )
    result = triage(lines)
    assert titles(result) == {f"12 failed SSH logins from {ATTACKER}": Severity.AMBER}


def test_a_host_name_without_an_address_in_its_connection_still_counts_under_its_name():
    lines = "".join(
        f"Nov 20 10:00:{i:02d} homelab sshd[{500 + i}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 "
        f"euid=0 tty=ssh ruser= rhost=scanner.example.net  user=root\n"
        for i in range(11)
    )
    assert titles(triage(lines)) == {"11 failed SSH logins from scanner.example.net": Severity.AMBER}
