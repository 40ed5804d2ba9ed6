"""An overnight.yaml for a test night: the demo's host inputs, the loopback LLM and Slack."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_config(tmp_path: Path, host: Path, llm_url: str, slack_url: str | None = None, **overrides) -> Path:
    config = {
        "timezone": "Europe/Bucharest",
        "home": str(tmp_path / "home"),
        "llm": {"host": llm_url, "timeout_s": 5},
        "slack": {"channel": "#overnight", "token_env": "OVERNIGHT_TEST_SLACK_TOKEN", "base_url": slack_url},
        "triage": {
            "docker": None,
            "auth_log": {"path": str(host / "auth.log")},
            "ports": {"proc_net": str(host / "proc_net"), "allowed": ["tcp/22", "tcp/443"]},
            "integrity": {"paths": [str(host / "watched" / "**")]},
            "disk": {"paths": [str(host)], "amber_pct": 99.8, "red_pct": 99.9},
            "dagster_runs": {"lookback_hours": 24},
        },
    }
    for dotted, value in overrides.items():
        node = config
        *parents, last = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    path = tmp_path / "overnight.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
