"""Integrity collector: sha256 of watched files (MCP configs, tool lists) against a baseline."""

import glob
import hashlib
import os
import stat

from overnight_assets.triage.findings import Finding, Severity

COLLECTOR = "integrity"
_CHUNK = 1 << 20


def hash_watched(patterns: list[str]) -> tuple[dict[str, str], list[Finding]]:
    """{path: sha256} for every regular file the patterns match (~ expanded, `**` recursive,
    hidden files included: a dotfile is as able to change behaviour as any other). A pattern
    naming a directory watches everything below it. Unreadable files are AMBER findings."""
    hashes: dict[str, str] = {}
    findings: list[Finding] = []
    for path in sorted(_expand(patterns)):
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                continue  # FIFOs and devices: opening one could block or never end
            hashes[path] = _sha256(path)
        except FileNotFoundError:
            continue  # gone since the glob (or glob's "dir/" for a missing dir): not there to watch
        except OSError as error:
            findings.append(
                Finding(
                    COLLECTOR,
                    Severity.AMBER,
                    f"cannot read watched file {path}",
                    f"{type(error).__name__}: {error.strerror or error}",
                )
            )
    return hashes, findings


def _expand(patterns: list[str]) -> set[str]:
    paths: set[str] = set()
    for pattern in patterns:
        expanded = os.path.expanduser(pattern)
        if os.path.isdir(expanded):
            expanded = os.path.join(expanded, "**")
        paths.update(glob.glob(expanded, recursive=True, include_hidden=True))
    return {path for path in paths if not os.path.isdir(path)}


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def integrity_findings(baseline: dict[str, str] | None, current: dict[str, str]) -> list[Finding]:
    """No baseline: INFO (the caller stores `current`). Otherwise a changed file is RED, an added
    or removed one AMBER, and an untouched set one INFO line."""
    if baseline is None:
        return [
            Finding(
                COLLECTOR,
                Severity.INFO,
                f"baseline recorded for {len(current)} files",
                "first run: later runs compare against these hashes",
            )
        ]
    changed = sorted(path for path in baseline.keys() & current.keys() if baseline[path] != current[path])
    findings = [
        Finding(
            COLLECTOR,
            Severity.RED,
            f"watched file changed: {path}",
            f"sha256 {baseline[path][:12]}… is now {current[path][:12]}…",
        )
        for path in changed
    ]
    findings += [
        Finding(COLLECTOR, Severity.AMBER, f"new watched file: {path}", f"sha256 {current[path][:12]}…")
        for path in sorted(current.keys() - baseline.keys())
    ]
    findings += [
        Finding(COLLECTOR, Severity.AMBER, f"watched file removed: {path}", "in the baseline, gone now")
        for path in sorted(baseline.keys() - current.keys())
    ]
    if not findings:
        findings.append(Finding(COLLECTOR, Severity.INFO, f"{len(current)} watched files unchanged"))
    return findings
