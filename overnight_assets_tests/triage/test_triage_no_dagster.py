"""The triage logic is plain Python: only the domain's assets/sensors/checks modules wrap it."""

import ast
import subprocess
import sys
from pathlib import Path

import overnight_assets.triage

TRIAGE = Path(overnight_assets.triage.__file__).parent
DAGSTER_WRAPPERS = {"assets.py", "sensors.py", "checks.py"}
LOGIC_MODULES = sorted(path for path in TRIAGE.glob("*.py") if path.name not in DAGSTER_WRAPPERS)


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_logic_modules_do_not_import_dagster():
    assert {"gate.py", "docker.py", "auth_log.py", "ports.py"} <= {path.name for path in LOGIC_MODULES}
    offenders = [
        path.name for path in LOGIC_MODULES if any(root.startswith("dagster") for root in imported_roots(path))
    ]
    assert offenders == []


def test_importing_the_logic_does_not_load_dagster():
    modules = ", ".join(f"overnight_assets.triage.{path.stem}" for path in LOGIC_MODULES if path.stem != "__init__")
    code = (
        f"import sys, {modules}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster'))\n"
        "print(loaded)\nsys.exit(1 if loaded else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
