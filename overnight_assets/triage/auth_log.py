"""Auth log collector: SSH brute force, logins from new addresses and privilege changes in a window.

Reads classic syslog lines ("Nov 20 10:00:01 host sshd[123]: ...", no year, in the window's
timezone) and RFC 3339 ones ("2026-11-20T10:00:01.123456+02:00 host sshd[1]: ..."). Whatever
the bytes are, the answer is findings, never an exception.

The log is read as bytes, line by line, never whole: a 1 GB log costs a chunk of memory, not the
file. A line that is not valid UTF-8 is a finding of its own (any local user can write such lines
with `logger`, and they must not hide the attack around them) and the readable lines still count.
Only the window's part is read: the log is chronological, so a binary search over byte offsets
finds where the window begins, and reading stops once the lines are well past its end. Both trust
the timestamps syslog wrote (the time it received a local message), with slack for lines a little
out of order; a few stray timestamps cannot move the search or end the reading early.
"""

import codecs
import io
import ipaddress
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import BinaryIO, NamedTuple

from overnight_assets.local_files import open_regular_file
from overnight_assets.redaction import redact_secrets
from overnight_assets.triage import privilege
from overnight_assets.triage.findings import Finding, Severity, printable

COLLECTOR = "auth_log"
_SAMPLE_LINES = 3
READ_CHUNK_BYTES = 1 << 20
MAX_LINE_BYTES = 16 * 1024  # rsyslog cuts messages at 8 kB by default: a longer line is no daemon's
PROBE_BYTES = 64 * 1024  # the binary search stops when the window's start is known to within this
PROBE_LINES = 8  # dated lines a probe looks at: one stray timestamp cannot steer the search
CLOCK_SLACK = timedelta(hours=2)  # lines this far out of order (a DST change, merged sources) still count
STOP_AFTER_LINES = 1000  # dated lines in a row past the window before reading stops

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_CLASSIC = re.compile(r"(?P<month>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<clock>\d{2}:\d{2}:\d{2}) (?P<rest>.*)")
_RFC3339 = re.compile(r"(?P<stamp>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?) (?P<rest>.*)")
_PROGRAM = re.compile(r"\S+ (?P<program>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: (?P<message>.*)")
_REPEATED = re.compile(r"message repeated (?P<times>\d+) times: \[ ?(?P<message>.*)\]")
_FAILED = re.compile(r"Failed \S+ for .*? from (?P<source>\S+)")
# logged once per connection beside (or instead of) the "Failed ..." lines
_CONNECTION_FAILED = (
    re.compile(r"Invalid user .*? from (?P<source>\S+)"),
    re.compile(r"authentication failure;.* rhost=(?P<source>\S+)"),
)
_ACCEPTED = re.compile(r"Accepted \S+ for (?P<user>\S+) from (?P<source>\S+)")


@dataclass
class AuthLogResult:
    findings: list[Finding]
    accepted_sources: dict[str, datetime]  # source address -> first accepted login in the window


@dataclass
class _Tally:
    """Lines of one kind: how many, and where the first one starts (a byte offset)."""

    count: int = 0
    first_offset: int | None = None

    def add(self, offset: int) -> None:
        self.count += 1
        if self.first_offset is None:
            self.first_offset = offset


@dataclass
class _Reading:
    """Which part of the file was read: what the coverage findings report."""

    size: int  # when reading began: lines appended later are after the window
    shrank_at: int | None = None  # the file ended here, before `size`: truncated (rotated in place) meanwhile


