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
    assert titles(result) == {"recorded 1 SSH login address as the baseline": Severity.INFO}
    assert gate(result.findings) is Status.GREEN


def test_demo_sample_is_green_on_any_other_day():
    other_day = datetime(2026, 3, 1, tzinfo=ZONE)
    result = triage(SAMPLE.read_bytes(), start=other_day, end=other_day + timedelta(days=1))
    assert titles(result) == {"auth log has no lines in the window": Severity.INFO}
    assert gate(result.findings) is Status.GREEN


def test_failed_logins_over_the_threshold_are_amber():
    assert triage(failed_logins(10)).findings == []  # at the threshold: not over it
    assert titles(triage(failed_logins(11))) == {f"11 failed SSH logins from {ATTACKER}": Severity.AMBER}


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
    assert titles(triage(connection, threshold=3)) == {f"4 failed SSH logins from {ATTACKER}": Severity.AMBER}


def test_brute_force_that_succeeded_is_red():
    result = triage(failed_logins(20) + accepted(ATTACKER, user="root"))
    assert titles(result)[f"SSH login accepted from {ATTACKER} after 20 failed attempts"] is Severity.RED
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
        ("usermod[301]: add 'bob' to group 'docker'", "bob", "docker"),
        ("gpasswd[302]: user bob added by root to group admin", "bob", "admin"),
        ("gpasswd[302]: members of group docker set by root to bob", "bob", "docker"),
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
    assert triage("Nov 20 04:00:00 homelab usermod[301]: add 'ana' to group 'audio'\n").findings == []


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
        f"Nov 20 10:00:00 h sshd[{pid}]: Invalid user jos\xe9 from {ATTACKER} port 1\n".encode("latin-1")
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
    log = accepted(LAN) + "not a log line\n-- MARK --\n\tcontinuation\n" + "Xyz 20 10:00:00 h x: y\n"
    result = triage(log)
    assert titles(result) == {"4 auth log lines could not be parsed": Severity.INFO}
    assert gate(result.findings) is Status.GREEN


def test_truncated_last_line_is_fine():
    cut_in_timestamp = failed_logins(11) + "Nov 20 10:5"
    assert titles(triage(cut_in_timestamp)) == {f"11 failed SSH logins from {ATTACKER}": Severity.AMBER}
    cut_in_message = failed_logins(11) + f"Nov 20 10:59:00 h sshd[1]: Failed password for root from {ATTACKER}"
    assert titles(triage(cut_in_message)) == {f"12 failed SSH logins from {ATTACKER}": Severity.AMBER}


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
        lines.append(
            f"{minute_prefix}:{stamp.second:02d} homelab CRON[{i % 30000}]: pam_unix(cron:session): "
            "session closed for user root\n"
        )
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
    for line in attack:
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
    assert (
        titles(result)[f"SSH login accepted from {ATTACKER}, an address that later failed 12 times"] is Severity.AMBER
    )
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


# --- privilege changes in any form: sudo's own line, new accounts ----------------------------


def sudo(command: str, pwd="/home/ana", invoker="ana") -> str:
    """sudo's line for a command it ran, as sudo writes it."""
    return f"Nov 20 05:00:00 homelab sudo:      {invoker} : TTY=pts/0 ; PWD={pwd} ; USER=root ; COMMAND={command}\n"


@pytest.mark.parametrize(
    "command, user, group",
    [
        ("/usr/sbin/usermod -aG docker bob", "bob", "docker"),
        ("/usr/sbin/usermod --append --groups=users,admin bob", "bob", "admin"),
        ("/usr/sbin/gpasswd -a bob wheel", "bob", "wheel"),
        ("/usr/sbin/gpasswd -M eve,bob sudo", "bob", "sudo"),
        ("/usr/sbin/adduser bob sudo", "bob", "sudo"),
        ("/usr/bin/sh -c usermod -aG sudo bob; echo done", "bob", "sudo"),
        ("/usr/bin/env LANG=C nice -n 5 /usr/sbin/usermod -a -G wheel bob", "bob", "wheel"),
        ("/usr/bin/sudo -u root /usr/sbin/usermod -aG docker bob", "bob", "docker"),
    ],
)
def test_a_privileged_group_granted_through_sudo_is_red(command, user, group):
    # the tool's own line may be missing (logged elsewhere, or filtered): sudo's line is enough
    found = titles(triage(sudo(command)))
    assert found[f"user {user} added to group {group}"] is Severity.RED


