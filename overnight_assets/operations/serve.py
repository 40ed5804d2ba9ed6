"""`overnight serve`'s HTTP side: a bearer token, the job allowlist, the body limit, and the two routes.

    POST /runs        {"job": NAME, "partition": optional}   -> 202 {"run_id", "job", "partition", "status"}
    GET  /runs/{id}                                          -> 200 {"run_id", "job", "status", "verdicts", ...}

Plain Python with Starlette: what launches and reads runs is a `Runs` the caller hands in (the Dagster
side lives in overnight_assets/serve_launch.py), so this module knows nothing of Dagster.

Answers: 401 (with `WWW-Authenticate: Bearer`) for a missing, malformed or wrong token, before
anything else is looked at; 404 for a job or run that is not the project's, 403 for one of the
project's jobs the configuration (`serve.jobs`) keeps from the token; 400 for a request that cannot
be run (a partitioned job without a valid partition); 413 for a body over the limit, refused from its
Content-Length or, chunked, as soon as the limit is passed, never read whole. The token is compared in
constant time and never written anywhere: errors and logs name neither it nor the one sent.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Protocol

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

MIN_TOKEN_LENGTH = 16  # shorter is guessable: refused at start-up
REALM = 'Bearer realm="overnight"'


@dataclass(frozen=True)
class JobInfo:
    """One of the project's jobs as the service offers it: a partition checker when it is partitioned."""

    name: str
    partition_problem: Callable[[str], str | None] | None = None  # None: the job takes no partition


@dataclass(frozen=True)
class RunView:
    run_id: str
    job: str
    status: str  # Dagster's run status: QUEUED, STARTED, SUCCESS, FAILURE, CANCELED...
    finished: bool
    partition: str | None = None
    overall: str | None = None  # the status of the briefing the run composed, when it composed one
    verdicts: list[dict[str, str]] = field(default_factory=list)  # then each section's verdict
    note: str | None = None  # why verdicts are missing although a briefing was composed


class Runs(Protocol):
    """What the service launches and reads runs through (the Dagster side, or a test's stand-in)."""

    def jobs(self) -> Mapping[str, JobInfo]: ...

    def launch(self, job: str, partition: str | None) -> str: ...

    def run(self, run_id: str) -> RunView | None: ...


class RefusedToStart(ValueError):
    """The service would be unsafe or useless as configured: said in one line, nothing started."""


def check_token(token: str | None, variable: str) -> str:
    """The token from the environment, or why the service must not start without one."""
    if not token:
        raise RefusedToStart(
            f"${variable} (serve.token_env) is not set: overnight serve does not start without a bearer token; "
            "set it, e.g. to the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise RefusedToStart(
            f"${variable} (serve.token_env) is shorter than {MIN_TOKEN_LENGTH} characters: too easy to guess"
        )
    return token


def allowed_jobs(project_jobs: Mapping[str, JobInfo], configured: list[str] | None) -> frozenset[str]:
    """The jobs a token may touch: serve.jobs, each one a job of the project, or every job when it is null."""
    if configured is None:
        return frozenset(project_jobs)
    unknown = sorted(set(configured) - set(project_jobs))
    if unknown:
        raise RefusedToStart(
            f"serve.jobs names {', '.join(unknown)}, not a job of the project (its jobs: {', '.join(sorted(project_jobs))})"
        )
    return frozenset(configured)


def build_app(runs: Runs, token: str, allowed: frozenset[str], max_body_bytes: int) -> ASGIApp:
    """The service: the routes behind the token check and the body limit."""
    project_jobs = runs.jobs()

    async def launch(request: Request) -> Response:
        body = await _json_body(request, max_body_bytes)
        if isinstance(body, Response):
            return body
        job, partition = body.get("job"), body.get("partition")
        if not isinstance(job, str) or not (partition is None or isinstance(partition, str)):
            return _error(400, 'expected {"job": NAME, "partition": optional string}')
        if job not in project_jobs:
            return _error(404, f"no job {job!r} in the project")
        if job not in allowed:
            return _error(403, f"job {job!r} is not one this service launches (serve.jobs)")
        problem = _partition_problem(project_jobs[job], partition)
        if problem:
            return _error(400, problem)
        run_id = await run_in_threadpool(runs.launch, job, partition)
        return JSONResponse({"run_id": run_id, "job": job, "partition": partition, "status": "launched"}, 202)

    async def show(request: Request) -> Response:
        run = await run_in_threadpool(runs.run, request.path_params["run_id"])
        if run is None or run.job not in project_jobs:
            return _error(404, "no run of the project has that id")
        if run.job not in allowed:
            return _error(403, f"runs of job {run.job!r} are not shown by this service (serve.jobs)")
        return JSONResponse(asdict(run))

    app = Starlette(routes=[Route("/runs", launch, methods=["POST"]), Route("/runs/{run_id}", show, methods=["GET"])])
    return _BearerToken(app, token)


def _partition_problem(job: JobInfo, partition: str | None) -> str | None:
    if job.partition_problem is None:
        return f"job {job.name!r} takes no partition" if partition is not None else None
    if partition is None:
        return f'job {job.name!r} is partitioned: give "partition"'
    return job.partition_problem(partition)


async def _json_body(request: Request, limit: int) -> dict | Response:
    """The request's JSON object, read up to `limit` bytes: a longer body is refused (413) from its
    Content-Length or, sent chunked, as soon as it passes the limit, the rest never read."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return _error(413, f"the request body is over {limit} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            return _error(413, f"the request body is over {limit} bytes")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "the body is not JSON")
    return body if isinstance(body, dict) else _error(400, 'expected a JSON object: {"job": NAME}')


def _error(status: int, message: str, headers: dict | None = None) -> Response:
    return JSONResponse({"error": message}, status, headers=headers)


class _BearerToken:
    """ASGI middleware: a request without the right `Authorization: Bearer` token gets 401 and nothing else."""

    def __init__(self, app: ASGIApp, token: str):
        self.app, self.expected = app, token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        sent = _bearer(scope)
        if sent is None:
            return await _error(401, "a bearer token is required", {"WWW-Authenticate": REALM})(scope, receive, send)
        if not hmac.compare_digest(sent, self.expected):
            refusal = _error(401, "the token is not valid", {"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
            return await refusal(scope, receive, send)
        await self.app(scope, receive, send)


def _bearer(scope: Scope) -> bytes | None:
    """The token of the request's `Authorization: Bearer ...` header, as bytes; None when there is none."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.partition(b" ")
            return credentials.strip() if scheme.lower() == b"bearer" and credentials.strip() else None
    return None
