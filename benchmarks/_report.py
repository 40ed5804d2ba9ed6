"""A benchmark's figures: printed as a small table, then as one JSON line that run_all.py collects."""

from __future__ import annotations

import json

MARK = "BENCH-JSON "


def figure(name: str, value: float, unit: str, target: str = "", ok: bool | None = None) -> dict:
    """One number; `ok` is None for a reference figure that has no target."""
    return {"name": name, "value": value, "unit": unit, "target": target, "ok": ok}


def format_row(benchmark: str, fig: dict) -> str:
    verdict = {True: "ok", False: "MISSED", None: ""}[fig["ok"]]
    value = f"{fig['value']:.3f}" if isinstance(fig["value"], float) else str(fig["value"])
    return f"{benchmark:<20} {fig['name']:<44} {value:>10} {fig['unit']:<6} {fig['target']:<14} {verdict}"


def header() -> str:
    return f"{'benchmark':<20} {'figure':<44} {'value':>10} {'unit':<6} {'target':<14} verdict"


def report(benchmark: str, figures: list[dict]) -> None:
    print(header())
    for fig in figures:
        print(format_row(benchmark, fig))
    print(MARK + json.dumps({"benchmark": benchmark, "figures": figures}), flush=True)
