"""The consolidation asset for one night: its figures, and on Sundays the week's synthesis, written by
the LLM (a loopback Ollama) or, with Ollama unreachable, by the deterministic fallback."""

from datetime import UTC, datetime

import dagster as dg
import pytest

from overnight_assets.config.schema import MemoryConfig
from overnight_assets.memory.assets import build_consolidation_defs
from overnight_assets.partitions import daily_partitions
from overnight_assets.resources.cortex import Cortex
from overnight_assets.resources.dagster_resources import CortexResource, LLMResource
from overnight_assets_tests.testkit.memories import add_memory

SUNDAY, MONDAY = "2026-05-31", "2026-06-01"
WEEK_END = datetime(2026, 6, 1, tzinfo=UTC)  # the Sunday partition's end, in UTC
MODELS = {"triage": "qwen3.5", "summarize": "gemma4", "review": "qwen3.5"}


def night(tmp_path, llm_url: str, partition: str) -> tuple[dg.AssetMaterialization, Cortex]:
    cortex = CortexResource(path=str(tmp_path / "cortex.duckdb"))
    llm = LLMResource(host=llm_url, models=MODELS, timeout_s=5.0, cortex=cortex)
    asset = build_consolidation_defs(MemoryConfig(), daily_partitions("UTC")).assets[0]
    result = dg.materialize([asset], partition_key=partition, resources={"cortex": cortex, "llm": llm})
    assert result.success
    return result.asset_materializations_for_node("consolidation")[0], cortex.get()


@pytest.fixture
def week(tmp_path) -> dict[str, int]:
    cortex = Cortex(tmp_path / "cortex.duckdb")
    with cortex.connect() as db:
        return {
            "heavy": add_memory(db, "DuckDB 1.2 released", WEEK_END, 2, weight=0.9),
            "light": add_memory(db, "A homelab rack tour", WEEK_END, 3, weight=0.4),
            "last_week": add_memory(db, "Older than the week", WEEK_END, 9, weight=1.0),
        }


def synthesis(cortex: Cortex) -> tuple[str, str, list[int]]:
    with cortex.connect(read_only=True) as db:
        sid, title, body = db.execute("SELECT id, title, body FROM memories WHERE kind = 'synthesis'").fetchone()
        read = [r[0] for r in db.execute("SELECT dst FROM edges WHERE src = ? ORDER BY dst", [sid]).fetchall()]
    return title, body, read


def test_sunday_writes_the_weeks_synthesis_with_the_llm(tmp_path, week, ollama_server):
    ollama_server.overrides = {"paragraph": "A week of faster databases.", "themes": ["databases"]}
    materialization, cortex = night(tmp_path, ollama_server.url, SUNDAY)
    meta = {key: value.value for key, value in materialization.metadata.items()}
    assert (meta["synthesis"], meta["synthesis_read"], meta["llm"]) == ("llm", 2, "ok")
    assert {"pruned", "merged", "compressed", "forgotten", "kept"} <= set(meta)
    title, body, read = synthesis(cortex)
    assert title == f"The week ending {SUNDAY}"
    assert body == "A week of faster databases.\nThemes: databases"
    assert read == sorted([week["heavy"], week["light"]])
    prompt = ollama_server.chats[0]["messages"][1]["content"]
    assert "DuckDB 1.2 released" in prompt and "Older than the week" not in prompt


def test_sunday_falls_back_to_listing_the_weeks_top_memories_when_ollama_is_unreachable(tmp_path, week, unused_url):
    materialization, cortex = night(tmp_path, unused_url, SUNDAY)
    meta = {key: value.value for key, value in materialization.metadata.items()}
    assert (meta["synthesis"], meta["llm"]) == ("fallback", "unavailable")
    _, body, read = synthesis(cortex)
    lines = body.splitlines()
    assert lines[0].startswith("Fallback (the LLM was unavailable)")
    assert lines[1].startswith("1. DuckDB 1.2 released") and lines[2].startswith("2. A homelab rack tour")
    assert len(read) == 2
    night(tmp_path, unused_url, SUNDAY)  # a rerun rewrites the same memory
    with cortex.connect(read_only=True) as db:
        assert db.execute("SELECT count(*) FROM memories WHERE kind = 'synthesis'").fetchone()[0] == 1


def test_other_nights_consolidate_without_asking_the_llm(tmp_path, week, ollama_server):
    materialization, cortex = night(tmp_path, ollama_server.url, MONDAY)
    assert materialization.metadata["synthesis"].value == "not Sunday"
    assert materialization.metadata["kept"].value == 3
    assert ollama_server.chats == []
