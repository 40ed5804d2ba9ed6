"""Auth log collector: SSH brute force, logins from new addresses and new sudo users in a window.

Reads classic syslog lines ("Nov 20 10:00:01 host sshd[123]: ...", no year, in the window's
timezone) and RFC 3339 ones ("2026-11-20T10:00:01.123456+02:00 host sshd[1]: ..."). Whatever
the bytes are, the answer is findings, never an exception.
"""

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from overnight_assets.triage.findings import Finding, Severity

COLLECTOR = "auth_log"
_NOT_TEXT_RATIO = 0.3  # a few stray bytes (a crash can leave NULs in a log) are not "binary"
_JUNK_CHARS = "\ufffd" + "".join(chr(code) for code in range(32) if chr(code) not in "\t\n\r")
_SAMPLE_LINES = 3

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_CLASSIC = re.compile(
    r"(?P<month>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<clock>\d{2}:\d{2}:\d{2}) (?P<rest>.*)"
)
_RFC3339 = re.compile(
    r"(?P<stamp>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?) (?P<rest>.*)"
)
_PROGRAM = re.compile(r"\S+ (?P<program>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: (?P<message>.*)")
_REPEATED = re.compile(r"message repeated (?P<times>\d+) times: \[ ?(?P<message>.*)\]")
_FAILED = re.compile(r"Failed \S+ for .*? from (?P<source>\S+)")
# logged once per connection beside (or instead of) the "Failed ..." lines
_CONNECTION_FAILED = (
    re.compile(r"Invalid user .*? from (?P<source>\S+)"),
    re.compile(r"authentication failure;.* rhost=(?P<source>\S+)"),
)
_ACCEPTED = re.compile(r"Accepted \S+ for (?P<user>\S+) from (?P<source>\S+)")
_ACCOUNT_TOOLS = {"usermod", "useradd", "gpasswd"}  # not just any program: `logger` could fake it
_SUDO_GRANTS = (
    re.compile(r"add '(?P<user>[^']+)' to (?:shadow )?group '(?P<group>sudo|wheel)'"),
    re.compile(r"user (?P<user>\S+) added by \S+ to group (?P<group>sudo|wheel)\b"),
)


@dataclass
class AuthLogResult:
    findings: list[Finding]
    accepted_sources: dict[str, datetime]  # source address -> first accepted login in the window


@dataclass
class _Events:
    """What the window's lines say, before thresholds and the known addresses are applied."""

    failed_lines: Counter = field(default_factory=Counter)  # (connection, source) -> "Failed" lines
    failed_connections: set = field(default_factory=set)  # (connection, source) that failed at all
    accepted: dict = field(default_factory=lambda: defaultdict(list))  # source -> [(time, user)]
    sudo_grants: dict = field(default_factory=dict)  # (user, group) -> (time, program)
    unparsed: list = field(default_factory=list)
    lines_in_window: int = 0

    def failures_by_source(self) -> Counter:
        # a connection's attempts are its "Failed" lines; an "Invalid user" alone is one attempt
        attempts = Counter()
        for connection in self.failed_connections:
            attempts[connection[1]] += self.failed_lines[connection] or 1
        return attempts


def read_auth_log(path) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as error:
        raise RuntimeError(f"cannot read auth log {path}: {error.strerror or error}") from error


def auth_log_findings(
    data: bytes,
    window_start: datetime,
    window_end: datetime,
    failed_login_threshold: int,
    known_sources: set[str],
) -> AuthLogResult:
    """Failed logins per source above the threshold (AMBER), an accepted login from such a source
    (RED), from an address not in `known_sources` (AMBER; an empty set is a first run: INFO,
    recorded as the baseline) and users added to sudo/wheel (RED), for lines in [start, end)."""
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("auth log window must be timezone-aware")
    text = data.decode("utf-8", errors="replace")
    if _is_not_text(text):
        return AuthLogResult([_not_text_finding(data)], {})
    events = _read_events(text, window_start, window_end)
    failures = events.failures_by_source()
    findings = [
        *_failure_findings(failures, failed_login_threshold),
        *_accepted_findings(events, failures, failed_login_threshold, known_sources),
        *_sudo_findings(events),
        *_coverage_findings(events, window_start, window_end),
    ]
    first_accepted = {
        source: min(logins)[0].astimezone(window_start.tzinfo)
        for source, logins in events.accepted.items()
    }
    return AuthLogResult(findings, first_accepted)


def _is_not_text(text: str) -> bool:
    junk = sum(text.count(char) for char in _JUNK_CHARS)  # str.count: fast on a big log
    return junk > len(text) * _NOT_TEXT_RATIO


def _not_text_finding(data: bytes) -> Finding:
    return Finding(
        COLLECTOR,
        Severity.AMBER,
        "auth log is not text",
        f"{len(data)} bytes, {data.count(0)} NUL bytes: binary data where a log should be",
    )


def _read_events(text: str, start: datetime, end: datetime) -> _Events:
    events = _Events()
    lines = text.replace("\x00", "").split("\n")
    for number, line in enumerate(lines):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        parsed = _parse_line(line, start, end)
        if parsed is None:
            if number < len(lines) - 1:  # an unterminated last line is still being written
                events.unparsed.append(line)
        elif start <= parsed[0] < end:
            events.lines_in_window += 1
            _record(events, number, *parsed)
    return events


