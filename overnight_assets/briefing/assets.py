"""morning_briefing composes the upstream sections; morning_delivery posts it or keeps it."""

from pathlib import Path

import dagster as dg

from overnight_assets.briefing.checks import briefing_checks, delivered_by
from overnight_assets.briefing.compose import (
    SUMMARY_SYSTEM,
    Summary,
    changes_since,
    fallback_summary,
    ordered,
    overall_status,
    render_markdown,
    summary_prompt,
)
from overnight_assets.briefing.delivery import deliver_pending, delivery_owner, keep_in_outbox
from overnight_assets.briefing.failures import compose_with_failures
from overnight_assets.briefing.refs import record_briefing, record_ref_pages, with_refs
from overnight_assets.briefing.sensors import AFTER_FAILED_RUN_TAG, BRIEFING, failures_in_run
from overnight_assets.briefing.weekly_sections import take_weekly_sections
from overnight_assets.config import Paths
from overnight_assets.resources.dagster_resources import CortexResource, LLMResource, SlackResource
from overnight_assets.resources.json_io import OPTIONAL
from overnight_assets.resources.llm import LLMUnavailableError
from overnight_assets.resources.memory_graph import Provenance
from overnight_assets.section import Section, within_lines

PREVIEW_CHARS = 4000  # of the briefing in the UI's metadata
YESTERDAY = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)


def build_briefing_defs(
    partitions: dg.TimeWindowPartitionsDefinition,
    section_assets: list[dg.AssetKey],
    paths: Paths,
    ui_base_url: str,
    briefing_by: str | None,
) -> dg.Definitions:
    # optional: briefing_after_failure loads them without running them, and a failed night has gaps
    section_ins = {key.path[-1]: dg.AssetIn(key, metadata=OPTIONAL) for key in section_assets}

    @dg.asset(
        name="morning_briefing",
        partitions_def=partitions,
        group_name="nightly",
        pool="gpu",
        ins={**section_ins, "previous": dg.AssetIn(BRIEFING, partition_mapping=YESTERDAY, metadata=OPTIONAL)},
        kinds={"python", "ollama"},
        description="The morning message: every upstream section, what changed since yesterday, a summary.",
    )
    def morning_briefing(
        context: dg.AssetExecutionContext, llm: LLMResource, cortex: CortexResource, previous, **sections
    ) -> dg.Output[dict]:
        failed_run = context.run.tags.get(AFTER_FAILED_RUN_TAG)  # set by briefing_after_failure
        failures = failures_in_run(context.instance, failed_run, list(sections), ui_base_url) if failed_run else []
        sections |= take_weekly_sections(cortex.get(), context.partition_key)  # Monday's: the Sunday chain's
        arrived, composed = compose_with_failures(sections, failures, previous)
        composed, listed = with_refs(ordered(composed))  # R3, P2, C1: what `overnight feedback` names
        changes = changes_since(previous, arrived)
        session = llm.session()
        try:
            answer = session.ask(
                "summarize", SUMMARY_SYSTEM, summary_prompt(context.partition_key, composed, changes), Summary
            )
        except LLMUnavailableError:
            if not failed_run:
                raise  # llm.on_unavailable: fail; the failed run's own briefing then still goes out
            answer = None
        summary, source = (answer.paragraph, "llm") if answer else (fallback_summary(composed), "fallback")
        markdown = render_markdown(context.partition_key, composed, summary, source, changes)
        path = paths.briefing(context.partition_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown, encoding="utf-8")
        status = overall_status(composed)
        provenance = Provenance(context.asset_key.to_user_string(), context.partition_key, context.run.run_id)
        title = f"Morning briefing {context.partition_key}: {status.value}"
        record_briefing(cortex.get(), provenance, title, summary, listed)
        briefing = {
            "partition": context.partition_key,
            "status": status.value,
            "summary": summary,
            "summary_source": source,
            "changes": changes,
            "sections": [section.to_dict() for section in composed],
            "markdown": markdown,
            "path": str(path),
        }
        return dg.Output(
            briefing,
            metadata={
                "status": status.value,
                "briefing_path": dg.MetadataValue.path(str(path)),
                "sections": len(composed),
                "summary_source": source,
                "item_refs": len(listed),
                "failed_sections": ", ".join(f"{f.key} ({f.outcome})" for f in failures) or "none",
                **({"after_failed_run": dg.MetadataValue.dagster_run(failed_run)} if failed_run else {}),
                "preview": dg.MetadataValue.md(preview(markdown, path)),
                **session.metadata(),
            },
        )

    @dg.asset(
        partitions_def=partitions,
        group_name="nightly",
        ins={"briefing": dg.AssetIn(BRIEFING)},
        kinds={"slack"},
        freshness_policy=delivered_by(briefing_by, partitions.timezone) if briefing_by else None,
        description="Posts the briefing to Slack (one message per night, updated on rerun) or keeps it in the outbox.",
    )
    def morning_delivery(
        context: dg.AssetExecutionContext, briefing: dict, cortex: CortexResource, slack: SlackResource
    ) -> dg.MaterializeResult:
        from overnight_assets.briefing.slack_format import slack_message  # slack_sdk loads only when delivering

        sections = [Section.from_dict(s) for s in briefing["sections"]]
        status = overall_status(sections)
        outbox = paths.outbox
        message = slack_message(
            briefing["partition"],
            status,
            briefing["summary"],
            sections,
            briefing.get("changes"),
            briefing.get("summary_source", "llm"),
        )
        record_ref_pages(cortex.get(), context.partition_key, message.ref_pages)
        keep_in_outbox(cortex.get(), outbox, context.partition_key, message.text, message.blocks, message.replies)
        report = deliver_pending(cortex.get(), outbox, slack.poster(), owner=delivery_owner(context.run.run_id))
        if report.error:
            context.log.warning(f"{report.error}; kept in {outbox} for the next run")
        for warning in report.warnings:
            context.log.warning(warning)
        return dg.MaterializeResult(
            metadata={
                "delivery": report.outcome,
                "delivered": ", ".join(report.delivered) or "none",
                "updated_in_place": ", ".join(report.updated) or "none",
                "pending": len(report.pending),
                "claimed_by_another_run": ", ".join(report.claimed_elsewhere) or "none",
                "outbox": dg.MetadataValue.path(str(outbox)),
                "slack_blocks": len(message.blocks),
                "thread_replies": len(message.replies),
                "channel": slack.channel,
                **({"error": report.error} if report.error else {}),
            }
        )

    return dg.Definitions(
        assets=[morning_briefing, morning_delivery], asset_checks=briefing_checks(partitions, section_assets, paths)
    )


def preview(markdown: str, path: Path, limit: int = PREVIEW_CHARS) -> str:
    """The briefing for the UI: whole lines only, and a note where it was cut."""
    return within_lines(
        markdown.splitlines(), limit, f"\n_… cut here for the preview: the whole briefing is in {path}_"
    )
