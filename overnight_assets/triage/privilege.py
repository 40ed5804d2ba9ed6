"""Privilege changes in the auth log: who was added to a privileged group, given UID 0 or a new
account, and which sudoers (or passwd/group/shadow) file was written, in whatever form it was done.

Two kinds of line say so, each trusted only from the program that writes it (anyone can write any
text with `logger`):
- the account tools' own lines: usermod/useradd "add 'bob' to group 'sudo'", gpasswd "user bob added
  by root to group sudo", useradd "new user: name=bob, UID=1001, ...", groupadd "new group: ...";
- sudo's line for each command it ran: "ana : TTY=pts/0 ; PWD=/home/ana ; USER=root ;
  COMMAND=/usr/sbin/usermod -aG docker bob". sudo joins the arguments with spaces and drops the
  quotes, so the command is read as words: each command in it (after `;`, `&&`, `|`, a shell's
  `-c`, or wrappers such as `env` and `nice`) is judged by its program.

A sudo run of an account tool also makes the tool's own line: both give the same key, so the change
is one finding naming both sources.

sudo logs a line longer than its syslog_maxlen (960 bytes by default) in pieces: the first, then
"ana : (command continued) …" lines, broken at the last space that fits, or mid-word when none does.
A command padded past that length would hide its tail (`… ; echo x >>/etc/sudoers`): the pieces are
joined back into one command before it is judged.

Not seen: what is done in a root shell (`sudo -i`, `sudo bash`) beyond the tools' own lines.
"""

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from overnight_assets.triage.findings import Finding, Severity, printable

# membership is root, or one step from it (docker: `docker run -v /:/host`)
PRIVILEGED_GROUPS = frozenset({"sudo", "wheel", "admin", "docker"})
ACCOUNT_TOOL_LINES = frozenset({"usermod", "useradd", "gpasswd", "groupadd"})  # programs whose lines are read
_SOURCES_SHOWN = 3  # per change
MAX_FINDINGS = 20  # per night; the rest are one finding

_TOOL_LINES = (
    # (kind, pattern): usermod and useradd -G, once per group file; gpasswd -a; gpasswd -M; useradd; groupadd
    ("grant", re.compile(r"add '(?P<user>[^']+)' to (?:shadow )?group '(?P<group>[^']+)'")),
    ("grant", re.compile(r"user (?P<user>\S+) added by \S+ to (?:shadow )?group (?P<group>\S+)")),
    ("members", re.compile(r"members of (?:shadow )?group (?P<group>\S+) set by \S+ to (?P<users>\S*)")),
    ("account", re.compile(r"new user: name=(?P<user>[^,]+), UID=(?P<uid>\d+)(?P<rest>.*)")),
    ("group", re.compile(r"new group: name=(?P<group>[^,]+)")),
    ("uid0", re.compile(r"change user '(?P<user>[^']+)' UID from '\d+' to '0'")),
)

# --- a sudo line, and the commands in it ---------------------------------------------------

