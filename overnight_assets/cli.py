"""The `overnight` command: demo, run one night, list missed nights, re-baseline file integrity, validate a config, read Cortex, serve."""

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
REPO_WORKSPACE = REPO_DAGSTER_YAML.with_name("workspace.yaml")
DEMO_FIRST_NIGHT_ENV = "OVERNIGHT_DEMO_FIRST_NIGHT"  # read by the demo config's first_night
DEMO_FIRST_NIGHT_FILE = "overnight-demo-first-night"  # in the demo's DAGSTER_HOME
GAPS_FOUND = 3  # `overnight gaps`' exit code when nights are missing (2: bad config or environment)


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

    gaps = commands.add_parser(
        "gaps", help=f"list the nights not materialized and the command that backfills them (exit {GAPS_FOUND} if any)"
    )
    gaps.set_defaults(handler=_gaps)

    validate = commands.add_parser("validate", help="check a config file and say what it configures")
    validate.add_argument("--config", help="overnight.yaml")
    validate.set_defaults(handler=_validate)

    _add_cortex_commands(commands)
    _add_doctor_command(commands)
    _add_feedback_command(commands)
    _add_serve_command(commands)
    return parser


def _add_serve_command(commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="an HTTP service for other machines: POST /runs launches one of the project's jobs, "
        "GET /runs/ID says how it went (a bearer token from serve.token_env)",
    )
    serve.add_argument("--config", help=f"overnight.yaml (default: ${CONFIG_ENV} or ./overnight.yaml)")
    serve.add_argument("--bind", help="address to listen on (default: serve.bind, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: serve.port, 8765)")
    serve.set_defaults(handler=_serve)


def _add_doctor_command(commands) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="check that this host is ready for the night: one line per part, what to fix; "
        "exit 1 when something is broken",
    )
    doctor.add_argument("--config", help="overnight.yaml")
    doctor.add_argument("--timeout", type=float, default=5.0, metavar="S", help="seconds each outside call may take")
    doctor.add_argument(
        "--expect-briefing",
        action="store_true",
        help="also check that the last due night's morning message was delivered (a dead-man's switch for cron)",
    )
    doctor.add_argument(
        "--by",
        type=_clock,
        metavar="HH:MM",
        help="when the morning message is due (default: alerts.briefing_by, else 08:00)",
    )
    doctor.set_defaults(handler=_doctor)


def _add_feedback_command(commands) -> None:
    feedback = commands.add_parser(
        "feedback",
        help="say what an item of a briefing was worth (ITEM as printed: R3, P2, C1); the cerebellum learns from it",
    )
    feedback.add_argument("item", metavar="ITEM", help="the ref printed before the item in the briefing, e.g. R3")
    feedback.add_argument("verdict", choices=["good", "bad"])
    feedback.add_argument(
        "--date", type=_date, help="the briefing's night (default: the latest delivered one printing ITEM)"
    )
    feedback.add_argument("--config", help="overnight.yaml")
    feedback.set_defaults(handler=_feedback)


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
    unmerge = actions.add_parser(
        "unmerge",
        parents=[options],
        help="undo consolidation's merge (or compression) into SURVIVOR: the memories it absorbed live again, "
        "with their edges, and are never merged with it again",
    )
    unmerge.add_argument("survivor", type=int, help="the id of the memory whose merged_from lists them")
    unmerge.add_argument("ids", type=int, nargs="*", help="only these of them (default: all)")
    unmerge.set_defaults(handler=_cortex_unmerge)
    serve = actions.add_parser("serve", help="hold Cortex and serve it to every host's steps (memory.server_url)")
    serve.add_argument("--config", help="overnight.yaml")
    serve.add_argument("--bind", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8766)
    serve.add_argument("--lease", type=float, default=60, metavar="S", help="a session idle this long is rolled back")
    serve.set_defaults(handler=_cortex_serve)


