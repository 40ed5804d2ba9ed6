"""code_reviews, pr_digest and new_commits_sensor: thin wrappers around the plain logic."""

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from overnight_assets.code_review.branch_tips import BranchTips, look_again
from overnight_assets.code_review.code_reviews import prepare_night, remember_reviews, review_all, reviews_section
from overnight_assets.code_review.pr_digest import digest_night, digest_section
from overnight_assets.config import CodeReviewConfig
from overnight_assets.gpu import llm_section_asset
from overnight_assets.partitions import Night, today_partition
from overnight_assets.resources.cortex import content_hash
from overnight_assets.resources.dagster_resources import CortexResource, LLMResource
from overnight_assets.resources.memory_graph import Provenance
from overnight_assets.section import SECTION_TAG

CODE_REVIEWS = dg.AssetKey("code_reviews")
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def build_code_review_defs(
    settings: CodeReviewConfig, repo_cache: Path, partitions: dg.TimeWindowPartitionsDefinition
) -> dg.Definitions:
    timezone = partitions.timezone  # the sensor files new commits under the partitions' days

    @llm_section_asset(
        partitions,
        "The window's commits on every branch: deterministic checks, then one LLM review per sha, ever.",
        kinds={"git", "ollama"},
    )
    def code_reviews(context: dg.AssetExecutionContext, cortex: CortexResource, llm: LLMResource) -> dg.Output[dict]:
        prepared, outcomes = prepare_night(settings, Night.of(context), repo_cache)
        for failed in (o for o in outcomes if o.error):
            context.log.warning(f"Repository {failed.name} not reviewed: {failed.error}")
        session = llm.session()
        review_all(prepared, cortex.get(), session, settings.max_llm_reviews)
        provenance = Provenance(context.asset_key.to_user_string(), context.partition_key, context.run.run_id)
        remembered = remember_reviews(cortex.get(), prepared, provenance)
        section = reviews_section(prepared, outcomes, session.status, remembered.ids)
        sources = [p.review_source for p in prepared]
        return dg.Output(
            section.to_dict(),
            metadata={
                "status": section.status.value,
                "commits": len(prepared),
                "findings": sum(len(p.findings) for p in prepared),
                "reviews": dg.MetadataValue.json({source: sources.count(source) for source in sorted(set(sources))}),
                "repositories": dg.MetadataValue.json([vars(o) for o in outcomes]),
                "memories_added": remembered.new,
                "review_list": dg.MetadataValue.md(section.markdown[:4000]),
                **session.metadata(),
            },
        )

    @dg.asset(
        partitions_def=partitions,
        group_name="nightly",
        ins={"reviews": dg.AssetIn(CODE_REVIEWS)},
        kinds={"git"},
        tags={SECTION_TAG: "true"},
        description="Per repository: merges in the window and branches ahead of the default branch, with review highlights.",
    )
    def pr_digest(context: dg.AssetExecutionContext, reviews: dict, cortex: CortexResource) -> dg.Output[dict]:
        digests = digest_night(settings.repos, Night.of(context), reviews["items"], cortex.get(), repo_cache)
        for failed in (d for d in digests if d.error):
            context.log.warning(f"Repository {failed.name}: {failed.error}")
        section = digest_section(digests)
        return dg.Output(
            section.to_dict(),
            metadata={
                "merges": sum(len(d.merges) for d in digests),
                "waiting_branches": sum(len(d.waiting) for d in digests),
                "digest": dg.MetadataValue.md(section.markdown[:4000]),
            },
        )

    review_job = dg.define_asset_job(
        "code_review",
        selection=[CODE_REVIEWS, dg.AssetKey("pr_digest")],
        description="Today's commits, reviewed as they land.",
    )

    @dg.sensor(
        name="new_commits_sensor",
        job=review_job,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests code_reviews and pr_digest for the day new commits belong to; one run at a time.",
    )
    def new_commits_sensor(context: dg.SensorEvaluationContext):
        if not settings.repos:
            return dg.SkipReason("No repositories configured under code_review.repos")
        previous = BranchTips.load(context.cursor)
        today = date.fromisoformat(today_partition(datetime.now(ZoneInfo(timezone)), timezone))
        look, errors = look_again(settings.repos, repo_cache, previous or BranchTips(), timezone, today)
        for name, error in errors.items():
            context.log.warning(f"Repository {name} could not be read: {error}")
        context.update_cursor(look.dump())  # pending days stay in the cursor until a run takes them
        day = look.oldest_pending()
        if previous is None:
            return dg.SkipReason(f"First look: recorded the branch tips of {len(look.tips)} repositories")
        if day is None:
            return dg.SkipReason("No new commits")
        if context.instance.get_run_ids(dg.RunsFilter(job_name=review_job.name, statuses=IN_FLIGHT), limit=1):
            return dg.SkipReason(
                f"New commits for {', '.join(sorted(look.pending))}; a code_review run is still in flight"
            )
        moved = look.pending.pop(day)
        context.update_cursor(look.dump())
        return dg.RunRequest(
            run_key=f"commits-{day}-{content_hash(look.dump())[:12]}",
            partition_key=day,
            tags={"overnight/moved": ", ".join(moved)[:200]},
        )

    return dg.Definitions(assets=[code_reviews, pr_digest], jobs=[review_job], sensors=[new_commits_sensor])
