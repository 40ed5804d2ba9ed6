"""The daemon's own CPU while nothing runs, with every schedule and sensor of the project on.

A real `dagster-daemon run` on workspace.yaml, on a temporary SQLite DAGSTER_HOME with the repo's
dagster.yaml (run monitoring on), a config where every sensor does its real work: Slack's token set
and a Cortex on disk (outbox_sensor queries it), one git repository under code_review.repos
(new_commits_sensor reads its branch tips); the schedules and sensors default to RUNNING. After a
warm-up (until every sensor with an interval has ticked once, the code server loaded), the CPU
seconds of the daemon's whole process tree (the daemon and the code server it spawns, read from
/proc: utime + stime, and cutime + cstime for children that ended) are counted over --seconds
(default 150: at least two dead_worker_sensor ticks, the run-failure sensor's every 30 s, and the
daemons' own loops), with each process's share and the ticks of each sensor in the window.

Where it goes: the daemon reloads its workspace every minute (Dagster's RELOAD_WORKSPACE_INTERVAL,
60 s), which starts a fresh `dagster api grpc` code server, so every minute pays one import of the
code location (see import_location) besides the ticks themselves.

Target: at most 5 % of one core.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

TARGET_PCT = 5.0
TICKING = ("dead_worker_sensor", "new_commits_sensor", "outbox_sensor", "briefing_after_failure_sensor")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ENDED = -1  # the row that takes off what processes ended in the window had spent before it


def proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and its reaped children), None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return int(fields[1]), (utime + stime + cutime + cstime) / CLOCK_TICKS


def process_tree(root: int) -> dict[int, float]:
    """CPU seconds of root and every descendant alive now."""
    stats = {int(entry): stat for entry in os.listdir("/proc") if entry.isdigit() and (stat := proc_stat(int(entry)))}
    tree, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        if pid in stats:
            tree[pid] = stats[pid][1]
            frontier += [child for child, (parent, _) in stats.items() if parent == pid]
    return tree


def command_line(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "(gone)"
    return " ".join(Path(words[0].decode()).name if i == 0 else w.decode() for i, w in enumerate(words) if w)[:90]


def ticks_by_sensor(instance) -> dict[str, int]:
    from dagster._core.definitions.run_request import InstigatorType

    counts = dict.fromkeys(TICKING, 0)
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.name in counts:
            counts[state.name] += len(instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=10_000))
    return counts


def make_cortex() -> None:
    """The config's Cortex on disk, so that outbox_sensor's tick queries it."""
    from overnight_assets.config.loader import load_config
    from overnight_assets.resources.cortex import Cortex

    with Cortex(load_config().paths.cortex).connect():
        pass  # creates the file and its tables


def watch_daemon(seconds: float) -> tuple[dict[int, float], dict[int, str], float, dict[str, int]]:
    """Start the daemon, warm it up, then count over `seconds`: (CPU seconds per process, their
    command lines, the window's length, ticks per sensor in the window)."""
    import dagster as dg

    from overnight_assets_tests.testkit import poll
    from overnight_assets_tests.testkit.instances import dagster_daemon

    with dg.DagsterInstance.get() as instance, dagster_daemon() as daemon:
        started = time.monotonic()
        poll(lambda: all(ticks_by_sensor(instance).values()), 300, "every sensor's first tick")
        time.sleep(10)  # the first ticks' runs of imports and queries are over before the window
        print(f"  warm-up: {time.monotonic() - started:.0f} s until every sensor had ticked once, then 10 s")
        ticks_before, tree_before, window_start = ticks_by_sensor(instance), process_tree(daemon.pid), time.monotonic()
        time.sleep(seconds)
        tree_after, window = process_tree(daemon.pid), time.monotonic() - window_start
        names = {pid: command_line(pid) for pid in tree_after}
        ticks = {name: count - ticks_before[name] for name, count in ticks_by_sensor(instance).items()}
        assert daemon.poll() is None, "the daemon exited during the window"
    for pid in tree_after.keys() - tree_before.keys():
        names[pid] = f"(started in the window) {names[pid]}"
    # a process alive at both ends counts its difference, one born in the window counts whole; one that
    # ended was reaped into its parent's cutime whole, so what it had spent before the window comes off
    shares = {pid: cpu - tree_before.get(pid, 0.0) for pid, cpu in tree_after.items()}
    ended = tree_before.keys() - tree_after.keys()
    shares[ENDED] = -sum(tree_before[pid] for pid in ended)
    names[ENDED] = f"(the {len(ended)} that ended in the window: their CPU before it, counted in their parent's)"
    return shares, names, window, ticks


def main(seconds: float) -> None:
    from _loopback import loopback
    from _report import figure, report

    from overnight_assets_tests.testkit.git_history import GitRepo

    with tempfile.TemporaryDirectory(prefix="overnight-bench-repo-") as tmp:
        repo = GitRepo(Path(tmp) / "homelab")
        repo.commit("first", {"README.md": "hello\n"})  # new_commits_sensor reads its branch tips
        with loopback(code_review__repos=[{"name": "homelab", "path": str(repo.path)}]):
            make_cortex()
            shares, names, window, ticks = watch_daemon(seconds)

    total = sum(shares.values())
    percent = 100 * total / window
    print(f"  window: {window:.0f} s, {total:.2f} CPU s in the daemon's process tree")
    for pid, cpu in sorted(shares.items(), key=lambda item: -item[1]):
        print(f"    {100 * cpu / window:5.2f} %  {cpu:6.2f} s  {names[pid]}")
    for name, count in ticks.items():
        print(f"  {name:<32} {count} ticks in the window")
    report(
        "daemon_idle_cpu",
        [
            figure(
                "daemon tree CPU, idle, every sensor on", percent, "%", f"<= {TARGET_PCT:g} %", percent <= TARGET_PCT
            ),
            figure("  CPU seconds in the window", total, "s"),
            figure("  window", window, "s"),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=150.0, help="the measurement window (default 150)")
    main(parser.parse_args().seconds)
