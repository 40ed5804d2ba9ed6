"""The `overnight` command: demo, run one night, re-baseline file integrity, validate a config, read Cortex."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from overnight_assets.config import BUNDLED_DEMO_CONFIG, CONFIG_ENV, HOME_ENV, ConfigError, load_config
from overnight_assets.demo.inputs import prepare_demo_auth_log, prepare_demo_feeds, prepare_demo_repository

REPO_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"overnight: {error}", file=sys.stderr)
        return 2
    except UserError as error:
        print(f"overnight: {error}", file=sys.stderr)
        return 2


class UserError(RuntimeError):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="overnight", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the whole nightly chain once on bundled samples")
    demo.add_argument("--date", type=_date, help="partition to run (default: yesterday in the demo's timezone)")
    demo.add_argument("--inputs-only", action="store_true", help="only write the demo's dated inputs")
    demo.set_defaults(handler=_demo)

    run = commands.add_parser(
        "run",
        help="launch the nightly job for one partition in $DAGSTER_HOME and wait for it (Ctrl-C terminates the run)",
    )
    run.add_argument("--date", type=_date, required=True, help="the partition, YYYY-MM-DD")
    run.add_argument("--config", help=f"overnight.yaml (default: ${CONFIG_ENV} or ./overnight.yaml)")
    run.set_defaults(handler=_run)

    rebaseline = commands.add_parser("rebaseline", help="accept the watched files as they are now")
    rebaseline.add_argument("--config", help="overnight.yaml")
    rebaseline.set_defaults(handler=_rebaseline)

    validate = commands.add_parser("validate", help="check a config file and say what it configures")
    validate.add_argument("--config", help="overnight.yaml")
    validate.set_defaults(handler=_validate)

    _add_cortex_commands(commands)
    return parser


def _add_cortex_commands(commands) -> None:
    cortex = commands.add_parser("cortex", help="read Cortex safely while the chain runs: one query, or a copy")
    actions = cortex.add_subparsers(required=True, metavar="ACTION")
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--config", help="overnight.yaml")
    options.add_argument("--wait", type=float, default=30, metavar="S", help="seconds to wait for the chain's lock")
    query = actions.add_parser(
        "query", parents=[options], help="run one SQL statement read-only and print its rows, tab-separated"
    )
    query.add_argument("sql", help='e.g. "SELECT kind, title FROM memories ORDER BY created_at DESC LIMIT 20"')
    query.set_defaults(handler=_cortex_query)
    copy = actions.add_parser(
        "copy", parents=[options], help="write a consistent copy of Cortex to a new DuckDB file, to explore at will"
    )
    copy.add_argument("destination", help="the new file, e.g. ~/cortex-copy.duckdb")
    copy.set_defaults(handler=_cortex_copy)


def _date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _demo(args) -> int:
    dagster_home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path.cwd() / ".dagster_home")))
    dagster_home.mkdir(parents=True, exist_ok=True)
    if not (dagster_home / "dagster.yaml").exists() and REPO_DAGSTER_YAML.exists():
        shutil.copy(REPO_DAGSTER_YAML, dagster_home / "dagster.yaml")
    os.environ[CONFIG_ENV] = str(BUNDLED_DEMO_CONFIG)
    os.environ.setdefault(HOME_ENV, str(dagster_home / "overnight-home"))
    config = load_config()
    partition = args.date or (datetime.now(config.tz).date() - timedelta(days=1)).isoformat()
    _check_partition(partition, config.timezone)
    prepare_demo_auth_log(date.fromisoformat(partition), Path(config.triage.auth_log.path))
    feeds = prepare_demo_feeds(date.fromisoformat(partition), config.home_path / "demo-inputs" / "feeds")
    for repo in config.code_review.repos:
        prepare_demo_repository(date.fromisoformat(partition), config.timezone, Path(repo.path))
    if args.inputs_only:
        print(f"Demo inputs written for {partition}: {config.triage.auth_log.path}, {feeds}")
        return 0
    print(f"overnight demo: nightly chain for {partition}, DAGSTER_HOME={dagster_home}, home={config.home_path}")
    success = _night(partition, brief_after_failure=False)
    _print_outcome(config, partition)
    return 0 if success else 1


def _run(args) -> int:
    if args.config:
        os.environ[CONFIG_ENV] = str(Path(args.config).resolve())
    if not os.environ.get("DAGSTER_HOME"):
        raise UserError("DAGSTER_HOME is not set: point it at the folder holding your dagster.yaml")
    config = load_config()
    _check_partition(args.date, config.timezone)
    success = _night(args.date, brief_after_failure=True)
    _print_outcome(config, args.date)
    return 0 if success else 1


def _night(partition: str, brief_after_failure: bool) -> bool:
    """Launch the nightly run and wait for it; after a failed one, its briefing when asked. Whether the run succeeded."""
    from overnight_assets.launch import LaunchError, run_nightly  # dagster loads only for the commands that run

    try:
        return run_nightly(partition, brief_after_failure)
    except LaunchError as error:
        raise UserError(str(error)) from None


def _check_partition(partition: str, timezone: str) -> None:
    """A date the nightly partitions do not hold fails here, not deep in a run after Ollama was asked."""
    from overnight_assets.partitions import daily_partitions

    partitions = daily_partitions(timezone)
    first, last = partitions.get_first_partition_key(), partitions.get_last_partition_key()
    if not first <= partition <= last:
        raise UserError(
            f"--date {partition} is not a nightly partition: expected a date from {first} to {last} (today in {timezone})"
        )


def _print_outcome(config, partition: str) -> None:
    """Each section's verdict, where the morning message is and its first lines, what waits."""
    import json

    composed = config.home_path / "assets" / "morning_briefing" / f"{partition}.json"
    briefing = config.home_path / "briefings" / f"{partition}.md"
    if composed.exists():
        print()
        for section in json.loads(composed.read_text())["sections"]:
            print(f"{section['title']}: {section['status']}, {_counted(section['items'])} (llm: {section['llm']})")
    if briefing.exists():
        print(f"Morning message: {briefing}\n")
        print("\n".join(briefing.read_text().splitlines()[:12]))
    outbox = sorted((config.home_path / "outbox").glob("*.json"))
    if outbox:
        print(f"\nUndelivered messages kept in {config.home_path / 'outbox'}: {len(outbox)}")


