"""The house rules of DESIGN.md's layout, checked on every module of the package.

Floors: the top floor (definitions.py, cli.py, launch.py, serve_launch.py) puts the house together and may import
anything; the ground floor (the other top-level modules) and resources/ hold what every domain
shares; each other subpackage is a room (a domain, or the demo) that may import the ground floor
and resources/ but no other room, and nothing below the top floor imports a room.

A domain's logic modules are plain Python: only its Dagster wrappers import dagster. Domains and
modules are discovered, so a new domain or module is covered without touching this file.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import overnight_assets

PACKAGE = Path(overnight_assets.__file__).parent
TOP_FLOOR = {"definitions.py", "cli.py", "launch.py", "serve_launch.py"}
RESOURCES = "resources"
GROUND_PACKAGES = {"config"}  # the ground floor grown into a package of its own
ROOMS = sorted(
    p.name
    for p in PACKAGE.iterdir()
    if (p / "__init__.py").exists() and p.name != RESOURCES and p.name not in GROUND_PACKAGES
)
DOMAINS = [room for room in ROOMS if room != "demo"]  # the demo's inputs are no domain: no assets there
DAGSTER_WRAPPERS = {"assets.py", "sensors.py", "checks.py"}  # in any domain
NAMED_WRAPPERS = {
    # an executor is a Dagster class through and through: its plain logic lives in run_workers.py
    "operations/executor.py",
    "operations/celery_executor.py",
}
# one call into each domain's logic, run after importing every logic module of every domain
LOGIC_CALLS = {
    "briefing": "from overnight_assets.briefing import failures, slack_format\n"
    "from overnight_assets.status import Status\n"
    "stand_in = failures.stand_in(failures.SectionFailure('security_triage', 'FAILED', 'boom', 'http://ui/runs/1'), None)\n"
    "slack_format.plain_text('2026-11-20', Status.RED, 'A failed night.', [stand_in])",
    "code_review": "from overnight_assets.code_review import diffs, code_reviews\n"
    "code_reviews.reviews_section([], [], 'not needed'); diffs.parse_log(b'')",
    "memory": "from overnight_assets.memory import cerebellum, similarity\ncerebellum.Settings()\n"
    "similarity.decide_pairs([(similarity.Record('SR-2023-052'), similarity.Record('SR-2023-053'))])",
    "operations": "from overnight_assets.operations import run_workers\nrun_workers.waiting_message('gpu', [])",
    "reading": "from zoneinfo import ZoneInfo\nfrom overnight_assets.reading import parse\n"
    "parse.parse_feed('x', b'<rss version=\"2.0\"><channel><item><title>t</title>"
    "<link>http://e.example/</link></item></channel></rss>', '', ZoneInfo('UTC'))",
    "weekly": "from overnight_assets.weekly import habits, watch, weeks\n"
    'watch.parse_pypi(b\'{"info": {}, "releases": {"1.0": []}}\'); habits.step(3); weeks.Week.of_key(\'2026-11-18\')',
    "triage": "from overnight_assets.triage import gate\nfindings, outcomes = gate.run_collectors({'quiet': list})\n"
    "gate.gate(findings, outcomes)",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, imported dotted name, the statement) for every import in the file, function-local and
    TYPE_CHECKING ones too: `from a import b` names both a and a.b (b may be a module)."""
    package = module_name(path).split(".") if path.name == "__init__.py" else module_name(path).split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ast.unparse(node)) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            anchor = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.append((node.lineno, base, ast.unparse(node)))
            found += [(node.lineno, f"{base}.{alias.name}", ast.unparse(node)) for alias in node.names]
    return found


def where(path: Path) -> str:
    """The module's floor: top, ground, resources, or the room (domain or demo) it is in."""
    parts = path.relative_to(PACKAGE).parts
    if len(parts) == 1:
        return "top" if parts[0] in TOP_FLOOR else "ground"
    return "ground" if parts[0] in GROUND_PACKAGES else parts[0]


def room_of(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if parts[0] == PACKAGE.name and len(parts) > 1 and parts[1] in ROOMS else None


def package_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def is_wrapper(path: Path) -> bool:
    return path.name in DAGSTER_WRAPPERS or path.relative_to(PACKAGE).as_posix() in NAMED_WRAPPERS


def logic_modules(domain: str) -> list[Path]:
    return [path for path in sorted((PACKAGE / domain).rglob("*.py")) if not is_wrapper(path)]


def shown(path: Path, line: int, statement: str) -> str:
    return f"{path.relative_to(PACKAGE.parent)}:{line}: {statement}"


def import_direction_breaks(paths: list[Path]) -> list[str]:
    breaks = set()
    for path in paths:
        floor = where(path)
        if floor == "top":
            continue
        for line, dotted, statement in imports(path):
            room = room_of(dotted)
            if room is None or room == floor:
                continue
            importer = {"ground": "the ground floor", RESOURCES: "resources/"}.get(floor, f"{floor}/")
            breaks.add(f"{shown(path, line, statement)} ({importer} may not import {room}/)")
    return sorted(breaks)


def dagster_imports(paths: list[Path]) -> list[str]:
    return sorted(
        {
            shown(path, line, statement)
            for path in paths
            for line, dotted, statement in imports(path)
            if dotted.split(".")[0].startswith("dagster")
        }
    )


def test_the_domains_are_discovered():
    assert {"triage", "reading", "code_review", "briefing", "operations"} <= set(DOMAINS)
    assert {"gate.py", "docker.py", "auth_log.py"} <= {path.name for path in logic_modules("triage")}
    assert {"parse.py", "store.py", "sections.py"} <= {path.name for path in logic_modules("reading")}
    assert "run_workers.py" in {path.name for path in logic_modules("operations")}
    missing = [name for name in NAMED_WRAPPERS if not (PACKAGE / name).exists()]
    assert missing == [], f"named Dagster wrappers that no longer exist: {missing}"


def test_no_floor_below_the_top_imports_a_room_and_no_room_imports_another():
    """DESIGN.md: domains meet through the section contract and Cortex, never by importing each other."""
    breaks = import_direction_breaks(package_modules())
    assert breaks == [], "imports against the house's direction:\n" + "\n".join(breaks)


@pytest.mark.parametrize("domain", DOMAINS)
def test_a_domains_logic_modules_do_not_import_dagster(domain):
    found = dagster_imports(logic_modules(domain))
    assert found == [], (
        f"logic modules of {domain}/ import dagster (only {', '.join(sorted(DAGSTER_WRAPPERS))} wrap the logic):\n"
        + "\n".join(found)
    )


def test_importing_and_using_every_domains_logic_loads_no_dagster():
    missing = sorted(set(DOMAINS) - set(LOGIC_CALLS))
    assert missing == [], f"add a call into the logic of {missing} to LOGIC_CALLS"
    modules = [module_name(path) for domain in DOMAINS for path in logic_modules(domain)]
    script = (
        "import importlib, json, sys\n"
        "def dagster_loaded():\n"
        "    return sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster'))\n"
        f"for module in {modules!r}:\n"
        "    importlib.import_module(module)\n"
        "    if dagster_loaded():\n"
        "        sys.exit(json.dumps({'importing': module, 'loaded': dagster_loaded()[:5]}))\n"
        f"for domain, call in {LOGIC_CALLS!r}.items():\n"
        "    exec(call, {})\n"
        "    if dagster_loaded():\n"
        "        sys.exit(json.dumps({'calling the logic of': domain, 'loaded': dagster_loaded()[:5]}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
