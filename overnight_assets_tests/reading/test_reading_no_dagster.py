"""The reading logic is plain Python: only assets.py wraps it for Dagster."""

import subprocess
import sys
from pathlib import Path

import overnight_assets.reading

LOGIC_MODULES = sorted(
    p.stem for p in Path(overnight_assets.reading.__file__).parent.glob("*.py") if p.stem not in {"__init__", "assets"}
)


def test_importing_and_using_the_logic_loads_no_dagster():
    assert {"fetch", "parse", "items", "score", "judge", "store", "papers", "reading_list", "sections"} <= set(
        LOGIC_MODULES
    )
    modules = ", ".join(f"overnight_assets.reading.{name}" for name in LOGIC_MODULES)
    code = (
        f"import sys, {modules}\n"
        "from zoneinfo import ZoneInfo\n"
        "overnight_assets.reading.parse.parse_feed('x', b'<rss version=\"2.0\"><channel><item><title>t</title>"
        "<link>http://e.example/</link></item></channel></rss>', '', ZoneInfo('UTC'))\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster'))\n"
        "print(loaded)\nsys.exit(1 if loaded else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