_SUDO_RUN = re.compile(r"\s*(?P<invoker>\S+) : (?P<fields>[A-Z]+=.*)")  # a refusal starts with its reason
_SUDO_LOGGED = re.compile(r"\s*(?P<invoker>\S+) : (?P<logged>.*)")  # `%8s : %s`, sudo's own format
_SUDO_CONTINUED = re.compile(r"\s*(?P<invoker>\S+) : \(command continued\) (?P<logged>.*)")
SYSLOG_MAXLEN = 960  # sudoers' syslog_maxlen default: where sudo breaks a line
MAX_COMMAND_BYTES = 1 << 20  # pieces of one command kept at most: a flood of continuations is bounded
_SUDO_COMMAND = re.compile(r"(?:^|\s;\s)COMMAND=")  # the last field; an argument may hold " ; COMMAND=" too
_SUDO_PWD = re.compile(r"(?:^|\s;\s)PWD=(?P<pwd>.*?)(?=\s;\s|$)")
_WORD = re.compile(r"[;&|()`]+|[^\s;&|()`'\"]+")  # separators, or words with the quotes sudo left in
_SEPARATOR = re.compile(r"[;&|()`]+")
_REDIRECTION = re.compile(r"\d*(?P<operator>>>?|<)&?(?P<target>.*)")  # sudo logs `sh -c echo … >>/etc/sudoers` as words
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")
_DURATION = re.compile(r"\d+(?:\.\d+)?[smhd]?")
_CRYPT_HASH = re.compile(r"\$(?:1|2[abxy]?|5|6|7|y|gy)\$\S+")  # `useradd -p HASH`: no hash in a finding
_WRAPPERS = frozenset(
    [
        "env",
        "nice",
        "nohup",
        "exec",
        "command",
        "builtin",
        "eval",
        "time",
        "timeout",
        "stdbuf",
        "ionice",
        "chrt",
        "taskset",
        "setsid",
        "xargs",
        "sudo",
        "doas",
        "su",
        "runuser",
        "sh",
        "bash",
        "dash",
        "zsh",
        "ksh",
        "fish",
        "busybox",
        "if",
        "then",
        "else",
        "do",
        "while",
        "until",
        "!",
    ]
)
_WRAPPER_VALUE_OPTIONS = frozenset(
    {"-u", "-g", "-s", "-n", "--user", "--group", "--signal"}
)  # sudo -u USER, env -u NAME, …
# files whose change grants privileges; any /etc/sudoers* counts (sudoers.d/, a sudoers.tmp moved into place)
_PRIVILEGE_FILES = frozenset({"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"})
_EDITS_A_FILE = {"visudo": "/etc/sudoers", "sudoedit": None, "vipw": "/etc/passwd", "vigr": "/etc/group"}
_READERS = frozenset(
    [
        "cat",
        "less",
        "more",
        "head",
        "tail",
        "grep",
        "egrep",
        "fgrep",
        "zgrep",
        "rg",
        "ls",
        "stat",
        "diff",
        "cmp",
        "wc",
        "file",
        "md5sum",
        "sha1sum",
        "sha256sum",
        "sha512sum",
        "b2sum",
        "getent",
        "view",
        "lsattr",
        "namei",
        "readlink",
        "realpath",
        "test",
        "[",
        "sed",
        "awk",
    ]
)
_IN_PLACE = frozenset({"sed", "awk"})  # readers that write with -i (sed -i, awk -i inplace)
_COPIERS = frozenset({"cp", "install", "rsync", "scp", "ln"})  # they write only their destination
_JOIN_OPTIONS = {"usermod": {"a", "G"}, "gpasswd": {"a"}}  # options that only add a user to groups
_TARGET_OPTION = frozenset({"cp", "install", "ln"})  # -t DIR names the destination (rsync's -t is --times)
_ACCOUNT_TOOLS = frozenset(
    [
        "useradd",
        "usermod",
        "userdel",
        "adduser",
        "deluser",
        "addgroup",
        "delgroup",
        "groupadd",
        "groupmod",
        "groupdel",
        "gpasswd",
        "newusers",
        "chpasswd",
        "passwd",
    ]
)


@dataclass(frozen=True)
class _Syntax:
    """Just enough of a tool's command line to tell its options' values from its operands."""

    short_values: str  # short options that take a value
    long_values: frozenset = frozenset()  # long options that take a value
    aliases: dict = field(default_factory=dict)  # long option -> the short one it means


