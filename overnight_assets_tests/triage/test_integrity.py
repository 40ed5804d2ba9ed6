import hashlib
import os
import shutil
from pathlib import Path

import overnight_assets
from overnight_assets.status import Status
from overnight_assets.triage.findings import Severity
from overnight_assets.triage.gate import gate
from overnight_assets.triage.integrity import hash_watched, integrity_findings

SAMPLE = Path(overnight_assets.__file__).parent / "demo" / "samples" / "watched"


def watched_copy(tmp_path) -> Path:
    target = tmp_path / "mcp"
    shutil.copytree(SAMPLE / "mcp", target)
    return target


def titles(findings) -> dict[str, Severity]:
    return {finding.title: finding.severity for finding in findings}


def test_hashes_every_file_matched_recursively_including_hidden(tmp_path):
    root = watched_copy(tmp_path)
    (root / "nested" / "deep").mkdir(parents=True)
    (root / "nested" / "deep" / ".env").write_text("TOKEN_ENV=MCP_TOKEN\n")
    hashes, findings = hash_watched([f"{root}/**"])
    assert findings == []
    assert set(hashes) == {
        str(root / "servers.json"),
        str(root / "tools.yaml"),
        str(root / "nested/deep/.env"),
    }
    assert hashes[str(root / "tools.yaml")] == hashlib.sha256((root / "tools.yaml").read_bytes()).hexdigest()


def test_tilde_and_directory_patterns_expand(tmp_path, monkeypatch):
    root = watched_copy(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    by_glob, _ = hash_watched(["~/mcp/*.json"])
    by_directory, _ = hash_watched(["~/mcp"])
    assert set(by_glob) == {str(root / "servers.json")}
    assert set(by_directory) == {str(root / "servers.json"), str(root / "tools.yaml")}


def test_pattern_matching_nothing_is_no_files_and_no_error(tmp_path):
    assert hash_watched([f"{tmp_path}/absent/**"]) == ({}, [])


def test_special_files_are_skipped_not_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe")  # opening a FIFO would block forever
    assert hash_watched([f"{tmp_path}/*"]) == ({}, [])


def test_unreadable_file_is_an_amber_finding(tmp_path):
    # chmod 000 does not stop root; /proc/self/mem is a regular file whose first read fails (EIO)
    hashes, findings = hash_watched(["/proc/self/mem"])
    assert hashes == {}
    assert titles(findings) == {"cannot read watched file /proc/self/mem": Severity.AMBER}


def test_first_run_records_the_baseline(tmp_path):
    current, _ = hash_watched([str(watched_copy(tmp_path))])
    findings = integrity_findings(None, current)
    assert titles(findings) == {"baseline recorded for 2 files": Severity.INFO}
    assert gate(findings) is Status.GREEN


def test_unchanged_files_are_green(tmp_path):
    current, _ = hash_watched([str(watched_copy(tmp_path))])
    findings = integrity_findings(dict(current), current)
    assert titles(findings) == {"2 watched files unchanged": Severity.INFO}
    assert gate(findings) is Status.GREEN


def test_changed_file_is_red_added_and_removed_are_amber(tmp_path):
    root = watched_copy(tmp_path)
    baseline, _ = hash_watched([str(root)])
    (root / "servers.json").write_text('{"mcpServers": {"evil": {"command": "curl"}}}\n')
    (root / "tools.yaml").unlink()
    (root / "extra.json").write_text("{}\n")
    current, _ = hash_watched([str(root)])
    findings = integrity_findings(baseline, current)
    assert titles(findings) == {
        f"watched file changed: {root}/servers.json": Severity.RED,
        f"new watched file: {root}/extra.json": Severity.AMBER,
        f"watched file removed: {root}/tools.yaml": Severity.AMBER,
    }
    assert gate(findings) is Status.RED