def _counted(items: list[dict]) -> str:
    """'2 needing action', '8 to read', '2 notes': a note is never counted as a problem."""
    from overnight_assets.briefing.compose import picks, problems

    notes = sum(1 for item in items if item.get("note"))
    counts = [
        (len(problems(items)), "needing action"),
        (len(picks(items)), "to read"),
        (notes, "note" if notes == 1 else "notes"),
    ]
    return ", ".join(f"{count} {what}" for count, what in counts if count) or "nothing to report"


def _rebaseline(args) -> int:
    from overnight_assets.resources.cortex import Cortex
    from overnight_assets.triage import integrity, store

    config = load_config(args.config)
    if config.triage.integrity is None:
        raise UserError(f"{config.source}: triage.integrity is disabled; nothing to baseline")
    hashes, unreadable = integrity.hash_watched(config.triage.integrity.paths)
    store.record_baseline(Cortex(config.home_path / "cortex.duckdb"), hashes)
    print(f"Baseline recorded for {len(hashes)} files under {', '.join(config.triage.integrity.paths)}")
    for finding in unreadable:
        print(f"  not readable: {finding.detail or finding.title}")
    return 0


def _validate(args) -> int:
    config = load_config(args.config)
    enabled = [name for name in type(config.triage).model_fields if getattr(config.triage, name) is not None]
    print(f"{config.source}: valid")
    print(f"  timezone {config.timezone}, home {config.home_path}, nightly '{config.schedules.nightly}'")
    print(f"  LLM {config.llm.host} ({config.llm.on_unavailable} when unavailable); collectors: {', '.join(enabled)}")
    slack_state = "set" if os.environ.get(config.slack.token_env) else "unset: outbox only"
    print(f"  Slack {config.slack.channel}, token from ${config.slack.token_env} ({slack_state})")
    return 0


def _cortex_query(args) -> int:
    import csv

    columns, rows = _on_cortex(args, lambda cortex: cortex.query(args.sql, lock_wait_s=args.wait))
    out = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    if columns:
        out.writerow(columns)
    out.writerows(rows)
    return 0


def _cortex_copy(args) -> int:
    copied = _on_cortex(args, lambda cortex: cortex.copy_to(args.destination, lock_wait_s=args.wait))
    print(f"Cortex copied to {copied}: open it with `duckdb {copied}` for as long as you like")
    return 0


def _on_cortex(args, action):
    """`action(cortex)`, its failures said in one line: a reader never holds Cortex beyond the action."""
    import duckdb

    from overnight_assets.resources.cortex import Cortex, CortexLockedError

    config = load_config(args.config)
    try:
        return action(Cortex(config.home_path / "cortex.duckdb"))
    except (CortexLockedError, OSError) as error:
        raise UserError(str(error)) from None
    except duckdb.Error as error:
        raise UserError(f"cortex: {str(error).splitlines()[0]}") from None


if __name__ == "__main__":
    sys.exit(main())