_GROUPS = {"groups": "G", "gid": "g", "uid": "u"}
_SYNTAX = {
    "useradd": _Syntax(
        "bcdefgGkKpsuRPZ",
        frozenset(
            [
                "base-dir",
                "comment",
                "home-dir",
                "expiredate",
                "inactive",
                "gid",
                "groups",
                "skel",
                "key",
                "password",
                "shell",
                "uid",
                "root",
                "prefix",
                "selinux-user",
                "selinux-range",
            ]
        ),
        _GROUPS,
    ),
    "usermod": _Syntax(
        "cdefgGlpsuRPZvVwW",
        frozenset(
            [
                "comment",
                "home",
                "expiredate",
                "inactive",
                "gid",
                "groups",
                "login",
                "password",
                "shell",
                "uid",
                "root",
                "prefix",
                "selinux-user",
                "selinux-range",
                "add-subuids",
                "del-subuids",
                "add-subgids",
                "del-subgids",
            ]
        ),
        {**_GROUPS, "remove": "r", "append": "a"},
    ),
    "gpasswd": _Syntax(
        "adMAQ", frozenset(["add", "delete", "members", "administrators", "root"]), {"add": "a", "members": "M"}
    ),
    "adduser": _Syntax(
        "",
        frozenset(
            [
                "home",
                "shell",
                "uid",
                "firstuid",
                "lastuid",
                "gid",
                "firstgid",
                "lastgid",
                "ingroup",
                "gecos",
                "conf",
                "comment",
            ]
        ),
    ),
    "groupadd": _Syntax("gKpRP", frozenset(["gid", "key", "password", "root", "prefix"])),
}
_SYNTAX["addgroup"] = _SYNTAX["adduser"]


@dataclass(frozen=True)
class Change:
    """One privilege change; `key` is the same whichever line reported it."""

    key: tuple
    severity: Severity
    title: str
    source: str  # who reported it: a tool's name, or "ana through sudo: `…`"


def tool_line_changes(program: str, message: str) -> list[Change]:
    """What an account tool's own line says; nothing for any other program's line."""
    if program not in ACCOUNT_TOOL_LINES:
        return []
    for kind, pattern in _TOOL_LINES:
        if match := pattern.search(message):
            if kind == "grant":
                return _grants(match["user"], [match["group"]], program)
            if kind == "members":
                return [
                    c for user in match["users"].split(",") if user for c in _grants(user, [match["group"]], program)
                ]
            if kind == "account":
                detail = printable(f"UID={match['uid']}{match['rest']}", 120)
                return [_new_account(match["user"], match["uid"] == "0", f"{program} ({detail})")]
            if kind == "group":  # useradd's line for a new user's own group is part of the account
                return [_new_group(match["group"], program)] if program == "groupadd" else []
            return [_uid_zero(match["user"], program)]
    return []


def sudo_changes(message: str) -> list[Change]:
    """What the command of a sudo line changed; nothing for a refusal ("user NOT in sudoers ; …")."""
    if not (run := _SUDO_RUN.fullmatch(message)) or not (command_at := _SUDO_COMMAND.search(run["fields"])):
        return []
    pwd = pwd_match["pwd"] if (pwd_match := _SUDO_PWD.search(run["fields"][: command_at.start()])) else "/"
    logged = run["fields"][command_at.end() :]
    command = _SUDO_COMMAND.sub(" ; ", logged)  # a forged field is one more command, read like the others
    source = f"{printable(run['invoker'], 64)} through sudo: `{printable(_CRYPT_HASH.sub('$…', logged))}`"
    return [change for words in _commands(command) for change in _command_changes(words, pwd, source, run["invoker"])]


def _commands(command: str) -> Iterator[list[str]]:
    """Each command's words, from its program on: wrappers, their options and VAR=value left out."""
    words: list[str] = []
    skip_value = False
    for word in [*_WORD.findall(command), ";"]:
        if _SEPARATOR.fullmatch(word):
            if words:
                yield words
            words, skip_value = [], False
        elif words:
            words.append(word)
        elif skip_value:  # `sudo -u root usermod`: `root` is the option's value, not the program
            skip_value = False
        elif not (
            posixpath.basename(word) in _WRAPPERS
            or word.startswith("-")
            or _ASSIGNMENT.fullmatch(word)
            or _DURATION.fullmatch(word)
        ):
            words.append(word)
        else:
            skip_value = word in _WRAPPER_VALUE_OPTIONS