@dataclass
class _Events:
    """What the window's lines say, before thresholds and the known addresses are applied."""

    # (connection, source) -> [(time, attempts)] of its "Failed" lines; and when it first failed at all
    failed_lines: dict = field(default_factory=lambda: defaultdict(list))
    failed_connections: dict = field(default_factory=dict)
    connection_ip: dict = field(default_factory=dict)  # sshd[pid] -> the address its lines name
    accepted: dict = field(default_factory=lambda: defaultdict(list))  # source -> [(time, user)]
    privilege_changes: privilege.PrivilegeLedger = field(default_factory=privilege.PrivilegeLedger)
    unparsed: _Tally = field(default_factory=_Tally)
    unparsed_samples: list = field(default_factory=list)
    not_utf8: _Tally = field(default_factory=_Tally)
    too_long: _Tally = field(default_factory=_Tally)
    lines_in_window: int = 0
    reading: _Reading = field(default_factory=lambda: _Reading(0))

    def failures_by_source(self, until: datetime | None = None) -> Counter:
        """Failed attempts per source (up to `until`): a connection's attempts are its "Failed"
        lines; an "Invalid user" or PAM line alone is one attempt. A connection's lines that name
        the source differently (PAM's rhost= a host name, sshd the IP) count once, under the IP."""
        connections: dict[tuple[str, str], list] = defaultdict(list)
        for connection, source in self.failed_connections:
            connections[connection, self.address(connection, source)].append((connection, source))
        attempts = Counter()
        for (_, source), keys in connections.items():
            lines = [(stamp, times) for key in keys for stamp, times in self.failed_lines.get(key, [])]
            first = min(self.failed_connections[key] for key in keys)
            if lines:
                attempts[source] += sum(times for stamp, times in lines if until is None or stamp <= until)
            elif until is None or first <= until:
                attempts[source] += 1
        return +attempts  # sources with no attempt before `until` are left out

    def address(self, connection: str, source: str) -> str:
        """The IP the same sshd process logged, for a source given as a host name; no DNS lookup."""
        return source if _is_ip(source) else self.connection_ip.get(connection, source)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class _Line(NamedTuple):
    offset: int  # where the line starts in the file
    data: bytes  # without its newline, at most MAX_LINE_BYTES
    cut: bool  # longer than MAX_LINE_BYTES: the rest was skipped, not held
    terminated: bool  # False for a last line still being written


def open_auth_log(path) -> BinaryIO:
    """The log opened for binary reading; a clear error for a missing file or one that is no regular
    file (a FIFO would block the open forever)."""
    try:
        return open_regular_file(Path(path).expanduser())
    except OSError as error:
        raise RuntimeError(f"cannot read auth log {path}: {error.strerror or error}") from error


def auth_log_findings(
    log: bytes | BinaryIO,
    window_start: datetime,
    window_end: datetime,
    failed_login_threshold: int,
    known_sources: set[str],
    name: str = "the auth log",
) -> AuthLogResult:
    """Failed logins per source above the threshold (AMBER), an accepted login from such a source
    (RED), from an address not in `known_sources` (AMBER; an empty set is a first run: INFO,
    recorded as the baseline) and privilege changes (see privilege.py), for lines in [start, end).
    `log` is the log's bytes or a seekable binary file; `name` names it in the findings."""
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("auth log window must be timezone-aware")
    log = io.BytesIO(log) if isinstance(log, (bytes, bytearray)) else log
    events = _read_events(log, window_start, window_end)
    failures = events.failures_by_source()
    findings = [
        *_failure_findings(failures, failed_login_threshold),
        *_accepted_findings(events, failures, failed_login_threshold, known_sources),
        *events.privilege_changes.findings(COLLECTOR),
        *_junk_findings(events, log, name),
        *_coverage_findings(events, window_start, window_end),
    ]
    first_accepted = {
        source: min(logins)[0].astimezone(window_start.tzinfo) for source, logins in events.accepted.items()
    }
    return AuthLogResult(findings, first_accepted)


# --- reading: only the window's part, a line at a time -------------------------------------


def _read_events(log: BinaryIO, start: datetime, end: datetime) -> _Events:
    events = _Events(reading=_Reading(size=log.seek(0, io.SEEK_END)))
    first = _window_offset(log, events.reading.size, start, end)
    where = "before" if first else None  # what the last dated line said: before, in or after the window
    crossed, past = False, 0
    for line in _lines_from(log, first, events.reading):
        text, valid = _decode(line.data, line.cut)
        parsed = _parse_line(text, start, end) if text.strip() else None
        if parsed:
            stamp = parsed[0]
            where = "before" if stamp < start else "in" if stamp < end else "after"
            past = past + 1 if stamp >= end + CLOCK_SLACK else 0
            crossed = crossed or not past  # a dated line not far past the end: the window is here or ahead
            if crossed and past >= STOP_AFTER_LINES:
                break
        if where not in (None, "in"):
            continue  # undated lines belong with the dated line before them
        _count_line(events, line, text, valid, parsed)
        if parsed:
            events.lines_in_window += 1
            _record(events, line.offset, *parsed)
    return events


def _count_line(events: _Events, line: _Line, text: str, valid: bool, parsed) -> None:
    """Tally what is wrong with a line of the window; a line still being written is not judged."""
    if not text.strip():
        return
    if line.cut:
        events.too_long.add(line.offset)
    if not line.terminated:
        return
    if not valid:
        events.not_utf8.add(line.offset)
    elif parsed is None:
        events.unparsed.add(line.offset)
        if len(events.unparsed_samples) < _SAMPLE_LINES:
            events.unparsed_samples.append(printable(text, 120))