def _parse_line(line: str, start: datetime, end: datetime) -> tuple[datetime, str] | None:
    """(time, rest after the timestamp) or None when no timestamp can be read."""
    if match := _RFC3339.fullmatch(line):
        try:
            stamp = datetime.fromisoformat(match["stamp"])
        except ValueError:
            return None
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=start.tzinfo)), match["rest"]
    if match := _CLASSIC.fullmatch(line):
        stamp = _classic_time(match, start.tzinfo, start, end)
        return (stamp, match["rest"]) if stamp else None
    return None


def _classic_time(match: re.Match, zone: tzinfo, start: datetime, end: datetime) -> datetime | None:
    """Classic syslog has no year: take the year that puts the line nearest the window, which
    gets "Dec 31" and "Jan  1" right when the window crosses the new year."""
    month = _MONTHS.get(match["month"])
    if month is None:
        return None
    hour, minute, second = (int(part) for part in match["clock"].split(":"))
    candidates = []
    for year in (start.year - 1, start.year, start.year + 1):
        try:
            candidates.append(
                datetime(year, month, int(match["day"]), hour, minute, second, tzinfo=zone)
            )
        except ValueError:  # no such month or day (Feb 29 in a common year), no such hour
            continue
    return min(candidates, key=lambda stamp: _distance(stamp, start, end), default=None)


def _distance(stamp: datetime, start: datetime, end: datetime) -> timedelta:
    return max(start - stamp, stamp - end, timedelta(0))


def _record(events: _Events, number: int, stamp: datetime, rest: str) -> None:
    program_match = _PROGRAM.fullmatch(rest)
    if not program_match:
        return  # a line with a timestamp but no "host program:" is nothing we look for
    program, pid, message = program_match["program"], program_match["pid"], program_match["message"]
    times = 1
    if repeated := _REPEATED.fullmatch(message):
        times, message = int(repeated["times"]), repeated["message"]
    if program.startswith("sshd"):
        _record_ssh(events, f"{program}[{pid or f'line {number}'}]", stamp, message, times)
    for pattern in _SUDO_GRANTS if program in _ACCOUNT_TOOLS else ():
        if grant := pattern.search(message):
            events.sudo_grants.setdefault((grant["user"], grant["group"]), (stamp, program))


def _record_ssh(
    events: _Events, connection: str, stamp: datetime, message: str, times: int
) -> None:
    if failed := _FAILED.match(message):
        key = (connection, failed["source"])
        events.failed_lines[key] += times
        events.failed_connections.add(key)
    elif accepted := _ACCEPTED.match(message):
        events.accepted[accepted["source"]].append((stamp, accepted["user"]))
    else:
        for pattern in _CONNECTION_FAILED:
            if failed := pattern.search(message):
                events.failed_connections.add((connection, failed["source"]))


def _failure_findings(failures: Counter, threshold: int) -> list[Finding]:
    return [
        Finding(
            COLLECTOR,
            Severity.AMBER,
            f"{count} failed SSH logins from {source}",
            f"more than the threshold of {threshold} in the window",
        )
        for source, count in sorted(failures.items())
        if count > threshold
    ]


def _accepted_findings(
    events: _Events, failures: Counter, threshold: int, known_sources: set[str]
) -> list[Finding]:
    findings = []
    for source, logins in sorted(events.accepted.items()):
        detail = _logins_detail(logins)
        if failures[source] > threshold:
            findings.append(
                Finding(
                    COLLECTOR,
                    Severity.RED,
                    f"SSH login accepted from {source} after {failures[source]} failed attempts",
                    "a brute force that worked? " + detail,
                )
            )
        if known_sources and source not in known_sources:
            findings.append(
                Finding(COLLECTOR, Severity.AMBER, f"SSH login from new address {source}", detail)
            )
    if events.accepted and not known_sources:
        sources = ", ".join(sorted(events.accepted))
        findings.append(
            Finding(
                COLLECTOR,
                Severity.INFO,
                f"recorded {len(events.accepted)} SSH login addresses as the baseline",
                f"first run, nothing to compare with: {sources}",
            )
        )
    return findings


def _logins_detail(logins: list[tuple[datetime, str]]) -> str:
    first_time, _ = min(logins)
    users = ", ".join(sorted({user for _, user in logins}))
    return f"{len(logins)} login(s) as {users}, first at {first_time.isoformat()}"


def _sudo_findings(events: _Events) -> list[Finding]:
    return [
        Finding(
            COLLECTOR,
            Severity.RED,
            f"user {user} added to group {group}",
            f"by {program} at {stamp.isoformat()}",
        )
        for (user, group), (stamp, program) in sorted(events.sudo_grants.items())
    ]


def _coverage_findings(events: _Events, start: datetime, end: datetime) -> list[Finding]:
    """Say what the collector could not see, so a quiet log is not mistaken for a quiet night."""
    findings = []
    if events.unparsed:
        samples = " | ".join(line[:120] for line in events.unparsed[:_SAMPLE_LINES])
        findings.append(
            Finding(
                COLLECTOR,
                Severity.INFO,
                f"{len(events.unparsed)} auth log lines could not be parsed",
                f"e.g. {samples}",
            )
        )
    if not events.lines_in_window:
        findings.append(
            Finding(
                COLLECTOR,
                Severity.INFO,
                "auth log has no lines in the window",
                f"nothing between {start.isoformat()} and {end.isoformat()}",
            )
        )
    return findings