@pytest.mark.parametrize(
    "command, pwd, path",
    [
        ("/usr/bin/tee /etc/sudoers.d/x", "/home/ana", "/etc/sudoers.d/x"),
        ("/usr/bin/tee -a sudoers.d/bob", "/etc", "/etc/sudoers.d/bob"),
        ("/bin/cp x /etc/sudoers", "/home/ana", "/etc/sudoers"),
        ("/bin/cp -t /etc/sudoers.d x", "/home/ana", "/etc/sudoers.d"),
        ("/usr/bin/vim /etc/sudoers.d/90-bob", "/home/ana", "/etc/sudoers.d/90-bob"),
        ("/bin/sed -i s/^#%wheel/%wheel/ /etc/sudoers", "/home/ana", "/etc/sudoers"),
        ("/usr/sbin/visudo", "/home/ana", "/etc/sudoers"),
        ("/usr/sbin/visudo -f /etc/sudoers.d/bob", "/home/ana", "/etc/sudoers.d/bob"),
        ("sudoedit /etc/sudoers", "/home/ana", "/etc/sudoers"),
        ("/bin/sh -c cat x >> /etc/sudoers", "/home/ana", "/etc/sudoers"),
        ("/bin/sh -c echo 'bob ALL=(ALL) NOPASSWD: ALL' >/etc/sudoers.d/bob", "/home/ana", "/etc/sudoers.d/bob"),
        ("/usr/sbin/vigr", "/home/ana", "/etc/group"),
    ],
)
def test_a_sudoers_change_through_sudo_is_red(command, pwd, path):
    found = titles(triage(sudo(command, pwd=pwd)))
    assert found == {f"{path} changed through sudo": Severity.RED}


@pytest.mark.parametrize(
    "command",
    [
        "/usr/bin/docker compose pull",
        "/bin/cat /etc/sudoers",
        "/bin/grep -i bob /etc/sudoers",
        "/bin/sed -n /bob/p /etc/sudoers.d/bob",
        "/usr/sbin/visudo -c",
        "/usr/sbin/visudo -cf /etc/sudoers.d/bob",
        "/bin/cp /etc/sudoers /root/sudoers.bak",
        "/usr/bin/rsync -t /etc/sudoers backup:/etc/",
        "/usr/bin/apt install passwd",
        "/bin/sh -c visudo -c < /etc/sudoers",
        "/usr/sbin/usermod -aG audio bob",
    ],
)
def test_sudo_commands_that_change_no_privilege_are_not_flagged(command):
    assert triage(sudo(command)).findings == []


@pytest.mark.parametrize(
    "command, title",
    [
        ("/usr/bin/passwd bob", "passwd run through sudo by ana"),
        ("/usr/sbin/usermod -s /bin/zsh ana", "usermod run through sudo by ana"),
        ("/usr/sbin/usermod -r -G sudo bob", "usermod run through sudo by ana"),  # -r removes from the group
        ("/usr/sbin/deluser bob sudo", "deluser run through sudo by ana"),
    ],
)
def test_another_account_tool_run_through_sudo_is_amber(command, title):
    # accounts changed, no privilege granted: worth a look in the morning, not an emergency
    assert titles(triage(sudo(command))) == {title: Severity.AMBER}


def test_a_refused_sudo_command_changed_nothing():
    log = (
        "Nov 20 05:00:00 homelab sudo:      eve : user NOT in sudoers ; TTY=pts/0 ; PWD=/home/eve ; USER=root ; "
        "COMMAND=/usr/sbin/usermod -aG sudo eve\n"
        "Nov 20 05:00:09 homelab sudo:      eve : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/eve ; "
        "USER=root ; COMMAND=/usr/bin/tee /etc/sudoers.d/eve\n"
    )
    assert triage(log).findings == []


def test_a_forged_command_field_does_not_hide_the_real_command():
    # a directory named " ; COMMAND=/bin/true" makes sudo's line show that text first
    found = titles(triage(sudo("/usr/sbin/usermod -aG sudo bob", pwd="/tmp/x ; COMMAND=/bin/true ; USER=root")))
    assert found == {"user bob added to group sudo": Severity.RED}


