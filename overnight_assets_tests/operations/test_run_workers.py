"""Judging a run's worker from what it recorded, against this host's real /proc."""

import os
import socket
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from overnight_assets.operations.run_workers import Host, SlotHolder, Worker, dead_worker_reason, waiting_message


def exited_process_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()  # reaped: no process has its pid any more (until the kernel reuses it)
    return process.pid


def test_this_process_is_alive_and_its_record_reads_back():
    host = Host.here()
    me = host.this_process()
    assert (me.host, me.pid) == (socket.gethostname(), os.getpid())
    assert Worker.from_tag(me.as_tag()) == me
    assert host.why_gone(me) is None


def test_a_worker_is_gone_when_its_pid_is_free_reused_or_the_host_restarted():
    host = Host.here()
    me = host.this_process()
    assert host.why_gone(replace(me, pid=exited_process_pid())) == "no process has that pid"
    assert (
        host.why_gone(replace(me, start_ticks=me.start_ticks - 1)) == "its pid now belongs to a process started later"
    )
    assert host.why_gone(replace(me, boot_id="00000000-0000-0000-0000-000000000000")) == "the host restarted since"


def test_another_hosts_or_containers_worker_and_a_run_without_a_record_are_never_judged():
    host = Host.here()
    me = host.this_process()
    gone_here = replace(me, pid=exited_process_pid())
    assert host.why_gone(replace(gone_here, host="gpu-box")) is None
    assert host.why_gone(replace(gone_here, pid_namespace="pid:[1]")) is None  # same host name, another pid namespace
    assert host.why_gone(None) is None
    assert Host(host.name, None, None).why_gone(gone_here) is None  # no /proc: nothing can be judged
    for tag in (None, "", "host=vm pid=12", "host=vm pid=x start=1 boot=b pidns=p"):
        assert Worker.from_tag(tag) is None


def test_a_zombie_counts_as_gone():
    process = subprocess.Popen(["true"])
    stat = f"/proc/{process.pid}/stat"
    while Path(stat).read_text().rsplit(")", 1)[1].split()[0] != "Z":  # exited, not yet reaped: still in /proc
        time.sleep(0.01)  # polling the process's state
    assert Host.here().process_start(process.pid) is None
    process.wait()


def test_what_a_recovered_run_and_a_waiting_run_say():
    worker = Worker("homelab", "boot", "pid:[4026531836]", 1234, 99)
    assert dead_worker_reason(worker, "no process has that pid", ["gpu"]) == (
        "worker process 1234 on host homelab is gone (killed? no process has that pid): marked failed, gpu slot freed"
    )
    assert dead_worker_reason(worker, "the host restarted since", []).endswith("marked failed, it held no pool slot")
    since = datetime(2026, 11, 20, 2, 0, 5, tzinfo=UTC)
    message = waiting_message("gpu", [SlotHolder("abc-123", "security_triage", since)])
    local = since.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    assert message == f"waiting for the gpu pool: held by run abc-123 (step security_triage, started {local})"
    assert waiting_message("gpu", []) == "waiting for the gpu pool"
