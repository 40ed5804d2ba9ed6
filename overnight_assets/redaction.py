"""Secret-shaped strings in text read from outside: found by kind, and redacted to their kind.

Any text the program takes from somewhere it does not control (a repository's commits, branch
names and diffs; log lines; feed text) goes through `redact_secrets` where it enters the program,
once, so that no later path (briefing, Slack, metadata, logs, the LLM, Cortex) can forget it. A
redaction keeps the kind and hides the value: `AKIA...` becomes `[redacted AWS access key id]`,
`DB_PASSWORD=hunter22` becomes `DB_PASSWORD=[redacted password]`.

Redaction never changes the lines of a text as `str.splitlines` counts them: a private-key block
becomes one placeholder per line, keeping a diff's `+`, `-` or ` ` marker and the indentation, so a
redacted diff keeps its line numbers. Redacting redacted text changes nothing.

Generic assignments (`password=`, `token:`, `secret=`, `api_key:`, also with a prefix such as
`DB_PASSWORD` or `"token":`) count when the value is quoted, or when an unquoted value looks like a
credential: 6+ characters with a digit or a symbol, or 16+ characters, and not only digits. So
`token: expired` in a commit subject is prose, and `max_token=100000` a number. Placeholders
(`${VAR}`, `{{ secrets.X }}`, `<your token>`, `***`), calls and indexes (`token = get_token()`) and
values that name the key again (`password = args.password`, a quoted "Enter your password") are not
values either.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# what str.splitlines breaks on: no single-line pattern may match across one
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
PRIVATE_KEY = "private key block"
KEY_BLOCK_START = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
KEY_BLOCK_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
# the part of a line inside a key block that is kept: a diff marker (not the dashes of -----END) and indentation
_KEY_LINE_PREFIX = re.compile(r"(?:[+ ]|-(?!----))?[ \t]*")

_KEYWORD = r"(?P<keyword>passw(?:or)?d|passphrase|secret(?:[_-]?(?:access[_-]?)?key)?|token|api[_-]?key)"
_GENERIC = re.compile(
    r"(?=[psta])"  # a first-letter test lets the engine skip most positions at once (about twice as fast)
    + _KEYWORD
    + r"""\\?["']?[ \t]*(?:=>|[:=](?![=:]))[ \t]*"""
    + rf"""(?:[rbfu]{{0,2}}(?:"(?P<dq>[^"{LINE_BREAKS}]+)"|'(?P<sq>[^'{LINE_BREAKS}]+)')"""
    # an opening quote without its closing one (a cut line, git trimming an email) still has a value
    + r"""|(?:\\?["'`])?(?P<bare>[^\s"'`,;(){}\[\]<>&]++)(?![(\[]))""",
    re.IGNORECASE,
)
_NAMES_A_KEY = re.compile(r"passw|secret|token|api[_-]?key", re.IGNORECASE)
_PLACEHOLDER_START = ("$", "{", "<", "%", "*", "[redacted ")
_SYMBOLS = set("!#$%^*+=~?@|\\")


@dataclass(frozen=True)
class SecretKind:
    kind: str
    pattern: re.Pattern[str]
    needles: tuple[str, ...]  # the pattern can only match where one of these occurs: a cheap first test
    lowered: bool = False  # the needles are lower case, looked for in the lower-cased text