def _command_changes(words: list[str], pwd: str, source: str, invoker: str) -> list[Change]:
    targets, words = _redirections(words)  # `>` writes its target, whatever the program
    program, args = (posixpath.basename(words[0]), words[1:]) if words else ("", [])
    written = [path for target in targets for path in _privilege_paths(target, pwd)]
    changes = [_file_change(path, source) for path in written + _written_privilege_files(program, args, pwd)]
    options, operands = _parse(args, _SYNTAX[program]) if program in _SYNTAX else ({}, args)
    if program in _SYNTAX:
        changes += _ACCOUNT_CHANGES[program](program, options, operands, source)
    if program in _ACCOUNT_TOOLS and not changes and not _joins_ordinary_groups(program, options, operands):
        # a password, a shell, a deletion: accounts changed, no privilege granted; worth a look, not an emergency
        title = f"{printable(program, 64)} run through sudo by {printable(invoker, 64)}"
        changes.append(Change(("run", invoker, program), Severity.AMBER, title, source))
    return changes


def _joins_ordinary_groups(program: str, options: dict, operands: list[str]) -> bool:
    """`usermod -aG audio bob`, `gpasswd -a bob video`, `adduser bob plugdev`: no finding, as the
    tool's own line for it is none."""
    if program in ("adduser", "addgroup"):
        return len(operands) == 2 and not options
    return bool(operands and options) and set(options) <= _JOIN_OPTIONS.get(program, set())


def _redirections(args: list[str]) -> tuple[list[str], list[str]]:
    """(what `>`/`>>` write to, the other words); `<` reads, so its file is dropped."""
    targets, rest, words = [], [], iter(args)
    for word in words:
        if redirection := _REDIRECTION.fullmatch(word):
            target = redirection["target"] or next(words, "")
            if ">" in redirection["operator"]:
                targets.append(target)
        else:
            rest.append(word)
    return targets, rest


def _written_privilege_files(program: str, args: list[str], pwd: str) -> list[str]:
    """The privilege files this command may write. Readers (`cat`, `grep`, `sed` without -i,
    `visudo -c`) write none; a copier writes only its destination; anything else, a shell or an
    editor among them, writes every one it names."""
    if program in _EDITS_A_FILE:
        if _has_flag(args, "c", "--check"):  # visudo -c, -cf FILE: a syntax check
            return []
        named = [path for arg in args for path in _privilege_paths(arg, pwd)]
        return named or ([_EDITS_A_FILE[program]] if _EDITS_A_FILE[program] else [])
    if program in _READERS and not (program in _IN_PLACE and _has_flag(args, "i", "--in-place")):
        return []
    if program == "dd":
        args = [arg[3:] for arg in args if arg.startswith("of=")]
    elif program in _COPIERS:
        args = _destination(program, args)
    return [path for arg in args for path in _privilege_paths(arg, pwd)]


def _has_flag(args: list[str], letter: str, long_name: str) -> bool:
    """`-i`, `-i.bak`, `-ni` or `--in-place[=…]` for ("i", "--in-place"): close enough for sed, awk and visudo."""
    return any(arg.startswith(long_name) or (arg[:1] == "-" and arg[1:2] != "-" and letter in arg) for arg in args)


def _destination(program: str, args: list[str]) -> list[str]:
    """A copier's destination: `-t DIR` (cp, install, ln) or its last operand."""
    for at, arg in enumerate(args):
        if program in _TARGET_OPTION:
            if arg in ("-t", "--target-directory"):
                return args[at + 1 : at + 2]
            if arg.startswith("--target-directory="):
                return [arg.split("=", 1)[1]]
            if arg.startswith("-t"):
                return [arg[2:]]
    return [arg for arg in args if not arg.startswith("-")][-1:]


def _privilege_paths(word: str, pwd: str) -> list[str]:
    """The privilege file a word names, if any: `/etc/sudoers.d/x`, `--file=/etc/sudoers`, or
    `sudoers` run from /etc."""
    word = word.split("=", 1)[1] if word.startswith("-") and "=" in word else word
    if not word or word.startswith("-"):
        return []
    path = posixpath.normpath(posixpath.join(pwd, word))
    return [printable(path)] if path.startswith("/etc/sudoers") or path in _PRIVILEGE_FILES else []


