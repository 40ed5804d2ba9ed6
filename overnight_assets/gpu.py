"""gpu_warmup: load the configured models before any LLM work, so the first real call is fast."""

import time

import dagster as dg

from overnight_assets.resources.dagster_resources import LLMResource
from overnight_assets.section import SECTION_TAG, LLMState

GPU_WARMUP = dg.AssetKey("gpu_warmup")


def llm_section_asset(
    partitions: dg.PartitionsDefinition, description: str, kinds=frozenset({"python", "ollama"}), **more
):
    """The decorator of a nightly worker that may ask the LLM and hands the briefing a section:
    in the `gpu` pool, after the warm-up, tagged so morning_briefing composes its value."""
    return dg.asset(
        partitions_def=partitions,
        group_name="nightly",
        pool="gpu",
        deps=[GPU_WARMUP],
        kinds=set(kinds),
        tags={SECTION_TAG: "true"},
        description=description,
        **more,
    )


def build_operations_defs(partitions: dg.PartitionsDefinition) -> dg.Definitions:
    @dg.asset(
        partitions_def=partitions,
        group_name="nightly",
        pool="gpu",
        kinds={"ollama"},
        description="Ask Ollama to load every configured model with keep_alive; records which are ready, never fails.",
    )
    def gpu_warmup(context: dg.AssetExecutionContext, llm: LLMResource) -> dg.MaterializeResult:
        session = llm.session()
        started = time.perf_counter()
        models = session.warm()
        ready = sorted(model for model, state in models.items() if state["ready"])
        warmed: LLMState = "ok" if len(ready) == len(models) else "unavailable"
        if session.unavailable_reason:  # recorded, never raised: the steps that need an answer apply the policy
            then = "fall back" if llm.on_unavailable == "fallback" else "fail when they need an answer"
            context.log.warning(f"Models not loaded, LLM steps will {then}: {session.unavailable_reason}")
        return dg.MaterializeResult(
            metadata={
                "ready_models": ", ".join(ready) or "none",
                "models": dg.MetadataValue.json(models),
                "seconds": round(time.perf_counter() - started, 3),
                "llm": warmed,
                **({"llm_unavailable_reason": session.unavailable_reason} if session.unavailable_reason else {}),
            }
        )

    return dg.Definitions(assets=[gpu_warmup])
