"""security_triage, the amygdala: six collectors, a deterministic gate, the LLM only when not GREEN."""

from datetime import timedelta

import dagster as dg

from overnight_assets.config import TriageConfig
from overnight_assets.gpu import llm_section_asset
from overnight_assets.partitions import Night
from overnight_assets.resources.dagster_resources import CortexResource, LLMResource
from overnight_assets.triage.checks import triage_checks
from overnight_assets.triage.gate import raise_only
from overnight_assets.triage.review import REVIEW_SYSTEM, TriageReview, review_prompt
from overnight_assets.triage.security_triage import collect, triage_section


def build_triage_defs(settings: TriageConfig, partitions: dg.PartitionsDefinition) -> dg.Definitions:
    @llm_section_asset(
        partitions, "Docker, auth log, ports, file integrity, disk and failed runs, gated GREEN/AMBER/RED."
    )
    def security_triage(context: dg.AssetExecutionContext, cortex: CortexResource, llm: LLMResource) -> dg.Output[dict]:
        night = Night.of(context)
        lookback = timedelta(hours=settings.dagster_runs.lookback_hours if settings.dagster_runs else 24)
        found = collect(settings, night, cortex.get(), lambda: failed_runs(context, night.end - lookback, night.end))
        session, review, status = llm.session(), None, found.gate_status
        if status.needs_action:  # GREEN and NOT CONFIGURED: nothing to review
            review = session.ask("triage", REVIEW_SYSTEM, review_prompt(found.findings), TriageReview)
            status = raise_only(status, review.status if review else None)
        section = triage_section(found, status, review, session.status)
        context.log.info(f"Triage {status.value}: {len(found.problems)} findings, {len(found.notes)} notes")
        return dg.Output(
            section.to_dict(),
            metadata={
                "status": status.value,
                "gate_status": found.gate_status.value,
                "findings": len(found.problems),  # AMBER and RED: what may need action
                "notes": len(found.notes),  # INFO, listed in the section's items with note: True
                "finding_list": dg.MetadataValue.md(section.markdown),
                "collectors": dg.MetadataValue.json(found.outcomes),
                **session.metadata(),
            },
        )

    return dg.Definitions(assets=[security_triage], asset_checks=triage_checks(settings, partitions))


def failed_runs(context: dg.AssetExecutionContext, since, until) -> list[dict]:
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE], created_after=since, created_before=until),
        limit=500,
    )
    return [
        {
            "run_id": record.dagster_run.run_id,
            "job_name": record.dagster_run.job_name,
            "partition": record.dagster_run.tags.get("dagster/partition"),
            "status": record.dagster_run.status.value,
        }
        for record in records
        if record.dagster_run.run_id != context.run.run_id
    ]