def _date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _clock(text: str):
    from overnight_assets.operations.doctor import parse_clock

    try:
        return parse_clock(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _demo(args) -> int:
    dagster_home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path.cwd() / ".dagster_home")))
    dagster_home.mkdir(parents=True, exist_ok=True)
    if not (dagster_home / "dagster.yaml").exists() and REPO_DAGSTER_YAML.exists():
        shutil.copy(REPO_DAGSTER_YAML, dagster_home / "dagster.yaml")
    os.environ[CONFIG_ENV] = str(BUNDLED_DEMO_CONFIG)
    os.environ.setdefault(HOME_ENV, str(dagster_home / "overnight-home"))
    config = load_config()
    partition = args.date or (datetime.now(config.tz).date() - timedelta(days=1)).isoformat()
    config = _demo_first_night(dagster_home, partition)
    prepare_demo_auth_log(date.fromisoformat(partition), Path(config.triage.auth_log.path))
    feeds = prepare_demo_feeds(date.fromisoformat(partition), config.paths.demo_inputs / "feeds")
    for repo in config.code_review.repos:
        prepare_demo_repository(date.fromisoformat(partition), config.timezone, Path(repo.path))
    if args.inputs_only:
        print(f"Demo inputs written for {partition}: {config.triage.auth_log.path}, {feeds}")
        return 0
    print(f"overnight demo: nightly chain for {partition}, DAGSTER_HOME={dagster_home}, home={config.paths.home}")
    success = _night(partition, brief_after_failure=False)
    _print_outcome(config, partition)
    return 0 if success else 1


def _run(args) -> int:
    if args.config:
        os.environ[CONFIG_ENV] = str(Path(args.config).resolve())
    if not os.environ.get("DAGSTER_HOME"):
        raise UserError("DAGSTER_HOME is not set: point it at the folder holding your dagster.yaml")
    config = load_config()
    _check_partition(args.date, config)
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


def _serve(args) -> int:
    if args.config:
        os.environ[CONFIG_ENV] = str(Path(args.config).resolve())  # the code server it starts reads the same file
    if not os.environ.get("DAGSTER_HOME"):
        raise UserError("DAGSTER_HOME is not set: point it at the folder holding your dagster.yaml")
    config = load_config()
    from overnight_assets.launch import LaunchError
    from overnight_assets.operations.serve import RefusedToStart
    from overnight_assets.serve_launch import serve

    try:
        serve(config, args.bind or config.serve.bind, args.port or config.serve.port)
    except (RefusedToStart, LaunchError) as error:
        raise UserError(str(error)) from None
    return 0


def _demo_first_night(dagster_home: Path, partition: str):
    """The demo instance's partitions start at the first night the demo ran on it (or an earlier
    --date, not before the partitions' default start): recorded in its DAGSTER_HOME, so `make dev`
    on the same instance agrees, and moved only earlier, so no night the demo materialized leaves
    the partition set. The config, loaded with it; `partition` checked against it."""
    from overnight_assets.partitions import FIRST_NIGHT

    record = dagster_home / DEMO_FIRST_NIGHT_FILE
    recorded = record.read_text().strip() if record.exists() else partition
    first_night = os.environ.get(DEMO_FIRST_NIGHT_ENV) or max(min(recorded, partition), FIRST_NIGHT)
    os.environ[DEMO_FIRST_NIGHT_ENV] = first_night
    config = load_config()
    _check_partition(partition, config)
    record.write_text(first_night + "\n")
    return config


def _check_partition(partition: str, config) -> None:
    """A date the nightly partitions do not hold fails here, not deep in a run after Ollama was asked."""
    from overnight_assets.partitions import nightly_partitions

    partitions = nightly_partitions(config)
    first, last = partitions.get_first_partition_key(), partitions.get_last_partition_key()
    if first is None or not first <= partition <= last:
        raise UserError(
            f"--date {partition} is not a nightly partition: expected a date from {config.first_night} "
            f"(first_night) to {last or config.first_night} (today in {config.timezone})"
        )


