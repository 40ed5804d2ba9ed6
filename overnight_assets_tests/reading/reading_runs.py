"""Running the reading assets for a night on a real instance, and reading what they recorded."""

import dagster as dg

NIGHT = "2026-11-20"  # Europe/Bucharest: 2026-11-19 22:00 to 2026-11-20 22:00 UTC
INTERESTS = [
    {"topic": "local LLM inference", "weight": 1.0, "keywords": ["ollama", "gguf", "quantization"]},
    {"topic": "homelab", "weight": 0.5, "keywords": ["proxmox", "zfs"]},
]


def run_reading(config, instance, partition: str = NIGHT, assets=("article_digest", "arxiv_finds")):
    from overnight_assets.definitions import build_defs

    job = dg.define_asset_job("reading_test", selection=list(assets))
    defs = dg.Definitions.merge(build_defs(config), dg.Definitions(jobs=[job]))
    result = defs.resolve_job_def("reading_test").execute_in_process(partition_key=partition, instance=instance)
    assert result.success
    return result


def metadata(instance, asset: str, partition: str = NIGHT) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event.asset_materialization.partition == partition
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}


def section(config, asset: str, partition: str = NIGHT) -> dict:
    import json

    return json.loads((config.paths.assets / asset / f"{partition}.json").read_text())
