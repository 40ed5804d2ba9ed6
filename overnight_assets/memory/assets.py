"""The memory's Dagster assets: consolidation (and, on Sundays, the week's synthesis)."""

import dagster as dg

from overnight_assets.config.schema import MemoryConfig
from overnight_assets.partitions import Night
from overnight_assets.resources.dagster_resources import CortexResource, LLMResource

# the lead points this at AssetKey("cerebellum") when the graph branch is merged
CONSOLIDATION_AFTER = dg.AssetKey("morning_delivery")


def build_consolidation_defs(memory: MemoryConfig, partitions: dg.TimeWindowPartitionsDefinition) -> dg.Definitions:
    @dg.asset(
        partitions_def=partitions,
        group_name="nightly",
        pool="gpu",  # the Sunday synthesis asks the LLM
        deps=[CONSOLIDATION_AFTER],
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
