"""Importing the code location in a fresh interpreter: what every run worker, sensor tick and
`dagster` command pays before doing anything.

For RUNS fresh processes each (median): the time around `import overnight_assets.definitions`
(on the bundled demo config), and the whole process's wall time (start, import, interpreter
exit); `import dagster` alone for reference. When the location is over target (or with
--profile), one `python -X importtime` run attributes the cost: for each of our modules, the
outside packages it is the first to import.

Target: the code location imports in at most 1.5 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 5
TARGET_S = 1.5
OURS = "overnight_assets"
REPO = Path(__file__).resolve().parents[1]


def fresh_import(module: str, env: dict, cwd: str) -> tuple[float, float]:
    """(seconds around the import statement, seconds of the whole process) in a new interpreter."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, check=True, capture_output=True, text=True)
    return float(done.stdout.split()[-1]), time.perf_counter() - started


def importtime_tree(env: dict, cwd: str) -> list[tuple[str, int, int, list]]:
    """`-X importtime` as a tree: (module, self µs, cumulative µs, children), roots in import order."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {OURS}.definitions"],
        env=env,
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    pending: dict[int, list] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        depth = (len(name) - len(name.lstrip())) // 2
        node = (name.strip(), int(self_us), int(cumulative_us), pending.pop(depth + 1, []))
        pending.setdefault(depth, []).append(node)
    return pending.get(0, [])


def costly_imports(tree: list, limit: int = 12) -> list[tuple[int, str, str]]:
    """(cumulative µs, our module, outside package) for packages our modules are first to import."""
    found: list[tuple[int, str, str]] = []

    def walk(nodes, parent_ours: str | None):
        for name, self_us, cumulative_us, children in nodes:
            if name.startswith(OURS):
                found.append((self_us, name, "(its own code)"))
                walk(children, name)
            elif parent_ours:
                found.append((cumulative_us, parent_ours, name))
            else:
                walk(children, None)

    walk(tree, None)
    return sorted(found, reverse=True)[:limit]


def main(profile: bool = False) -> None:
    from _report import figure, report

    with tempfile.TemporaryDirectory(prefix="overnight-bench-") as tmp:
        env = {
            **os.environ,
            "DAGSTER_HOME": tmp,
            "OVERNIGHT_HOME": str(Path(tmp) / "home"),
            "OVERNIGHT_CONFIG": str(REPO / OURS / "demo" / "overnight.yaml"),
        }
        env.pop("OLLAMA_HOST", None)
        fresh_import(f"{OURS}.definitions", env, tmp)  # warm the OS file cache and .pyc files
        medians = {}
        for module in (f"{OURS}.definitions", "dagster"):
            runs = [fresh_import(module, env, tmp) for _ in range(RUNS)]
            medians[module] = [statistics.median(column) for column in zip(*runs, strict=True)]
            print(
                f"  {module:<30} import "
                + " ".join(f"{i:.2f}" for i, _ in runs)
                + " s;  process "
                + " ".join(f"{w:.2f}" for _, w in runs)
                + " s"
            )
        (location, location_wall), (dagster, dagster_wall) = medians.values()
        if profile or location > TARGET_S:
            print("\n  -X importtime: what our modules are first to import (cumulative ms)")
            for micros, ours, package in costly_imports(importtime_tree(env, tmp)):
                print(f"  {micros / 1000:8.1f}  {ours:<45} {package}")
            print()

    report(
        "import_location",
        [
            figure("import overnight_assets.definitions", location, "s", f"<= {TARGET_S} s", location <= TARGET_S),
            figure("  whole process (start, import, exit)", location_wall, "s"),
            figure("import dagster (reference)", dagster, "s"),
            figure("  whole process (start, import, exit)", dagster_wall, "s"),
            figure("ours on top of dagster (import)", location - dagster, "s"),
        ],
    )


if __name__ == "__main__":
    main(profile="--profile" in sys.argv)