def _print_outcome(config, partition: str) -> None:
    """Each section's verdict, where the morning message is and its first lines, what waits."""
    verdicts = section_verdicts(config, partition)
    briefing = config.paths.briefing(partition)
    if verdicts:
        print()
        for verdict in verdicts:
            print(f"{verdict['title']}: {verdict['status']}, {verdict['items']} (llm: {verdict['llm']})")
    if briefing.exists():
        print(f"Morning message: {briefing}\n")
        print("\n".join(briefing.read_text().splitlines()[:12]))
    outbox = sorted(config.paths.outbox.glob("*.json"))
    if outbox:
        print(f"\nUndelivered messages kept in {config.paths.outbox}: {len(outbox)}")


def section_verdicts(config, partition: str) -> list[dict[str, str]]:
    """Each section of the night's composed briefing: title, status, its items counted, the LLM's part."""
    import json

    composed = config.paths.assets / "morning_briefing" / f"{partition}.json"
    if not composed.exists():
        return []
    return [
        {
            "title": section["title"],
            "status": section["status"],
            "items": _counted(section["items"]),
            "llm": section["llm"],
        }
        for section in json.loads(composed.read_text())["sections"]
    ]


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
    store.record_baseline(Cortex.of(config), hashes)
    print(f"Baseline recorded for {len(hashes)} files under {', '.join(config.triage.integrity.paths)}")
    for finding in unreadable:
        print(f"  not readable: {finding.detail or finding.title}")
    return 0


def _gaps(args) -> int:
    """Nights from first_night to the last one the schedule has ticked for, some nightly asset missing."""
    import shlex

    from overnight_assets.operations.gaps import backfill_command

    if not os.environ.get("DAGSTER_HOME"):
        raise UserError("DAGSTER_HOME is not set: point it at the folder holding your dagster.yaml")
    config = load_config()
    nights, missing = _nightly_gaps(config)
    if not missing:
        print(f"No gaps: every nightly asset is materialized for {_span(nights)}.")
        return 0
    print(f"{len(missing)} of {len(nights)} nights ({_span(nights)}) not materialized:")
    print("".join(f"  {night}\n" for night in missing))
    location = ["-w", str(REPO_WORKSPACE)] if REPO_WORKSPACE.exists() else ["-m", "overnight_assets.definitions"]
    # the backfill command loads the code location as this process did: the same file, home and first night
    environment = {"DAGSTER_HOME": os.environ["DAGSTER_HOME"], CONFIG_ENV: str(Path(config.source).resolve())}
    environment |= {name: os.environ[name] for name in (HOME_ENV, DEMO_FIRST_NIGHT_ENV) if os.environ.get(name)}
    print("Backfill them (a running daemon, `make dev` or `dagster-daemon run`, runs the runs):")
    print(" ".join(f"{name}={shlex.quote(value)}" for name, value in environment.items()), end=" ")
    print(backfill_command(missing, location, _installed_beside_us("dagster")))
    return GAPS_FOUND


def _installed_beside_us(command: str) -> str:
    """`command` as installed in this Python's environment (a venv not on PATH: `.venv/bin/dagster`),
    else the bare name for PATH to find."""
    beside = Path(sys.executable).with_name(command)
    return str(beside) if beside.exists() and shutil.which(command) != str(beside) else command


def _nightly_gaps(config) -> tuple[list[str], list[str]]:
    """(nights due, nights missing): the nights due end with the last one the nightly cron ticked for."""
    import time

    import dagster as dg
    from dagster._utils.schedules import reverse_cron_string_iterator  # the daemon's own cron arithmetic

    from overnight_assets.definitions import NIGHTLY, defs
    from overnight_assets.operations.gaps import missing_nights
    from overnight_assets.partitions import night_partition, nightly_partitions

    last_tick = next(reverse_cron_string_iterator(time.time(), config.schedules.nightly, config.timezone))
    last_night = night_partition(last_tick, config.timezone)
    nights = [night for night in nightly_partitions(config).get_partition_keys() if night <= last_night]
    with dg.DagsterInstance.get() as instance:
        materialized = [
            instance.get_materialized_partitions(key) for key in NIGHTLY.resolve(defs.resolve_asset_graph())
        ]
    return nights, missing_nights(nights, materialized)


