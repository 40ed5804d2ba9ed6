"""The Sunday chain: ecosystem_watch -> evolution -> basal_ganglia on weeks ending Sunday, its job
and its schedule. The logic is in watch.py, evolution.py, habits.py and store.py."""

from datetime import UTC, datetime

import dagster as dg

from overnight_assets.config import OvernightConfig
from overnight_assets.late_ticks import late_tick_skip
from overnight_assets.resources.dagster_resources import CortexResource, LLMResource
from overnight_assets.weekly.weeks import Week, week_ending_by

WEEKLY = "weekly"
MONDAY = 1  # Dagster's day_offset counts from Sunday


def weekly_partitions(config: OvernightConfig) -> dg.WeeklyPartitionsDefinition:
    """Monday to Sunday in the configured timezone, named by the Monday, from first_night's week.
    end_offset=1: the week still going exists, as the Sunday tick runs the week ending that day."""
    first = Week.containing(config.first_night).key
    return dg.WeeklyPartitionsDefinition(start_date=first, timezone=config.timezone, day_offset=MONDAY, end_offset=1)


def _week(context: dg.AssetExecutionContext) -> Week:
    return Week.of_key(context.partition_key)


def build_weekly_defs(config: OvernightConfig) -> dg.Definitions:
    partitions = weekly_partitions(config)
    weekly = config.weekly

    @dg.asset(
        partitions_def=partitions,
        group_name=WEEKLY,
        kinds={"python", "pypi"},
        description="New releases of the projects in weekly.watch (PyPI JSON, npm, GitHub release feeds) "
        "against the versions in use, with their release notes' headlines; a failing source is recorded, never fatal.",
    )
    def ecosystem_watch(context: dg.AssetExecutionContext) -> dg.Output[list]:
        from overnight_assets.weekly import watch  # at first use: httpx, feedparser, bs4, packaging

        watched = [project.to_dict() for project in watch.watch(weekly)]
        failed = {
            f"{p['name']}/{kind}": o["error"] for p in watched for kind, o in p["sources"].items() if "error" in o
        }
        for where, why in failed.items():
            context.log.warning(f"ecosystem_watch: {where} failed: {why}")
        return dg.Output(
            watched,
            metadata={
                "watched": len(watched),
                "with_newer_releases": sum(1 for p in watched if p["newer"]),
                "sources_failed": len(failed),
                "projects": dg.MetadataValue.json(watched),
            },
        )

    @dg.asset(
        partitions_def=partitions,
        group_name=WEEKLY,
        pool="gpu",
        kinds={"python", "ollama"},
        ins={"watched": dg.AssetIn("ecosystem_watch")},
        description="Proposes changes from the week's memories, signals, weight changes and ecosystem watch: sources "
        "to add or drop, interests to adjust, upgrades to plan. A report in the briefing folder and a section in "
        "Monday's briefing; nothing is applied by itself. Without the LLM: the deterministic proposals, said so.",
    )
    def evolution(
        context: dg.AssetExecutionContext, watched: list, cortex: CortexResource, llm: LLMResource
    ) -> dg.Output[dict]:
        from overnight_assets.weekly import evolution as logic
        from overnight_assets.weekly import habits, store

        week, db = _week(context), cortex.get()
        signals = store.week_signals(db, week, config.timezone)
        moved = habits.moved_by(signals, config.reading.sources, config.reading.interests)
        evidence = logic.gather(
            store.week_memories(db, week),
            signals,
            store.week_weight_changes(db, week),
            watched,
            config.reading.sources,
            config.reading.interests,
            moved,
        )
        rules = logic.deterministic(evidence)
        session = llm.session()  # Cortex is not held across the call: each store call opened and closed it
        answer = session.ask(
            "summarize", logic.EVOLUTION_SYSTEM, logic.evolution_prompt(week, evidence, rules), logic.Proposals
        )
        decision = logic.decide(answer, evidence, rules)
        section = logic.evolution_section(week, decision.proposals, evidence, decision.source, decision.note)
        path = config.paths.weekly_report(week.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(logic.report_markdown(week, section, evidence), encoding="utf-8")
        store.keep_section(db, week, "evolution", section.to_dict(), str(path))
        return dg.Output(
            section.to_dict(),
            metadata={
                "proposals": len(section.items),
                "proposed_by": decision.source,
                "llm_proposals_dropped": decision.dropped,
                "report_path": dg.MetadataValue.path(str(path)),
                "evidence": dg.MetadataValue.json(evidence.to_dict()),
                "preview": dg.MetadataValue.md(section.markdown),
                **session.metadata(),
            },
        )

    @dg.asset(
        partitions_def=partitions,
        group_name=WEEKLY,
        deps=[evolution],
        kinds={"python", "duckdb"},
        description="Habit forming: the week's signals move each source's and interest's weight in Cortex in bounded "
        "steps (at most ±20 % a week, once per week however often it reruns), each change logged with the signals "
        "and words that moved it; the next digest ranks with them.",
    )
    def basal_ganglia(context: dg.AssetExecutionContext, cortex: CortexResource) -> dg.MaterializeResult:
        from overnight_assets.weekly import habits, store

        week, db = _week(context), cortex.get()
        signals = store.week_signals(db, week, config.timezone)
        changes = habits.plan(
            signals,
            config.reading.sources,
            config.reading.interests,
            store.stored_weights(db),
            store.weights_before(db, week),
        )
        store.apply_weights(db, week, changes)
        steps = [habits.Change(*row, signal_ids=()) for row in store.week_steps(db, week)]
        section = habits.habits_section(week, steps, len(signals), len(changes))
        store.keep_section(db, week, "basal_ganglia", section.to_dict())
        for change in changes:
            context.log.info(
                f"{change.target_kind} {change.target}: {change.old:g} -> {change.new:g} ({change.reason})"
            )
        return dg.MaterializeResult(
            metadata={
                "signals": len(signals),
                "weights_changed": len(steps),
                "written_this_run": len(changes),
                "changes": dg.MetadataValue.json([step.to_dict() for step in steps]),
                "preview": dg.MetadataValue.md(section.markdown),
            }
        )

    job = dg.define_asset_job(
        WEEKLY,
        selection=dg.AssetSelection.groups(WEEKLY),
        description="The Sunday chain for one week: ecosystem_watch, evolution and basal_ganglia.",
    )

    @dg.schedule(
        name="weekly_schedule",
        cron_schedule=config.schedules.weekly,
        execution_timezone=config.timezone,
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Runs the week that ends on the Sunday it fires (Monday to Sunday, still going at a Sunday "
        "tick); a tick more than schedules.grace_hours late is skipped, not run.",
    )
    def weekly_schedule(context: dg.ScheduleEvaluationContext):
        week = week_ending_by(context.scheduled_execution_time, config.timezone)
        if week.sunday < config.first_night:
            return dg.SkipReason(f"The week of {week} ends before first_night ({config.first_night})")
        fill = f"to run it: dagster job backfill -j {WEEKLY} --partitions {week.key}"
        late = late_tick_skip(
            context.scheduled_execution_time,
            datetime.now(UTC),
            config.schedules.grace_hours,
            f"the week of {week}",
            fill,
        )
        return dg.SkipReason(late) if late else dg.RunRequest(run_key=week.key, partition_key=week.key)

    return dg.Definitions(assets=[ecosystem_watch, evolution, basal_ganglia], jobs=[job], schedules=[weekly_schedule])
