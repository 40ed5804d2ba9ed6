"""`overnight cortex serve` as a real process on a free port, and client processes standing in for the
steps of two hosts (run as `python -m overnight_assets_tests.testkit.cortex_server ROLE CONFIG ...`).

Roles: `write WRITER UNITS` (each unit an llm_cache store and five memories, two of them the other
writer's too, through the real Cortex code); `hold` (a unit of work that inserts inside BEGIN, says
"inside" and waits to be killed); `claim PARTITION OWNER` (briefing/delivery.py's claim, prints
"claimed" or "not claimed").
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from overnight_assets_tests.testkit import REPO, poll
from overnight_assets_tests.testkit.loopback import free_port

TOKEN_ENV = "OVERNIGHT_TEST_CORTEX_TOKEN"


@dataclass
class ServedCortex:
    url: str
    token: str
    home: Path
    process: subprocess.Popen
    output: Path

    def client_config(self, folder: Path, token_env: str = TOKEN_ENV) -> Path:
        """An overnight.yaml whose Cortex is this server (its own `home`: a client never touches the file)."""
        folder.mkdir(parents=True, exist_ok=True)
        memory = {"server_url": self.url, "server_token_env": token_env}
        path = folder / "overnight.yaml"
        path.write_text(yaml.safe_dump({"home": str(folder / "home"), "memory": memory}))
        return path

    def client_env(self, token: str | None = None) -> dict:
        return {**os.environ, TOKEN_ENV: token or self.token, "PYTHONPATH": str(REPO), "NO_PROXY": "127.0.0.1"}


@contextlib.contextmanager
def cortex_server(root: Path, token: str, lease_s: float = 60.0, port: int | None = None) -> Iterator[ServedCortex]:
    """The server on `port` (default a free one), its Cortex in `root/home`, its output in `root/server.log`."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "server.yaml"
    config.write_text(yaml.safe_dump({"home": str(root / "home"), "memory": {"server_token_env": TOKEN_ENV}}))
    port, output = port or free_port(), root / "server.log"
    command = [sys.executable, "-m", "overnight_assets.cli", "cortex", "serve", "--config", str(config)]
    command += ["--port", str(port), "--lease", str(lease_s)]
    env = {**os.environ, TOKEN_ENV: token, "PYTHONPATH": str(REPO)}
    with open(output, "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    served = ServedCortex(f"http://127.0.0.1:{port}", token, root / "home", process, output)
    try:
        poll(lambda: "served on" in output.read_text() or process.poll() is not None, 60, "the Cortex server")
        assert process.poll() is None, output.read_text()
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def client(role: str, config: Path, env: dict, *args) -> subprocess.Popen:
    command = [sys.executable, "-m", "overnight_assets_tests.testkit.cortex_server", role, str(config), *map(str, args)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _cortex(config_path: str):
    from overnight_assets.config import load_config
    from overnight_assets.resources.cortex import Cortex

    return Cortex.of(load_config(config_path), lock_wait_s=120)


def _write(cortex, writer: int, units: int) -> None:
    from overnight_assets.resources.cortex import memory_hash

    for unit in range(units):
        with cortex.connect() as db:
            db.execute(
                "INSERT INTO llm_cache (cache_key, model, response) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [f"w{writer}-u{unit}", "qwen3.5", '{"status": "AMBER"}'],
            )
        own = [{"kind": "finding", "source": f"writer{writer}", "title": f"w{writer}-u{unit}-{i}"} for i in range(3)]
        shared = [{"kind": "finding", "source": "both", "title": f"shared-u{unit}-{i}"} for i in range(2)]
        for row in own + shared:
            row["content_hash"] = memory_hash(row["kind"], row["title"])
        cortex.remember(own + shared, partition_key="2026-11-20")


def _hold(cortex) -> None:
    with cortex.connect() as db:
        db.execute("BEGIN")
        db.execute("INSERT INTO llm_cache (cache_key, model, response) VALUES ('held', 'm', 'never committed')")
        print("inside", flush=True)
        time.sleep(3600)  # killed here


def _claim(cortex, partition_key: str, owner: str) -> None:
    from overnight_assets.briefing.delivery import claim_partition

    print("claimed" if claim_partition(cortex, partition_key, owner) else "not claimed", flush=True)


if __name__ == "__main__":
    role, config_path, *rest = sys.argv[1:]
    cortex = _cortex(config_path)
    if role == "write":
        _write(cortex, int(rest[0]), int(rest[1]))
    elif role == "hold":
        _hold(cortex)
    elif role == "claim":
        _claim(cortex, rest[0], rest[1])
    else:
        raise SystemExit(f"no role {role}")