def _window_offset(log: BinaryIO, size: int, start: datetime, end: datetime) -> int:
    """A byte offset at or before the first line of the window (less CLOCK_SLACK): a binary search
    whose every step reads one probe. A probe that can read no time counts as "maybe in the window",
    so junk makes the search read more, never less."""
    earliest, low, high = start - CLOCK_SLACK, 0, size
    while high - low > PROBE_BYTES:
        middle = (low + high) // 2
        latest = _probe(log, middle, size, start, end)
        if latest is not None and latest < earliest:
            low = middle  # the lines here, so everything before them, are from before the window
        else:
            high = middle
    return low


def _probe(log: BinaryIO, offset: int, size: int, start: datetime, end: datetime) -> datetime | None:
    """The latest time among the first PROBE_LINES dated lines after `offset`, None if it finds none."""
    log.seek(offset)
    block = log.read(min(PROBE_BYTES, size - offset))
    times = []
    for data in block.split(b"\n")[1:-1]:  # the first and last are partial lines
        if parsed := _parse_line(_decode(data, False)[0], start, end):
            times.append(parsed[0])
            if len(times) == PROBE_LINES:
                break
    return max(times, default=None)


def _lines_from(log: BinaryIO, offset: int, reading: _Reading) -> Iterator[_Line]:
    """Whole lines from the first line that starts at or after `offset`."""
    lines = _lines(log, max(offset - 1, 0), reading)
    if offset:
        next(lines, None)  # the rest of the line byte `offset - 1` is in (only a newline if it ends there)
    return lines


def _lines(log: BinaryIO, offset: int, reading: _Reading) -> Iterator[_Line]:
    """The lines from `offset` up to the size the file had, each cut at MAX_LINE_BYTES: only one chunk
    and one line are held at a time. Notes in `reading` a file that ended sooner."""
    log.seek(offset)
    head, cut, line_at, position = b"", False, offset, offset
    while position < reading.size:
        chunk = log.read(min(READ_CHUNK_BYTES, reading.size - position))
        if not chunk:
            reading.shrank_at = position
            break
        pieces, cursor = chunk.split(b"\n"), position
        for piece in pieces[:-1]:
            head, cut = _grow(head, cut, piece)
            yield _Line(line_at, head, cut, True)
            cursor += len(piece) + 1
            head, cut, line_at = b"", False, cursor
        head, cut = _grow(head, cut, pieces[-1])
        position += len(chunk)
    if head or cut:
        yield _Line(line_at, head, cut, False)


def _grow(head: bytes, cut: bool, piece: bytes) -> tuple[bytes, bool]:
    if cut:
        return head, True
    if b"\x00" in piece:  # a crash can leave blocks of NULs before a line: they are no part of it
        piece = piece.replace(b"\x00", b"")
    room = MAX_LINE_BYTES - len(head)
    return (head + piece[:room], True) if len(piece) > room else (head + piece, False)


def _decode(data: bytes, cut: bool) -> tuple[str, bool]:
    """The line as text (bad bytes replaced, NULs from a crash dropped) and whether it was valid
    UTF-8. A cut line may end inside a character, which is not held against it."""
    try:
        text, valid = (codecs.getincrementaldecoder("utf-8")().decode(data) if cut else data.decode("utf-8")), True
    except UnicodeDecodeError:
        text, valid = data.decode("utf-8", errors="replace"), False
    return text.replace("\x00", "").rstrip("\r"), valid


def _line_number(log: BinaryIO, offset: int) -> int:
    """Counted a chunk at a time: only asked for when a finding names a line."""
    log.seek(0)
    newlines, position = 0, 0
    while position < offset and (chunk := log.read(min(READ_CHUNK_BYTES, offset - position))):
        newlines += chunk.count(b"\n")
        position += len(chunk)
    return newlines + 1


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
            candidates.append(datetime(year, month, int(match["day"]), hour, minute, second, tzinfo=zone))
        except ValueError:  # no such month or day (Feb 29 in a common year), no such hour
            continue
    return min(candidates, key=lambda stamp: _distance(stamp, start, end), default=None)


def _distance(stamp: datetime, start: datetime, end: datetime) -> timedelta:
    return max(start - stamp, stamp - end, timedelta(0))


def _record(events: _Events, offset: int, stamp: datetime, rest: str) -> None:
    program_match = _PROGRAM.fullmatch(rest)
    if not program_match:
        return  # a line with a timestamp but no "host program:" is nothing we look for
    program, pid, message = program_match["program"], program_match["pid"], program_match["message"]
    times = 1
    if repeated := _REPEATED.fullmatch(message):
        times, message = int(repeated["times"]), repeated["message"]
    if program.startswith("sshd"):
        _record_ssh(events, f"{program}[{pid or f'byte {offset}'}]", stamp, message, times)
    # judged by the program that wrote the line: `logger` can write any text under any other name
    if program == "sudo":
        events.privilege_changes.record_sudo_line(pid, message, stamp)
    else:
        events.privilege_changes.record(privilege.tool_line_changes(program, message), stamp)


