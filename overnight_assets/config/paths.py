"""What the chain writes under `home`, named in one place.

Where results can be read is a public contract (DESIGN.md): `<home>/briefings/<partition>.md`,
undelivered messages in `<home>/outbox/`, the shared memory in `<home>/cortex.duckdb`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def cortex(self) -> Path:
        """The shared memory, a DuckDB file."""
        return self.home / "cortex.duckdb"

    @property
    def briefings(self) -> Path:
        """Each night's morning message as Markdown."""
        return self.home / "briefings"

    def briefing(self, partition_key: str) -> Path:
        return self.briefings / f"{partition_key}.md"

    def weekly_report(self, week: str) -> Path:
        """The Sunday chain's report for the week starting Monday `week`, beside the briefings."""
        return self.briefings / f"weekly-{week}.md"

    @property
    def outbox(self) -> Path:
        """Messages Slack has not taken yet (or all of them, without a Slack token)."""
        return self.home / "outbox"

    @property
    def repos(self) -> Path:
        """Git mirrors of the repositories code review reads by URL."""
        return self.home / "repos"

    @property
    def assets(self) -> Path:
        """Asset values, as the JSON io manager stores them."""
        return self.home / "assets"

    @property
    def demo_inputs(self) -> Path:
        """The dated inputs `overnight demo` writes for its night."""
        return self.home / "demo-inputs"
