"""The memory's Dagster assets: cerebellum (the night's outcome signals and the reinforcement they
bring; logic in cerebellum.py), then consolidation (and, on Sundays, the week's synthesis)."""

import dagster as dg

from overnight_assets.config import MemoryConfig
from overnight_assets.partitions import Night
from overnight_assets.resources.dagster_resources import CortexResource, LLMResource, SlackResource

CEREBELLUM = dg.AssetKey("cerebellum")
DELIVERY = dg.AssetKey("morning_delivery")
# where the night's workers say which of their sources failed: asset -> (metadata key, anchor kind)
SOURCE_OUTCOMES = {
    "article_digest": ("sources", "source"),
    "arxiv_finds": ("queries", "query"),
    "code_reviews": ("repositories", "repository"),
}
FAILED_RUNS_NAMED = 20


def build_memory_defs(memory: MemoryConfig, partitions: dg.PartitionsDefinition) -> dg.Definitions:
    @dg.asset(
        partitions_def=partitions,
        group_name="nightly",
        deps=[DELIVERY],
        kinds={"duckdb", "slack"},
        description="Reads the night's outcomes (Slack reactions, `overnight feedback`, failed sources and runs) "
        "and reinforces Cortex: warms what led to good ones, cools what led to bad ones, decays the rest.",
    )
    def cerebellum(
        context: dg.AssetExecutionContext, cortex: CortexResource, slack: SlackResource
    ) -> dg.MaterializeResult:
        from overnight_assets.memory.cerebellum import Settings, run_night

        settings = Settings(
            tuple(memory.good_reactions), tuple(memory.bad_reactions), memory.reaction_nights, memory.decay_per_night
        )
        poster = slack.poster()
        failures = failed_sources(context.instance, context.partition_key)
        failures += failed_runs(context.instance, context.partition_key, context.run.run_id)
        report = run_night(
            cortex.get(), context.partition_key, settings, poster.reactions if poster else None, failures
        )
        for unread in report.unread:
            context.log.warning(f"Not read: {unread}")
        return dg.MaterializeResult(
            metadata={
                "messages_read": report.messages_read,
                "not_read": dg.MetadataValue.json(report.unread),
                "failures": dg.MetadataValue.json([f"{f.kind} {f.name}: {f.why}" for f in failures]),
                "signals_new": report.signals_new,
                "signals_applied": report.signals_applied,
                "weight_changes": report.weight_changes,
                "decayed": dg.MetadataValue.json(report.decayed or "already decayed for this night"),
            }
        )

    return dg.Definitions(assets=[cerebellum])


def failed_sources(instance: dg.DagsterInstance, partition_key: str) -> list:
    """The sources, queries and repositories the night's workers recorded as failed, from their metadata."""
    from overnight_assets.memory.cerebellum import Failure

    found = []
    for asset, (key, kind) in SOURCE_OUTCOMES.items():
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition_key]), limit=1
        ).records
        value = records[0].asset_materialization.metadata.get(key) if records else None
        outcomes = value.value if value is not None else {}
        if isinstance(outcomes, list):  # code_reviews: a list of {name, outcome, error}
            outcomes = {o.get("name"): o for o in outcomes if isinstance(o, dict)}
        found += [
            Failure(kind, str(name), str(o.get("error") or "failed"))
            for name, o in (outcomes or {}).items()
            if isinstance(o, dict) and o.get("outcome") == "failed"
        ]
    return found


def failed_runs(instance: dg.DagsterInstance, partition_key: str, this_run: str) -> list:
    from overnight_assets.memory.cerebellum import Failure

    runs = instance.get_runs(
        dg.RunsFilter(tags={"dagster/partition": partition_key}, statuses=[dg.DagsterRunStatus.FAILURE]),
        limit=FAILED_RUNS_NAMED,
    )
    return [Failure("run", run.run_id, f"{run.job_name} failed") for run in runs if run.run_id != this_run]


def build_consolidation_defs(memory: MemoryConfig, partitions: dg.TimeWindowPartitionsDefinition) -> dg.Definitions:
    @dg.asset(
        partitions_def=partitions,
        group_name="nightly",
        pool="gpu",  # the Sunday synthesis asks the LLM
        deps=[CEREBELLUM],
        kinds={"duckdb", "ollama"},
        description="Prunes weak old memories nothing references, merges near-duplicates, compresses old long ones, "
        "in one transaction; on Sundays first writes the week's synthesis (LLM, deterministic fallback).",
    )
    def consolidation(
        context: dg.AssetExecutionContext, cortex: CortexResource, llm: LLMResource
    ) -> dg.MaterializeResult:
        from overnight_assets.memory import consolidation as consolidating
        from overnight_assets.memory import synthesis

        night = Night.of(context)
        weekly: dict = {"synthesis": "not Sunday"}
        if synthesis.is_sunday(night.partition_key):
            session = llm.session()
            source, read = synthesis.write_synthesis(
                cortex.get(), night.partition_key, night.end, session, context.run.run_id
            )
            weekly = {"synthesis": source, "synthesis_read": read, **session.metadata()}
        outcome = consolidating.consolidate(cortex.get(), settings(memory), night.end, context.run.run_id)
        context.log.info(
            f"Consolidation: {outcome.pruned} pruned, {outcome.merged} merged, {outcome.compressed} compressed, "
            f"{outcome.forgotten} forgotten, {outcome.kept} live"
        )
        return dg.MaterializeResult(metadata={**outcome.metadata(), **weekly})

    return dg.Definitions(assets=[consolidation])


def settings(memory: MemoryConfig):
    from overnight_assets.memory.consolidation import Settings

    return Settings(
        retention_days=memory.retention_days,
        prune_below=memory.prune_below,
        merge_threshold=memory.merge_threshold,
        merge_window_days=memory.merge_window_days,
        compress_after_days=memory.compress_after_days,
        compress_above_chars=memory.compress_above_chars,
        forget_after_days=memory.forget_after_days,
    )
