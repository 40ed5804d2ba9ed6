"""The reading assets run for a night on a real instance, the reading list they read, and what they wrote."""

import json

import dagster as dg

from overnight_assets_tests.testkit.feeds import Entry, at
from overnight_assets_tests.testkit.nights import NIGHT  # Europe/Bucharest: 2026-11-19 22:00 to 2026-11-20 22:00 UTC

INTERESTS = [
    {"topic": "local LLM inference", "weight": 1.0, "keywords": ["ollama", "gguf", "quantization"]},
    {"topic": "homelab", "weight": 0.5, "keywords": ["proxmox", "zfs"]},
]


def source(name, server, path, kind="feed"):
    """A reading list's source served by the FeedServer at path."""
    return {"name": name, "kind": kind, "url": server.url(path)}


def many_entries(count: int, day: str = NIGHT) -> list[Entry]:
    return [
        Entry(
            f"Item {n} of {day} about {'ollama' if n % 3 else 'zfs'}",
            f"https://many.example/{day}/{n}",
            f"text {n}",
            at(day, f"{n % 20 + 1:02d}:{n % 60:02d}"),
        )
        for n in range(count)
    ]


def run_reading(config, instance, partition: str = NIGHT, assets=("article_digest", "arxiv_finds")):
    from overnight_assets.definitions import build_defs

    job = dg.define_asset_job("reading_test", selection=list(assets))
    defs = dg.Definitions.merge(build_defs(config), dg.Definitions(jobs=[job]))
    result = defs.resolve_job_def("reading_test").execute_in_process(partition_key=partition, instance=instance)
    assert result.success
    return result


def section(config, asset: str, partition: str = NIGHT) -> dict:
    return json.loads((config.paths.assets / asset / f"{partition}.json").read_text())