def _parse(args: list[str], syntax: _Syntax) -> tuple[dict[str, list[str]], list[str]]:
    """getopt-like: {option: [values]} (a flag's value is "") and the operands."""
    options: dict[str, list[str]] = {}
    operands: list[str] = []
    words = iter(args)
    for word in words:
        if word == "--":
            operands += list(words)
        elif word.startswith("--"):
            name, has_value, value = word[2:].partition("=")
            if not has_value and name in syntax.long_values:
                value = next(words, "")
            options.setdefault(syntax.aliases.get(name, name), []).append(value)
        elif word.startswith("-") and len(word) > 1:
            for at, letter in enumerate(word[1:], start=2):
                takes_value = letter in syntax.short_values
                options.setdefault(letter, []).append((word[at:] or next(words, "")) if takes_value else "")
                if takes_value:
                    break
        else:
            operands.append(word)
    return options, operands


def _groups(options: dict[str, list[str]], *letters: str) -> list[str]:
    return [group for letter in letters for value in options.get(letter, []) for group in value.split(",") if group]


def _useradd(program: str, options: dict, operands: list[str], source: str) -> list[Change]:
    if not operands:  # `useradd -D`: the defaults, no account
        return []
    user = operands[-1]
    return [_new_account(user, "0" in options.get("u", []), source), *_grants(user, _groups(options, "G", "g"), source)]


def _usermod(program: str, options: dict, operands: list[str], source: str) -> list[Change]:
    if not operands:
        return []
    user = operands[-1]
    changes = [] if "r" in options else _grants(user, _groups(options, "G", "g"), source)  # -r -G removes
    return changes + ([_uid_zero(user, source)] if "0" in options.get("u", []) else [])


def _gpasswd(program: str, options: dict, operands: list[str], source: str) -> list[Change]:
    if not operands:
        return []
    users = options.get("a", []) + _groups(options, "M")  # -M's value is a list of users, split the same way
    return [change for user in users for change in _grants(user, [operands[-1]], source)]


def _adduser(program: str, options: dict, operands: list[str], source: str) -> list[Change]:
    """Debian's adduser and addgroup: `adduser USER GROUP` adds to a group; one operand creates."""
    if len(operands) >= 2:
        return _grants(operands[0], [operands[1]], source)
    if not operands:
        return []
    if program == "addgroup" or ("group" in options and "system" not in options):
        return [_new_group(operands[0], source)]
    return [
        _new_account(operands[0], "0" in options.get("uid", []), source),
        *_grants(operands[0], options.get("ingroup", []), source),
    ]


def _groupadd(program: str, options: dict, operands: list[str], source: str) -> list[Change]:
    return [_new_group(operands[-1], source)] if operands else []


_ACCOUNT_CHANGES = {
    "useradd": _useradd,
    "usermod": _usermod,
    "gpasswd": _gpasswd,
    "adduser": _adduser,
    "addgroup": _adduser,
    "groupadd": _groupadd,
}


def _grants(user: str, groups: list[str], source: str) -> list[Change]:
    return [
        Change(("grant", user, group), Severity.RED, f"user {printable(user, 64)} added to group {group}", source)
        for group in groups
        if group in PRIVILEGED_GROUPS
    ]


def _new_account(user: str, uid_zero: bool, source: str) -> Change:
    if uid_zero:
        return Change(("account", user), Severity.RED, f"new account {printable(user, 64)} with UID 0", source)
    return Change(("account", user), Severity.AMBER, f"new account {printable(user, 64)}", source)


def _new_group(group: str, source: str) -> Change:
    """A group grants nothing until someone is added to it, which is a finding of its own: a note."""
    return Change(("group", group), Severity.INFO, f"new group {printable(group, 64)}", source)


def _uid_zero(user: str, source: str) -> Change:
    return Change(("uid0", user), Severity.RED, f"user {printable(user, 64)} given UID 0", source)


def _file_change(path: str, source: str) -> Change:
    return Change(("file", path), Severity.RED, f"{path} changed through sudo", source)


# --- the night's changes, one finding each ------------------------------------------------------


@dataclass
class _Seen:
    severity: Severity
    title: str
    sources: list[tuple[datetime, str]]  # the first few, in the log's order
    count: int = 0