@pytest.mark.parametrize(
    "line",
    [
        # `logger` writes any text under the user's name (or any tag but these programs'): not trusted
        "ana: ana : TTY=pts/0 ; PWD=/home/ana ; USER=root ; COMMAND=/usr/sbin/usermod -aG sudo bob",
        "ana: new user: name=ghost, UID=0, GID=0, home=/root, shell=/bin/bash, from=/dev/pts/0",
        "sudoers: ana : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/usr/bin/tee /etc/sudoers",
        "usermod-helper[9]: add 'bob' to group 'sudo'",
    ],
)
def test_a_privilege_change_written_by_another_program_is_not_trusted(line):
    assert triage(f"Nov 20 05:00:00 homelab {line}\n").findings == []


def test_a_grant_through_sudo_and_the_tools_own_lines_is_one_finding_naming_both():
    log = (
        sudo("/usr/sbin/usermod -aG docker bob")
        + "Nov 20 05:00:00 homelab usermod[4242]: add 'bob' to group 'docker'\n"
        + "Nov 20 05:00:00 homelab usermod[4242]: add 'bob' to shadow group 'docker'\n"
    )
    [finding] = triage(log).findings
    assert (finding.severity, finding.title) == (Severity.RED, "user bob added to group docker")
    assert "ana through sudo: `/usr/sbin/usermod -aG docker bob`" in finding.detail
    assert "by usermod at" in finding.detail


def test_a_new_account_is_amber_and_says_its_uid_and_shell():
    log = (
        sudo("/usr/sbin/useradd -m bob")
        + "Nov 20 05:00:00 homelab useradd[4243]: new group: name=bob, GID=1001\n"
        + "Nov 20 05:00:00 homelab useradd[4243]: new user: name=bob, UID=1001, GID=1001, home=/home/bob, "
        "shell=/bin/bash, from=/dev/pts/0\n"
    )
    findings = {finding.title: finding for finding in triage(log).findings}
    assert findings["new account bob"].severity is Severity.AMBER
    assert "UID=1001" in findings["new account bob"].detail and "shell=/bin/bash" in findings["new account bob"].detail
    assert set(findings) == {"new account bob"}  # useradd's group line is no new group of groupadd's


def test_a_new_group_is_a_note():
    result = triage("Nov 20 05:00:00 homelab groupadd[4244]: new group: name=devs, GID=1002\n")
    assert titles(result) == {"new group devs": Severity.INFO}
    assert gate(result.findings) is Status.GREEN


@pytest.mark.parametrize(
    "log, title",
    [
        (
            "Nov 20 05:00:00 homelab useradd[4245]: new user: name=toor, UID=0, GID=0, home=/root, shell=/bin/sh\n",
            "new account toor with UID 0",
        ),
        (sudo("/usr/sbin/useradd -o -u 0 -g 0 toor"), "new account toor with UID 0"),
        ("Nov 20 05:00:00 homelab usermod[4246]: change user 'bob' UID from '1001' to '0'\n", "user bob given UID 0"),
        (sudo("/usr/sbin/usermod -o --uid=0 bob"), "user bob given UID 0"),
    ],
)
def test_uid_zero_is_red(log, title):
    assert titles(triage(log)) == {title: Severity.RED}


def test_a_password_hash_in_a_sudo_command_is_not_shown():
    [finding] = triage(sudo("/usr/sbin/useradd -p $6$salt$0123456789abcdef -G sudo bob")).findings[:1]
    assert finding.title == "user bob added to group sudo"
    assert "$6$salt" not in finding.detail and "0123456789abcdef" not in finding.detail


def test_privilege_changes_forged_in_bulk_cost_a_bounded_number_of_findings():
    # `logger -t usermod` can write any number of grant lines: the briefing must stay readable
    log = "".join(f"Nov 20 05:00:00 homelab usermod[9]: add 'user{n:05d}' to group 'sudo'\n" for n in range(5000))
    log += "".join(sudo("/usr/bin/passwd bob") for _ in range(5000))
    findings = triage(log).findings
    assert len(findings) == auth_log.privilege.MAX_FINDINGS + 1
    assert (findings[-1].severity, findings[-1].title) == (Severity.RED, "4981 more privilege changes")
    [passwd_runs] = triage(log.replace("'sudo'", "'audio'")).findings  # one change, 5000 times
    assert (passwd_runs.title, passwd_runs.detail.count("by ana through sudo")) == ("passwd run through sudo by ana", 3)
    assert passwd_runs.detail.endswith("; and 4997 more")