def _span(nights: list[str]) -> str:
    return f"{nights[0]} to {nights[-1]}" if nights else "no night yet"


def _validate(args) -> int:
    config = load_config(args.config)
    enabled = [name for name in type(config.triage).model_fields if getattr(config.triage, name) is not None]
    print(f"{config.source}: valid")
    print(f"  timezone {config.timezone}, home {config.paths.home}, nightly '{config.schedules.nightly}'")
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


def _cortex_serve(args) -> int:
    from overnight_assets.resources.cortex_server import serve

    config = load_config(args.config)
    token_env = config.memory.server_token_env
    if not (token := os.environ.get(token_env)):
        raise UserError(f"cortex serve: {token_env} is not set: set the token every client will send")
    serve(config.paths.cortex, token, args.bind, args.port, args.lease, ready=lambda line: print(line, flush=True))
    return 0


def _cortex_unmerge(args) -> int:
    from overnight_assets.memory.consolidation import undo_merge

    def undo(cortex):
        try:
            return undo_merge(cortex, args.survivor, args.ids or None)
        except ValueError as error:  # no such memory
            raise UserError(f"cortex unmerge: {error}") from None

    restored = _on_cortex(args, undo)
    if not restored:
        print(f"Memory {args.survivor} has nothing merged into it to restore (see its merged_from)")
        return 0
    print(f"Live again, apart from {args.survivor} from now on: {', '.join(map(str, restored))}")
    return 0


def _on_cortex(args, action):
    """`action(cortex)`, its failures said in one line: a reader never holds Cortex beyond the action."""
    import duckdb

    from overnight_assets.resources.cortex import Cortex, CortexLockedError

    config = load_config(args.config)
    try:
        return action(Cortex.of(config))
    except (CortexLockedError, OSError) as error:
        raise UserError(str(error)) from None
    except duckdb.Error as error:
        raise UserError(f"cortex: {str(error).splitlines()[0]}") from None


def _feedback(args) -> int:
    from overnight_assets.memory.feedback import FeedbackError, give_feedback

    config = load_config(args.config)
    try:
        given = _on_cortex(args, lambda cortex: give_feedback(cortex, args.item, args.verdict, args.date))
    except FeedbackError as error:
        raise UserError(str(error)) from None
    said = "recorded" if given.recorded else "already recorded"
    print(f"{given.ref} of {given.partition_key} ({given.title}): {given.verdict}, {said}.")
    print(f"The cerebellum applies it on its next run (weights in {config.paths.cortex}, table weight_log).")
    return 0


def _doctor(args) -> int:
    from overnight_assets.operations import doctor

    checks = doctor.examine(args.config, os.environ, _daemon_state, args.timeout, args.expect_briefing, args.by)
    for check in checks:
        print("\n".join(check.lines()))
    print(f"overnight doctor: {doctor.summary(checks)}")
    return doctor.exit_code(checks)


def _daemon_state():
    """The daemon's heartbeats in the instance at DAGSTER_HOME, for the doctor (whose logic imports no dagster)."""
    import dagster as dg

    from overnight_assets.operations.doctor import DaemonState, Heartbeat

    with dg.DagsterInstance.get() as instance:
        heartbeats = {
            kind: Heartbeat(beat.timestamp, beat.errors[0].message if beat.errors else None)
            for kind, beat in instance.get_daemon_heartbeats().items()
        }
        return DaemonState(list(instance.get_required_daemon_types()), heartbeats)


if __name__ == "__main__":
    sys.exit(main())