SECRET_KINDS = (
    SecretKind("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), ("AKIA", "ASIA")),
    SecretKind(
        "AWS secret access key",
        re.compile(
            r"""secret_?access_?key["']?[ \t]*[:=][ \t]*["']?(?P<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])""",
            re.IGNORECASE,
        ),
        ("access_key", "accesskey"),
        lowered=True,
    ),
    SecretKind(
        "GitHub token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    SecretKind("Slack token", re.compile(r"\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,}"), ("xox", "xapp-")),
    SecretKind("Slack webhook", re.compile(r"hooks\.slack\.com/services/[A-Za-z0-9/_-]+"), ("hooks.slack.com",)),
    SecretKind("Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), ("AIza",)),
    SecretKind("Google OAuth token", re.compile(r"\bya29\.[0-9A-Za-z_\-]{20,}"), ("ya29.",)),
    SecretKind(
        "password in a URL", re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]*:(?P<value>[^\s/@]+)(?=@)"), ("://",)
    ),
    SecretKind("generic", _GENERIC, ("passw", "secret", "token", "api_key", "api-key", "apikey"), lowered=True),
)
KINDS = (PRIVATE_KEY, *(k.kind for k in SECRET_KINDS[:-1]), "password", "secret", "token", "API key")


def redact_secrets(text: str) -> str:
    """The text with every secret's value replaced by `[redacted <kind>]`."""
    return scan_secrets(text)[0]


def find_secrets(text: str) -> list[str]:
    """The kinds of secret in the text, each once, e.g. ['AWS access key id', 'password']."""
    return scan_secrets(text)[1]


def scan_secrets(text: str) -> tuple[str, list[str]]:
    """The redacted text and the kinds found in it: one pass for both, where text enters."""
    found: list[str] = []
    if not text:
        return text, found
    if "PRIVATE KEY" in text:
        text = _redact_key_blocks(text, found)
    lowered = None
    for secret in SECRET_KINDS:
        if secret.lowered and lowered is None:
            lowered = text.lower()
        if any(needle in (lowered if secret.lowered else text) for needle in secret.needles):
            text = secret.pattern.sub(_replacer(secret.kind, found), text)
    return text, found


def placeholder(kind: str) -> str:
    return f"[redacted {kind}]"


def _replacer(kind: str, found: list[str]) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        named = _generic_kind(match) if kind == "generic" else kind
        if named is None:
            return match.group(0)
        if named not in found:
            found.append(named)
        group = next(
            (g for g in ("value", "dq", "sq", "bare") if g in match.re.groupindex and match.group(g) is not None), None
        )
        if group is None:
            return placeholder(named)
        start, end = match.span(group)
        whole = match.group(0)
        return whole[: start - match.start()] + placeholder(named) + whole[end - match.start() :]

    return replace


def _generic_kind(match: re.Match[str]) -> str | None:
    """The kind a `key=value` assignment holds, or None when its value is not a credential."""
    bare = match.group("bare")
    if bare is not None and not _looks_like_credential(bare):
        return None
    value = bare or match.group("dq") or match.group("sq")
    if value.startswith(_PLACEHOLDER_START) or (len(value) > 2 and len(set(value)) == 1):
        return None  # ${VAR}, <your token>, xxxx
    if bare is None and _NAMES_A_KEY.search(value) and not any(c.isdigit() for c in value):
        return None  # a label such as "Enter your password"
    keyword = match.group("keyword").lower()
    if keyword.startswith("pass"):
        return "password"
    if keyword.startswith("api"):
        return "API key"
    return "token" if keyword == "token" else "secret"


def _looks_like_credential(value: str) -> bool:
    if (
        len(value) < 6
        or _NAMES_A_KEY.search(value)
        or value.isdigit()
        or "://" in value
        or value.startswith(("/", "./", "~/"))
    ):
        return False  # a reference (args.password), a number, a URL or a path
    has_mark = any(c.isdigit() or c in _SYMBOLS for c in value)
    return (len(value) >= 6 and has_mark) or len(value) >= 16


def _redact_key_blocks(text: str, found: list[str]) -> str:
    """Every line of a private-key block becomes a placeholder; a block without its END runs to the end."""
    lines, in_key = [], False
    for line in text.splitlines(keepends=True):
        content = line.rstrip(LINE_BREAKS)
        pieces, position = [], 0
        if in_key:
            prefix = _KEY_LINE_PREFIX.match(content).group()
            pieces.append(prefix + placeholder(PRIVATE_KEY))
            position, in_key = _after_key_end(content, len(prefix))
        while not in_key:
            begin = KEY_BLOCK_START.search(content, position)
            if begin is None:
                pieces.append(content[position:])
                break
            if PRIVATE_KEY not in found:
                found.append(PRIVATE_KEY)
            pieces += [content[position : begin.start()], placeholder(PRIVATE_KEY)]
            position, in_key = _after_key_end(content, begin.end())
        lines.append("".join(pieces) + line[len(content) :])
    return "".join(lines)


def _after_key_end(content: str, start: int) -> tuple[int, bool]:
    """Where the text after the block's END starts on this line, and whether the block goes on."""
    end = KEY_BLOCK_END.search(content, start)
    return (end.end(), False) if end else (len(content), True)
