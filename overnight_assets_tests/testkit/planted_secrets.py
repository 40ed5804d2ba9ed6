"""A secret of every kind overnight_assets.redaction knows, shaped to fit each place a repository
holds text, or another outside source (a feed, the auth log, the model's answer). Each (kind, place)
gets its own value, so a leak names where it came from. And where to look for a leak: everything
a night wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from overnight_assets.redaction import KINDS

PLACES = (
    "subject",
    "body",
    "branch name",
    "tag name",
    "file path",
    "author name",
    "author email",
    "diff line",
    "merge message",
)
# text read from outside a repository; free text, one line each
OUTSIDE_PLACES = (
    "feed title",
    "feed summary",
    "paper title",
    "paper abstract",
    "paper author",
    "sudo command",
    "auth log junk",
    "model answer",
)
TAGS = dict(
    zip(
        PLACES + OUTSIDE_PLACES,
        (
            "SUBJ",
            "BODY",
            "BRCH",
            "TAGN",
            "PATH",
            "NAME",
            "MAIL",
            "DIFF",
            "MRGE",
            "FTTL",
            "FSUM",
            "PTTL",
            "PABS",
            "PAUT",
            "SUDO",
            "JUNK",
            "LLMA",
        ),
        strict=True,
    )
)
REF_PLACES = ("branch name", "tag name")  # git refuses spaces and ':' there
MULTI_LINE_PLACES = ("body", "diff line", "merge message")


def _value(kind: str, tag: str) -> str:
    return {
        "AWS access key id": f"AKIA{tag}Q7RT2ZX9WP4M",
        "AWS secret access key": f"wJalrXUtnFEMI{tag}K7MDENGbPxRfiCYEXAMPLEK",
        "GitHub token": f"ghp_{tag}R8x2Lq9Zt4Vb7Nc1Md6Pf3Hs5Jk0WyQ1e2",
        "Slack token": f"xoxb-2048-{tag}-Z8t4Vb7Nc1Md",
        "Slack webhook": f"XQ{tag}t4Vb7Nc1Md6Pf3H",
        "Google API key": f"AIzaSy{tag}D3fGh5Jk7Lm9Np1Qr3St5Uv7Wx9Yz",
        "Google OAuth token": f"ya29.a0{tag}Zt4Vb7Nc1Md6Pf3HsJk",
        "password in a URL": f"Pw{tag}9x!zQ",
        "private key block": f"MIIEpAIBAAKCAQEA{tag}3Zt4Vb7Nc1Md6Pf3HsJk0WyQ",
        "password": f"hunter2{tag}x",
        "token": f"t0k{tag}Zt4Vb7",
        "secret": f"s3c{tag}Nc1Md6",
        "API key": f"k3y{tag}Pf3HsJ",
    }[kind]


# kind -> (form in free text, form in a ref name or None when a ref cannot hold it); {v} is the value
FORMS = {
    "AWS access key id": ("AWS_ACCESS_KEY_ID={v}", "AWS_ACCESS_KEY_ID={v}"),
    "AWS secret access key": ("aws_secret_access_key = {v}", "aws_secret_access_key={v}"),
    "GitHub token": ("GITHUB_TOKEN={v}", "GITHUB_TOKEN={v}"),
    "Slack token": ("slack bot {v}", "slack-{v}"),
    "Slack webhook": ("hooks.slack.com/services/T0{t}/B0{t}/{v}", "hooks.slack.com/services/T0{t}/B0{t}/{v}"),
    "Google API key": ("maps key {v}", "maps-{v}"),
    "Google OAuth token": ("Bearer {v}", "bearer-{v}"),
    "password in a URL": ("https://deploy:{v}@git.example.org/homelab.git", None),
    "private key block": ("-----BEGIN RSA PRIVATE KEY-----{v}-----END RSA PRIVATE KEY-----", None),
    "password": ("password: {v}", "password={v}"),
    "token": ('token: "{v}"', "token={v}"),
    "secret": ("SECRET_KEY='{v}'", "SECRET_KEY='{v}'"),
    "API key": ('"api_key": "{v}"', "api_key={v}"),
}
KEY_BLOCK = "-----BEGIN RSA PRIVATE KEY-----\n{v}\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\n-----END RSA PRIVATE KEY-----"


@dataclass(frozen=True)
class Plant:
    kind: str
    place: str
    text: str  # what is planted
    value: str  # what must never come out


def plant(kind: str, place: str) -> Plant | None:
    """The secret of this kind for this place, or None where git cannot hold it (a space or ':' in a
    ref name, '//' in a path)."""
    tag = TAGS[place]
    value = _value(kind, tag)
    free, ref = FORMS[kind]
    form = (
        ref
        if place in REF_PLACES
        else (KEY_BLOCK if kind == "private key block" and place in MULTI_LINE_PLACES else free)
    )
    if form is None or (place == "file path" and "//" in form):  # a path collapses '//': no URL left in it
        return None
    return Plant(kind, place, form.format(v=value, t=tag), value)


PLANTS_OF_PLACES = [
    (kind, place) for place in PLACES for kind in KINDS if plant(kind, place)
]  # every pair git can hold


def everything_written(home, dagster_home, instance) -> dict[str, bytes]:
    """Every file (its name and its bytes) under home and DAGSTER_HOME, every text column of
    Cortex (DuckDB may compress what it stores), and every event and tag of every run."""
    import dagster as dg
    import duckdb

    sources = {}
    for root in (home, dagster_home):
        for path in sorted(root.rglob("*")):
            sources[f"file name {path}"] = str(path).encode()
            if path.is_file():
                sources[f"file {path}"] = path.read_bytes()
    with duckdb.connect(str(home / "cortex.duckdb"), read_only=True) as db:
        columns = db.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE data_type = 'VARCHAR'"
        ).fetchall()
        for table, column in columns:
            values = [row[0] for row in db.execute(f'SELECT "{column}" FROM "{table}"').fetchall()]
            sources[f"cortex {table}.{column}"] = "\n".join(map(str, values)).encode()
    for run in instance.get_runs():
        events = [dg.serialize_value(entry) for entry in instance.all_logs(run.run_id)]
        sources[f"run {run.run_id} events"] = "\n".join(events).encode()
        sources[f"run {run.run_id} tags"] = json.dumps(run.tags).encode()
    return sources


def leaks(sources: dict[str, bytes], value: str) -> list[str]:
    """The names of the sources the value appears in."""
    return [name for name, data in sources.items() if value.encode() in data]
