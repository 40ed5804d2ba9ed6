"""The weekly job end to end on a real SQLite instance: signals written by the test (plain SQL, as the
graph's record_signals will), the loopback registries and Ollama; bounded, logged, once-a-week steps;
evolution's report and Monday's briefing section; the digest ranking with the learned weights."""

import json
from datetime import UTC, datetime

from overnight_assets.briefing.weekly_sections import take_weekly_sections
from overnight_assets.definitions import build_defs
from overnight_assets.reading.items import Item
from overnight_assets.reading.reading_list import select
from overnight_assets.resources.cortex import Cortex
from overnight_assets_tests.testkit.feeds import Reply
from overnight_assets_tests.testkit.registries import pypi_json
from overnight_assets_tests.testkit.resources import llm_session

WEEK = "2026-11-16"  # Monday 16 .. Sunday 22 November
INTERESTS = [
    {"topic": "local LLM inference", "weight": 1.0, "keywords": ["ollama", "gguf"]},
    {"topic": "homelab", "weight": 0.9, "keywords": ["proxmox", "zfs"]},
]
SOURCES = [{"name": "Good Feed", "url": "/srv/good.xml"}, {"name": "Noisy Feed", "url": "/srv/noisy.xml"}]


def plant_week(cortex: Cortex) -> None:
    """Memories of the week's nights and their signals: the owner liked zfs items, disliked ollama ones."""
    memories = [
        (1, "Good Feed", "https://blog.example/zfs-pools", "ZFS pools on proxmox", "2026-11-17"),
        (2, "Good Feed", "https://blog.example/zfs-send", "zfs send for backups", "2026-11-18"),
        (3, "Noisy Feed", "https://noise.example/ollama-1", "Yet another ollama wrapper", "2026-11-18"),
        (4, "Noisy Feed", "https://noise.example/ollama-2", "Ollama hype roundup", "2026-11-19"),
        (5, "Noisy Feed", "https://noise.example/ollama-3", "gguf hype again, ollama edition", "2026-11-20"),
        (6, "Noisy Feed", "https://old.example/x", "Ollama last week", "2026-11-10"),  # another week
    ]
    signals = [  # id, polarity, memory, subject, detail, night
        (1, 1, 1, "ITEM 1", "useful", "2026-11-17"),
        (2, 1, 2, "ITEM 2", "", "2026-11-18"),
        (3, -1, 3, "ITEM 3", "", "2026-11-18"),
        (4, -1, 4, "ITEM 4", "", "2026-11-19"),
        (5, -1, 5, "ITEM 5", "", "2026-11-20"),
        (6, -1, 6, "ITEM 6", "", "2026-11-10"),  # another week: does not count
    ]
    with cortex.connect() as db:
        for id, source, url, title, night in memories:
            db.execute(
                "INSERT INTO memories (id, kind, source, url, title, body, content_hash, partition_key) VALUES (?, 'article', ?, ?, ?, '', ?, ?)",
                [id, source, url, title, f"hash{id}", night],
            )
        for id, polarity, memory, subject, detail, night in signals:
            db.execute(
                "INSERT INTO signals (id, kind, polarity, memory_id, subject, detail, partition_key, dedupe_key) VALUES (?, 'feedback', ?, ?, ?, ?, ?, ?)",
                [id, polarity, memory, subject, detail, night, f"fb{id}"],
            )
        db.execute(
            "INSERT INTO signals (id, kind, polarity, subject, detail, partition_key, dedupe_key) VALUES (7, 'failure', -1, 'Noisy Feed', 'HTTP 503', '2026-11-21', 'fail7')"
        )


def weights(cortex: Cortex) -> dict:
    with cortex.connect(read_only=True) as db:
        return {
            **{f"source {k}": v for k, v in db.execute("SELECT source, weight FROM source_weights").fetchall()},
            **{f"interest {k}": v for k, v in db.execute("SELECT topic, weight FROM interest_weights").fetchall()},
        }


def log(cortex: Cortex) -> list[tuple]:
    with cortex.connect(read_only=True) as db:
        return db.execute(
            "SELECT target_kind, target, old_weight, new_weight, reason, changed_by, partition_key FROM weight_log ORDER BY id"
        ).fetchall()


def run_week(config, instance):
    result = build_defs(config).resolve_job_def("weekly").execute_in_process(partition_key=WEEK, instance=instance)
    assert result.success
    return result


def week_config(weekly_config, registry_server, llm_url):
    registry_server.routes["/pypi/dagster/json"] = Reply(
        200, pypi_json("dagster", {"1.13.27": "2026-10-01T00:00:00Z", "1.14.0": "2026-11-12T00:00:00Z"})
    )
    return weekly_config(
        llm_url,
        [{"name": "dagster", "pypi": "dagster", "version": "1.13.27"}],
        reading__interests=INTERESTS,
        reading__sources=SOURCES,
    )


