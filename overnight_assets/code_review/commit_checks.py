"""Deterministic checks on a commit, before any model reads it.

Secrets (in any text of the commit: message, author, file names, added lines; the kinds are those of
overnight_assets.redaction, found where the log was parsed), files over a size, merge-conflict
markers, debug leftovers, and for Python files syntax errors and unused imports. A secret is never
repeated in a finding: only its kind and where it is.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from overnight_assets.code_review.diffs import Commit, FileDiff
from overnight_assets.code_review.python_checks import python_findings
from overnight_assets.redaction import redact_secrets

CONFLICT_MARKER = re.compile(r"^(?:<{7}|>{7})(?: |$)|^={7}$")
DEBUG_LEFTOVERS = {
    ".py": re.compile(r"\bbreakpoint\(\)|\bpdb\.set_trace\(\)|^\s*import i?pdb\b"),
    ".js": re.compile(r"\bconsole\.log\(|^\s*debugger;?\s*$"),
    ".ts": re.compile(r"\bconsole\.log\(|^\s*debugger;?\s*$"),
    ".go": re.compile(r"\bfmt\.Print(?:ln|f)?\(\"DEBUG"),
}


@dataclass(frozen=True)
class CodeFinding:
    severity: str  # error | warning | info
    check: str
    file: str
    line: int | None
    message: str

    def to_dict(self) -> dict:
        return asdict(self)

    def line_text(self, severity: str | None = None) -> str:
        return located(severity or self.severity, self.file, self.line, self.message)


def located(severity: str, file: str, line: int | None, text: str) -> str:
    """One finding or review comment as a line: 'warning app.py:3 text' ('error text' without a file)."""
    return f"{severity} {file}:{line or '-'} {text}" if file else f"{severity} {text}"


def commit_findings(
    commit: Commit, blob_sizes: dict[str, int], python_sources: dict[str, bytes], large_file_bytes: int
) -> list[CodeFinding]:
    findings = _message_findings(commit)
    for file_diff in commit.files:
        findings += _secret_findings(file_diff)  # also in lock files and vendored code: a key is a key
        findings += _size_findings(file_diff, blob_sizes, large_file_bytes)
        if file_diff.binary:
            continue
        if file_diff.skip_reason:
            continue
        findings += _line_findings(file_diff)
        if file_diff.path.endswith(".py") and file_diff.new_blob in python_sources:
            added = {number for number, _ in file_diff.added}
            findings += [  # the source is read as committed: a name or message quoted from it is redacted
                CodeFinding(severity, check, file_diff.path, line, redact_secrets(message))
                for line, severity, check, message in python_findings(
                    file_diff.path, python_sources[file_diff.new_blob], added
                )
            ]
    return findings


def _message_findings(commit: Commit) -> list[CodeFinding]:
    return [
        CodeFinding("error", "secret", "", None, f"secret in the {where} of {commit.sha[:8]}: {kind} (value withheld)")
        for where, kind in commit.secrets
    ]


def _secret_findings(file_diff: FileDiff) -> list[CodeFinding]:
    return [
        CodeFinding(
            "error",
            "secret",
            file_diff.path,
            number,
            f"{kind} committed (value withheld)" if number else f"{kind} in the file name (value withheld)",
        )
        for number, kind in file_diff.secrets
    ]


def _size_findings(file_diff: FileDiff, blob_sizes: dict[str, int], limit: int) -> list[CodeFinding]:
    size = blob_sizes.get(file_diff.new_blob or "", 0)
    if size <= limit:
        return []
    return [CodeFinding("warning", "large file", file_diff.path, None, f"file of {size / 1024:.0f} KiB committed")]


def _line_findings(file_diff: FileDiff) -> list[CodeFinding]:
    debug = next((pattern for suffix, pattern in DEBUG_LEFTOVERS.items() if file_diff.path.endswith(suffix)), None)
    findings = []
    for number, text in file_diff.added:
        if CONFLICT_MARKER.match(text):
            findings.append(
                CodeFinding("error", "conflict marker", file_diff.path, number, "merge-conflict marker left in")
            )
        elif debug and debug.search(text):
            findings.append(
                CodeFinding("warning", "debug leftover", file_diff.path, number, f"debug leftover: {text.strip()[:80]}")
            )
    return findings


def python_blobs_needed(commit: Commit) -> list[str]:
    return [f.new_blob for f in commit.files if f.path.endswith(".py") and f.new_blob and not f.skip_reason]
