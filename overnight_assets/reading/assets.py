"""article_digest and arxiv_finds: the reading list, from many sources, judged by the LLM a few at a time."""

import dagster as dg

from overnight_assets.config import ReadingConfig
from overnight_assets.gpu import GPU_WARMUP, llm_section_asset
from overnight_assets.partitions import Night
from overnight_assets.resources.dagster_resources import CortexResource, LLMResource

ARTICLE_DIGEST = dg.AssetKey("article_digest")


def build_reading_defs(reading: ReadingConfig, partitions: dg.PartitionsDefinition) -> dg.Definitions:
    @llm_section_asset(
        partitions, "Feeds and GitHub trending, new items only, ranked by interests; the LLM judges the top few."
    )
    def article_digest(context: dg.AssetExecutionContext, cortex: CortexResource, llm: LLMResource) -> dg.Output[dict]:
        from overnight_assets.reading import reading_list, sections  # at first use: httpx, feedparser, bs4

        sources = reading_list.read_sources(reading.sources, reading.fetch, cortex.get(), Night.of(context))
        session = llm.session()
        selection = reading_list.select(
            sources.items, "article", reading.digest_size, reading, cortex.get(), context.partition_key, session
        )
        selection.record_in(sources.outcomes)
        section = sections.digest_section(selection, sources.outcomes, session.status)
        context.log.info(
            f"Reading list: {len(section.items)} picked, {sources.answered}/{len(sources.outcomes)} sources answered"
        )
        return _kept(
            context,
            cortex,
            "article",
            section,
            selection,
            session,
            len(sources.items),
            {
                "sources_answered": sources.answered,
                "sources_failed": len(sources.outcomes) - sources.answered,
                "sources": dg.MetadataValue.json(sources.outcomes),
                "fetch_seconds": sources.fetch_seconds,
            },
        )

    @llm_section_asset(
        partitions,
        "arXiv papers submitted in the window for each query, minus the digest's and Cortex's; the LLM judges the top few.",
        ins={"digest": dg.AssetIn(ARTICLE_DIGEST)},
    )
    def arxiv_finds(
        context: dg.AssetExecutionContext, digest: dict, cortex: CortexResource, llm: LLMResource
    ) -> dg.Output[dict]:
        from overnight_assets.reading import papers, reading_list, sections  # at first use: arxiv, requests

        found = papers.find_papers(reading.arxiv, Night.of(context), reading.fetch.timeout_s)
        session = llm.session()
        in_digest = {item["url"] for item in digest.get("items", [])}
        selection = reading_list.select(
            found.papers, "paper", reading.arxiv.keep, reading, cortex.get(), context.partition_key, session, in_digest
        )
        section = sections.finds_section(selection, found.outcomes, session.status)
        return _kept(
            context,
            cortex,
            "paper",
            section,
            selection,
            session,
            len(found.papers),
            {"queries": dg.MetadataValue.json(found.outcomes)},
        )

    # the reading list alone, e.g. to backfill it: `dagster job backfill -j reading --from ... --to ...`
    reading_job = dg.define_asset_job(
        "reading",
        selection=dg.AssetSelection.assets(GPU_WARMUP, article_digest, arxiv_finds),
        description="gpu_warmup, article_digest and arxiv_finds for one partition.",
    )
    return dg.Definitions(assets=[article_digest, arxiv_finds], jobs=[reading_job])


def _kept(
    context, cortex: CortexResource, kind: str, section, selection, session, in_window: int, more: dict
) -> dg.Output[dict]:
    """Remember what the section keeps in Cortex, and hand it on with the figures both assets share."""
    from overnight_assets.reading import store
    from overnight_assets.resources.memory_graph import Provenance

    provenance = Provenance(context.asset_key.to_user_string(), context.partition_key, context.run.run_id)
    memory_ids = store.remember_kept(cortex.get(), kind, section.items, provenance)
    for item in section.items:  # the briefing's ITEM refs name these memories
        item["memory_id"] = memory_ids[item["url"]]
    return dg.Output(
        section.to_dict(),
        metadata={
            "status": section.status.value,
            "picked": len(section.items),
            "in_window": in_window,
            "new": selection.new,
            "llm_candidates": selection.candidates,
            "dropped": dg.MetadataValue.json(selection.dropped),
            **more,
            "preview": dg.MetadataValue.md(section.markdown),
            **session.metadata(),
        },
    )