def test_the_weekly_job_steps_weights_once_and_reports(weekly_config, registry_server, ollama_server, instance):
    config = week_config(weekly_config, registry_server, ollama_server.url)
    cortex = Cortex(config.paths.cortex)
    plant_week(cortex)
    ollama_server.overrides = {"proposals": [
        {"kind": "drop_source", "target": "Noisy Feed", "change": "Drop Noisy Feed", "why": "three bad items and a failure"},
        {"kind": "add_source", "target": "made-up.example", "change": "Add it", "why": "hallucinated"},
    ]}  # fmt: skip
    result = run_week(config, instance)

    # bounded steps: Noisy Feed had 3 bad and a failure (-20 %), Good Feed 2 good (+10 %);
    # interests: ollama/gguf 3 bad (-15 %), zfs/proxmox 2 good (+10 %); last week's signal did not count
    assert weights(cortex) == {"source Good Feed": 1.1, "source Noisy Feed": 0.8,
                               "interest local LLM inference": 0.85, "interest homelab": 0.99}  # fmt: skip
    logged = log(cortex)
    assert {row[5] for row in logged} == {"basal_ganglia"} and {row[6] for row in logged} == {WEEK}
    noisy = next(row for row in logged if row[1] == "Noisy Feed")
    assert "0 good and 4 bad signal(s)" in noisy[4] and "ids 3, 4, 5, 7" in noisy[4] and "bounded to ±20%" in noisy[4]
    llm_reason = next(row[4] for row in logged if row[1] == "local LLM inference")
    assert "words: gguf, ollama" in llm_reason and "Yet another ollama wrapper" in llm_reason

    # evolution: the LLM's proposal about a source kept, the one about nothing in the evidence dropped
    evolution = result.asset_materializations_for_node("evolution")[0].metadata
    assert (evolution["proposed_by"].value, evolution["llm_proposals_dropped"].value, evolution["proposals"].value) == (
        "llm",
        1,
        1,
    )
    report = config.paths.weekly_report(WEEK).read_text()
    assert "Drop source:" in report and "Noisy Feed" in report and "made-up.example" not in report
    assert "dagster: 1.13.27 in use, 1.14.0 latest" in report and "nothing is applied by itself" in report

    # a rerun does not step twice
    run_week(config, instance)
    assert weights(cortex)["source Noisy Feed"] == 0.8 and log(cortex) == logged
    habits = instance.get_latest_materialization_event(_key("basal_ganglia")).asset_materialization.metadata
    assert (habits["weights_changed"].value, habits["written_this_run"].value) == (4, 0)

    # Monday's briefing (the night of Sunday 22) takes both sections; Saturday's does not, a rerun of Sunday's again
    assert take_weekly_sections(cortex, "2026-11-21") == {}
    sections = take_weekly_sections(cortex, "2026-11-22")
    assert set(sections) == {"evolution", "basal_ganglia"}
    assert "Noisy Feed" in sections["basal_ganglia"]["markdown"] and "0.8" in sections["basal_ganglia"]["markdown"]
    assert set(take_weekly_sections(cortex, "2026-11-22")) == {"evolution", "basal_ganglia"}
    assert take_weekly_sections(cortex, "2026-11-23") == {}


def _key(name):
    import dagster as dg

    return dg.AssetKey(name)


def test_without_the_llm_evolution_lists_the_deterministic_evidence(
    weekly_config, registry_server, unused_url, instance
):
    config = week_config(weekly_config, registry_server, unused_url)
    plant_week(Cortex(config.paths.cortex))
    result = run_week(config, instance)
    metadata = result.asset_materializations_for_node("evolution")[0].metadata
    assert (metadata["proposed_by"].value, metadata["llm"].value) == ("fallback", "unavailable")
    section = json.loads((config.paths.assets / "evolution" / f"{WEEK}.json").read_text())
    assert section["markdown"].startswith("LLM unavailable: the fallback")
    kinds = [(p["kind"], p["target"]) for p in section["items"]]
    assert kinds == [("drop_source", "Noisy Feed"), ("add_source", "blog.example"), ("adjust_interest", "homelab"),
                     ("adjust_interest", "local LLM inference"), ("plan_upgrade", "dagster")]  # fmt: skip


def test_the_digest_ranks_with_the_learned_interest_weights(
    weekly_config, registry_server, unused_url, instance, tmp_path
):
    config = week_config(weekly_config, registry_server, unused_url)
    cortex = Cortex(config.paths.cortex)
    plant_week(cortex)
    when = datetime(2026, 11, 23, 9, tzinfo=UTC)
    items = [
        Item("Good Feed", "https://a.example/1", "ollama tips", "", when),
        Item("Good Feed", "https://a.example/2", "zfs tips", "", when),
    ]
    session = llm_session(tmp_path, unused_url)  # unreachable: the deterministic ranking stands

    def ranking():
        picks = select(items, "article", 2, config.reading, cortex, "2026-11-23", session).picks
        return [pick.scored.item.title for pick in picks]

    assert ranking() == ["ollama tips", "zfs tips"]  # 1.0 against 0.9 as configured
    run_week(config, instance)
    assert ranking() == ["zfs tips", "ollama tips"]  # 0.85 against 0.99 as learned
