"""New commits between two looks at the configured repositories: the sensor's plain logic.

The sensor keeps the tip of every branch of every repository in its cursor; a tip that moved, or
a branch that appeared, means commits to review. A repository that cannot be read is reported
and keeps its previous tips, so it is compared afresh once it is back.
"""

from __future__ import annotations

import json
from pathlib import Path

from overnight_assets.code_review.night import open_repository
from overnight_assets.config import Repo as RepoConfig

Tips = dict[str, dict[str, str]]  # repository -> branch -> sha


def branch_tips(repos: list[RepoConfig], cache_dir: Path) -> tuple[Tips, dict[str, str]]:
    """The current tips, and why any repository could not be read."""
    tips, errors = {}, {}
    for repo in repos:
        try:
            tips[repo.name] = open_repository(repo, cache_dir).branches()
        except Exception as error:  # reported by the sensor; the other repositories still count
            errors[repo.name] = str(error)[:300]
    return tips, errors


def moved_branches(previous: Tips, current: Tips) -> list[str]:
    """'repo/branch' for every branch whose tip is new or moved since the previous look."""
    return [
        f"{repo}/{branch}"
        for repo, branches in sorted(current.items())
        for branch, sha in sorted(branches.items())
        if previous.get(repo, {}).get(branch) != sha
    ]


def merged_cursor(previous: Tips, current: Tips) -> Tips:
    """Current tips; a repository that could not be read keeps its previous ones."""
    return {**previous, **current}


def load_cursor(text: str | None) -> Tips | None:
    return json.loads(text) if text else None


def dump_cursor(tips: Tips) -> str:
    return json.dumps(tips, sort_keys=True)