def _record_ssh(events: _Events, connection: str, stamp: datetime, message: str, times: int) -> None:
    if failed := _FAILED.match(message):
        source = _address(failed)
        key = (connection, source)
        events.failed_lines[key].append((stamp, times))
        events.failed_connections.setdefault(key, stamp)
    elif accepted := _ACCEPTED.match(message):
        source = _address(accepted)
        events.accepted[source].append((stamp, accepted["user"]))
    else:
        for pattern in _CONNECTION_FAILED:
            if failed := pattern.search(message):
                events.failed_connections.setdefault((connection, _address(failed)), stamp)
        return
    if _is_ip(source):
        events.connection_ip.setdefault(connection, source)


def _address(match: re.Match) -> str:
    """The source a line names: kept in Cortex as a known address, so redacted here (`logger -t sshd`
    can write anything where an address belongs)."""
    return redact_secrets(match["source"])


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


def _accepted_findings(events: _Events, failures: Counter, threshold: int, known_sources: set[str]) -> list[Finding]:
    findings = []
    for source, logins in sorted(events.accepted.items()):
        detail = _logins_detail(logins)
        if finding := _after_burst_finding(events, source, sorted(logins), failures[source], threshold):
            findings.append(finding)
        if known_sources and source not in known_sources:
            findings.append(Finding(COLLECTOR, Severity.AMBER, f"SSH login from new address {source}", detail))
    if events.accepted and not known_sources:
        sources = ", ".join(sorted(events.accepted))
        findings.append(
            Finding(
                COLLECTOR,
                Severity.INFO,
                f"recorded {len(events.accepted)} SSH login address{'es' if len(events.accepted) > 1 else ''} as the baseline",
                f"first run, nothing to compare with: {sources}",
            )
        )
    return findings


def _after_burst_finding(
    events: _Events, source: str, logins: list[tuple[datetime, str]], failed: int, threshold: int
) -> Finding | None:
    """RED when a login follows a burst (more than `threshold` failures before it); AMBER when
    the address's burst came only after its login."""
    if failed <= threshold:
        return None
    for stamp, user in logins:
        before = events.failures_by_source(until=stamp)[source]
        if before > threshold:
            return Finding(
                COLLECTOR,
                Severity.RED,
                f"SSH login accepted from {source} after {before} failed attempts",
                f"a brute force that worked? login as {user} at {stamp.isoformat()}",
            )
    return Finding(
        COLLECTOR,
        Severity.AMBER,
        f"SSH login accepted from {source}, an address that later failed {failed} times",
        f"the login came first; {_logins_detail(logins)}",
    )


def _logins_detail(logins: list[tuple[datetime, str]]) -> str:
    first_time, _ = min(logins)
    users = ", ".join(sorted({user for _, user in logins}))
    return f"{len(logins)} login(s) as {users}, first at {first_time.isoformat()}"


def _junk_findings(events: _Events, log: BinaryIO, name: str) -> list[Finding]:
    """Lines no daemon writes, said by number and place: never their bytes, which an attacker chose."""
    findings = []
    for tally, what in (
        (events.not_utf8, "not valid UTF-8"),
        (events.too_long, f"longer than {MAX_LINE_BYTES // 1024} kB"),
    ):
        if tally.count:
            lines, verb = ("1 line", "is") if tally.count == 1 else (f"{tally.count} lines", "are")
            findings.append(
                Finding(
                    COLLECTOR,
                    Severity.AMBER,
                    f"{lines} of {name} {verb} {what}: possible log injection",
                    f"the first is line {_line_number(log, tally.first_offset)} (byte {tally.first_offset}); "
                    f"the readable lines around them were checked as usual",
                )
            )
    return findings


def _coverage_findings(events: _Events, start: datetime, end: datetime) -> list[Finding]:
    """Say what the collector could not see, so a quiet log is not mistaken for a quiet night."""
    findings = []
    if events.unparsed.count:
        findings.append(
            Finding(
                COLLECTOR,
                Severity.INFO,
                f"{events.unparsed.count} auth log lines could not be parsed",
                f"e.g. {' | '.join(events.unparsed_samples)}",
            )
        )
    if events.reading.shrank_at is not None:
        findings.append(
            Finding(
                COLLECTOR,
                Severity.INFO,
                "auth log shrank while it was read (rotated in place?)",
                f"it ended at byte {events.reading.shrank_at} of the {events.reading.size} it had: "
                "later lines of the window may be in the rotated file",
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