@dataclass
class _SudoPieces:
    stamp: datetime
    pieces: list[str]  # what each of sudo's lines logged after `user : ` (or `(command continued) `)
    size: int = 0

    def commands(self, invoker: str) -> Iterator[str]:
        """The first piece, then it joined with each next one in turn, as sudo split them: a piece
        that fills its line exactly was cut mid-word, any other one at a space."""
        joined = self.pieces[0]
        yield f"{invoker} : {joined}"
        for number, piece in enumerate(self.pieces[1:]):
            fmt = "%8s : %s" if number == 0 else "%8s : (command continued) %s"
            room = SYSLOG_MAXLEN - (len(fmt) - 5 + len(invoker.encode()))
            joined += ("" if len(self.pieces[number].encode()) == room else " ") + piece
            yield f"{invoker} : {joined}"


@dataclass
class PrivilegeLedger:
    """The window's changes by key: the sudo line and the tool's own line of one change are one.
    Bounded: a few sources per change, MAX_FINDINGS findings, so lines forged in bulk (`logger -t
    usermod`) cost a line of the briefing, not the briefing."""

    seen: dict[tuple, _Seen] = field(default_factory=dict)
    sudo_open: dict[tuple, _SudoPieces] = field(default_factory=dict)  # (pid, invoker) -> a command still being logged

    def record_sudo_line(self, pid: str | None, message: str, stamp: datetime) -> None:
        """A line sudo wrote: a command is judged once its last piece is known (the next line of the
        same sudo, or the end of the window)."""
        if continued := _SUDO_CONTINUED.fullmatch(message):
            command = self.sudo_open.setdefault(
                (pid, continued["invoker"]), _SudoPieces(stamp, ["COMMAND="])
            )  # its start was not seen
            if command.size < MAX_COMMAND_BYTES:
                command.pieces.append(continued["logged"])
                command.size += len(continued["logged"])
            return
        if logged := _SUDO_LOGGED.fullmatch(message):
            key = (pid, logged["invoker"])
            self._judge(key)
            self.sudo_open[key] = _SudoPieces(stamp, [logged["logged"]], len(logged["logged"]))

    def _judge(self, key: tuple) -> None:
        """Every change the command shows at any of its lengths, each at its worst. Anyone can write
        a "(command continued)" line (`logger -t sudo`): one appended to a real command (`-r`,
        `--help`) must not take back what its own lines showed."""
        command = self.sudo_open.pop(key, None)
        if command is None:
            return
        worst: dict[tuple, Change] = {}
        for text in command.commands(key[1]):
            for change in sudo_changes(text):
                if change.key not in worst or _RANK[change.severity] > _RANK[worst[change.key].severity]:
                    worst[change.key] = change
        self.record(list(worst.values()), command.stamp)

    def record(self, changes: list[Change], stamp: datetime) -> None:
        for change in changes:
            entry = self.seen.setdefault(change.key, _Seen(change.severity, change.title, []))
            if _RANK[change.severity] > _RANK[entry.severity]:  # `useradd -u 0` seen by sudo, UID=0 by useradd
                entry.severity, entry.title = change.severity, change.title
            entry.count += 1
            if len(entry.sources) < _SOURCES_SHOWN:
                entry.sources.append((stamp, change.source))

    def findings(self, collector: str) -> list[Finding]:
        for key in list(self.sudo_open):
            self._judge(key)
        entries = sorted(self.seen.values(), key=lambda e: (-_RANK[e.severity], e.title))
        findings = [Finding(collector, e.severity, e.title, _detail(e)) for e in entries[:MAX_FINDINGS]]
        if rest := entries[MAX_FINDINGS:]:
            findings.append(
                Finding(
                    collector,
                    rest[0].severity,
                    f"{len(rest)} more privilege changes",
                    f"e.g. {rest[0].title}; the auth log has them all",
                )
            )
        return findings


_RANK = {Severity.INFO: 0, Severity.AMBER: 1, Severity.RED: 2}


def _detail(entry: _Seen) -> str:
    shown = "; ".join(f"by {source} at {stamp.isoformat()}" for stamp, source in entry.sources)
    more = entry.count - len(entry.sources)
    return shown + (f"; and {more} more" if more > 0 else "")
