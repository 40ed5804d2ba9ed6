"""Git history written in one `git fast-import` process: the demo's repository and the benchmarks'.

Commits are described (branch, author, time, message, files) and written without a working tree,
so the same description gives the same shas every time.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass
class History:
    _stream: list[bytes] = field(default_factory=list)
    _tips: dict[str, int] = field(default_factory=dict)  # branch -> mark of its last commit
    _marks: int = 0

    def commit(
        self,
        branch: str,
        author: str,
        when: datetime,
        message: str,
        files: dict[str, str],
        start: str | None = None,
        merge: str | None = None,
    ) -> int:
        """Add a commit on `branch` (new branches start from `start`'s tip); returns its mark."""
        self._marks += 1
        name, email = author, f"{author.lower().replace(' ', '.')}@homelab.lan"
        stamp = f"{int(when.timestamp())} +0000"
        header = f"commit refs/heads/{branch}\nmark :{self._marks}\nauthor {name} <{email}> {stamp}\ncommitter {name} <{email}> {stamp}\n"
        parts = [header.encode(), _data(message)]
        parent = self._tips.get(branch) or (self._tips.get(start) if start else None)
        if parent:
            parts.append(f"from :{parent}\n".encode())
        if merge:
            parts.append(f"merge :{self._tips[merge]}\n".encode())
        for path, text in files.items():
            parts += [f"M 100644 inline {path}\n".encode(), _data(text)]
        self._stream += parts
        self._tips[branch] = self._marks
        return self._marks

    def write(self, folder: Path, head: str = "main") -> Path:
        """A new repository at `folder` holding this history, its HEAD on `head`."""
        subprocess.run(["git", "init", "-q", "-b", head, str(folder)], check=True, capture_output=True)
        subprocess.run(
            ["git", "fast-import", "--quiet"], cwd=folder, input=b"".join(self._stream), check=True, capture_output=True
        )
        return folder


def _data(text: str) -> bytes:
    raw = text.encode("utf-8")
    return f"data {len(raw)}\n".encode() + raw + b"\n"
