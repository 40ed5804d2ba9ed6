"""The cerebellum on a graph the test makes: exactly the path that produced an item is warmed or
cooled, the rest decays, every change has its logged reason, a rerun applies nothing twice; its
reactions read from Slack's Web API on loopback; and the whole night, with refs, end to end."""

import json

import pytest

from overnight_assets.memory.cerebellum import FLOOR, MAX_NIGHT_CHANGE, STEP, Failure, Settings, run_night
from overnight_assets.memory.feedback import give_feedback
from overnight_assets.resources.cortex import Cortex, memory_hash
from overnight_assets.resources.memory_graph import (
    Edge,
    Provenance,
    anchor_row,
    edge_target,
    link,
    remember,
    weight_of,
)
from overnight_assets.resources.slack import SlackPoster
from overnight_assets_tests.testkit.fake_slack import FakeSlack
from overnight_assets_tests.testkit.loopback import RawReply, serving
from overnight_assets_tests.testkit.nights import NIGHT, metadata, run_nightly

MESSAGE_TS, REPLY_TS = "1795000000.000100", "1795000001.000200"
SETTINGS = Settings(decay_per_night=0.9)


class Graph:
    """Two sources and two topics; A (source S, topic T1) and B (S, T2) from S, C (S2, T1) from S2.
    The briefing of NIGHT listed A as R1 and B as R2 in its message, C as R3 in a thread reply."""

    def __init__(self, cortex: Cortex):
        night = Provenance("article_digest", NIGHT, "run-1")
        rows = [
            {"kind": "article", "source": source, "url": f"https://news.example/{name}", "title": f"Story {name}"}
            for name, source in (("A", "S"), ("B", "S"), ("C", "S2"))
        ]
        anchors = [
            anchor_row("source", "S"),
            anchor_row("source", "S2"),
            anchor_row("topic", "T1"),
            anchor_row("topic", "T2"),
        ]
        ids = remember(cortex, rows + anchors, night).ids
        self.id = {row["title"][-1]: ids[memory_hash("article", row["url"])] for row in rows}
        self.id |= {row["title"]: ids[row["content_hash"]] for row in anchors}
        i = self.id
        self.path = {  # what produced each item: its own edges, and its source's edge to its topic
            "A": [
                Edge(i["A"], i["S"], "derived_from"),
                Edge(i["A"], i["T1"], "same_topic"),
                Edge(i["S"], i["T1"], "same_topic"),
            ],
            "B": [
                Edge(i["B"], i["S"], "derived_from"),
                Edge(i["B"], i["T2"], "same_topic"),
                Edge(i["S"], i["T2"], "same_topic"),
            ],
            "C": [
                Edge(i["C"], i["S2"], "derived_from"),
                Edge(i["C"], i["T1"], "same_topic"),
                Edge(i["S2"], i["T1"], "same_topic"),
            ],
        }
        link(cortex, [edge for edges in self.path.values() for edge in edges])
        with cortex.connect() as db:
            db.execute(
                "INSERT INTO deliveries (partition_key, text, blocks, channel_id, ts, reply_ts, pending) VALUES (?, 't', '[]', 'C0OVERNIGHT', ?, ?, FALSE)",
                [NIGHT, MESSAGE_TS, json.dumps([REPLY_TS])],
            )
            db.executemany(
                "INSERT INTO briefing_items (partition_key, ref, memory_id, title, source, message_ts) VALUES (?, ?, ?, ?, ?, ?)",
                [[NIGHT, "R1", i["A"], "Story A", "S", MESSAGE_TS], [NIGHT, "R2", i["B"], "Story B", "S", MESSAGE_TS],
                 [NIGHT, "R3", i["C"], "Story C", "S2", REPLY_TS]],
            )  # fmt: skip

    def targets(self, item: str) -> set[tuple[str, str]]:
        return {("memory", str(self.id[item]))} | {("edge", edge.target) for edge in self.path[item]}


def weights(cortex: Cortex) -> dict[tuple[str, str], float]:
    with cortex.connect() as db:
        memories = db.execute("SELECT id, weight FROM memories").fetchall()
        edges = db.execute("SELECT src, dst, kind, weight FROM edges").fetchall()
    return {("memory", str(i)): w for i, w in memories} | {("edge", edge_target(s, d, k)): w for s, d, k, w in edges}


def logged(cortex: Cortex) -> list[tuple]:
    with cortex.connect() as db:
        return db.execute(
            "SELECT target_kind, target, old_weight, new_weight, reason, signal_id IS NOT NULL FROM weight_log ORDER BY id"
        ).fetchall()


@pytest.fixture
def cortex(tmp_path):
    return Cortex(tmp_path / "cortex.duckdb")


@pytest.fixture
def graph(cortex):
    return Graph(cortex)


def test_a_good_signal_warms_exactly_its_path_a_bad_one_cools_it_and_the_rest_decays(cortex, graph):
    give_feedback(cortex, "R1", "good")
    give_feedback(cortex, "r3", "bad", NIGHT)
    before = weights(cortex)
    report = run_night(cortex, NIGHT, SETTINGS, None, [])
    after = weights(cortex)
    warmed, cooled = graph.targets("A"), graph.targets("C")
    anchors = {("memory", str(graph.id[name])) for name in ("S", "S2", "T1", "T2")}
    assert {t: after[t] for t in warmed} == {t: pytest.approx(before[t] * (1 + STEP)) for t in warmed}
    assert {t: after[t] for t in cooled} == {t: pytest.approx(before[t] * (1 - STEP)) for t in cooled}
    rest = set(before) - warmed - cooled - anchors  # B and its path
    assert rest == graph.targets("B")
    assert {t: after[t] for t in rest} == {t: pytest.approx(before[t] * 0.9) for t in rest}
    assert {t: after[t] for t in anchors} == {t: before[t] for t in anchors}  # anchors do not decay
    assert (report.signals_applied, report.weight_changes, report.decayed) == (2, 8, {"memory": 1, "edge": 3})
    log = logged(cortex)
    by_target = {(kind, target): reason for kind, target, _, _, reason, _ in log if target != "*"}
    assert by_target == {t: f"feedback good: {NIGHT} R1" for t in warmed} | {
        t: f"feedback bad: {NIGHT} R3" for t in cooled
    }
    assert all(with_signal for _, target, *_, with_signal in log if target != "*")
    decay = [(kind, new, reason) for kind, target, _, new, reason, _ in log if target == "*"]
    assert decay == [
        ("memory", 0.9, "decay: x0.9 toward 0.05 for the 1 live memories (anchors aside) no signal moved"),
        ("edge", 0.9, "decay: x0.9 toward 0.05 for the 3 edges no signal moved"),
    ]


def test_rerunning_a_night_applies_no_signal_or_decay_twice_but_applies_what_arrived_since(cortex, graph):
    give_feedback(cortex, "R1", "good")
    run_night(cortex, NIGHT, SETTINGS, None, [])
    once, log = weights(cortex), logged(cortex)
    again = run_night(cortex, NIGHT, SETTINGS, None, [])
    assert (weights(cortex), logged(cortex)) == (once, log)
    assert (again.signals_applied, again.weight_changes, again.decayed) == (0, 0, {})
    assert not give_feedback(cortex, "R1", "good").recorded  # the same word on the same item: once
    give_feedback(cortex, "R2", "bad")
    run_night(cortex, NIGHT, SETTINGS, None, [])
    assert weights(cortex)[("memory", str(graph.id["B"]))] == pytest.approx(
        once[("memory", str(graph.id["B"]))] * (1 - STEP)
    )
    assert len(logged(cortex)) == len(log) + len(graph.targets("B"))


def test_steps_are_bounded_a_night_and_the_weight_never_falls_below_the_floor(cortex, graph):
    with cortex.connect() as db:
        db.execute("UPDATE memories SET weight = 0.052 WHERE id = ?", [graph.id["C"]])
    for night in ("2026-11-18", "2026-11-19", NIGHT):  # three nights' words on A: one run applies them all
        with cortex.connect() as db:
            db.execute(
                "INSERT INTO signals (kind, polarity, memory_id, subject, dedupe_key) VALUES ('feedback', 1, ?, ?, ?)",
                [graph.id["A"], f"{night} R1", f"feedback:{night}:R1:good"],
            )
    give_feedback(cortex, "R3", "bad")
    run_night(cortex, NIGHT, SETTINGS, None, [])
    after = weights(cortex)
    assert after[("memory", str(graph.id["A"]))] == pytest.approx(1 + MAX_NIGHT_CHANGE)
    assert after[("memory", str(graph.id["C"]))] == FLOOR
    reasons = [reason for _, target, _, _, reason, _ in logged(cortex) if target == str(graph.id["A"])]
    assert reasons == ["feedback good: 2026-11-18 R1", "feedback good: 2026-11-19 R1 (capped: at most 20% a night)"]


def reacting(*users: str):
    """reactions.get as a function: a +1 from each of `users` on the message carrying R1 and R2."""
    return lambda channel, ts: [{"name": "+1", "users": list(users), "count": len(users)}] * (ts == MESSAGE_TS)


def test_reruns_of_a_night_after_new_reactions_stay_within_the_nights_bound(cortex, graph):
    run_night(cortex, NIGHT, SETTINGS, reacting("U1", "U2"), [])
    assert weights(cortex)[("memory", str(graph.id["A"]))] == pytest.approx(1 + MAX_NIGHT_CHANGE)
    for users in (("U1", "U2", "U3"), ("U1", "U2", "U3", "U4")):  # each rerun finds one more +1
        rerun = run_night(cortex, NIGHT, SETTINGS, reacting(*users), [])
        assert (rerun.signals_new, rerun.signals_applied, rerun.weight_changes) == (2, 2, 0)
    after = weights(cortex)
    assert after[("memory", str(graph.id["A"]))] == pytest.approx(1 + MAX_NIGHT_CHANGE)
    assert all(after[target] == pytest.approx(1 + MAX_NIGHT_CHANGE) for target in graph.targets("B"))
    give_feedback(cortex, "R1", "bad")  # a word the other way still moves it, within the bound
    run_night(cortex, NIGHT, SETTINGS, None, [])
    assert weights(cortex)[("memory", str(graph.id["A"]))] == pytest.approx((1 + MAX_NIGHT_CHANGE) * (1 - STEP))


def test_a_message_a_thousand_people_liked_costs_the_steps_to_the_bound_not_one_per_person(cortex, graph, monkeypatch):
    from overnight_assets.memory import cerebellum

    reads = []
    monkeypatch.setattr(cerebellum, "weight_of", lambda db, *target: reads.append(target) or weight_of(db, *target))
    report = run_night(cortex, NIGHT, SETTINGS, reacting(*(f"U{n}" for n in range(1000))), [])
    assert (report.signals_new, report.signals_applied) == (2000, 2000)
    targets = graph.targets("A") | graph.targets("B")
    assert all(weights(cortex)[target] == pytest.approx(1 + MAX_NIGHT_CHANGE) for target in targets)
    assert len(reads) == 2 * len(targets)  # two steps reach the bound; the 1,998 other +1s read nothing


def test_a_failed_source_cools_its_memory_and_edges_and_a_failed_run_is_recorded(cortex, graph):
    failures = [Failure("source", "S", "HTTP 500"), Failure("run", "run-9", "nightly failed")]
    report = run_night(cortex, NIGHT, SETTINGS, None, failures)
    after = weights(cortex)
    s = graph.id["S"]
    assert after[("memory", str(s))] == pytest.approx(1 - STEP)
    assert after[("edge", edge_target(s, graph.id["T1"], "same_topic"))] == pytest.approx(1 - STEP)
    assert report.signals_new == 2 and report.unread == ["Slack not configured: no reactions read"]
    with cortex.connect() as db:
        signals = db.execute(
            "SELECT subject, memory_id, detail, applied_at IS NOT NULL FROM signals ORDER BY id"
        ).fetchall()
    assert signals == [("source S", s, "HTTP 500", True), ("run run-9", None, "nightly failed", True)]


@pytest.fixture
def slack():
    with serving(FakeSlack(), "/api/") as fake:
        fake.messages[MESSAGE_TS] = {"text": "the briefing"}
        fake.messages[REPLY_TS] = {"text": "continued", "thread_ts": MESSAGE_TS}
        yield fake


def poster(slack: FakeSlack) -> SlackPoster:
    return SlackPoster(slack.token, "#overnight", slack.url, backoff_s=0.01, deadline_s=10)


def test_reactions_read_from_slack_count_for_the_items_of_their_message(cortex, graph, slack):
    slack.react(MESSAGE_TS, "+1")
    slack.react(MESSAGE_TS, "+1::skin-tone-3", "U0FRIEND")  # a +1 all the same, from another person
    slack.react(MESSAGE_TS, "eyes")  # means nothing here
    slack.react(REPLY_TS, "x")
    report = run_night(cortex, NIGHT, SETTINGS, poster(slack).reactions, [])
    assert report.messages_read == 2 and report.unread == []
    with cortex.connect() as db:
        signals = db.execute("SELECT subject, polarity, detail FROM signals ORDER BY subject, detail").fetchall()
    assert signals == [
        (f"{NIGHT} R1", 1, ":+1: by U0FRIEND on the message carrying R1"),
        (f"{NIGHT} R1", 1, ":+1: by U0OWNER on the message carrying R1"),
        (f"{NIGHT} R2", 1, ":+1: by U0FRIEND on the message carrying R2"),
        (f"{NIGHT} R2", 1, ":+1: by U0OWNER on the message carrying R2"),
        (f"{NIGHT} R3", -1, ":x: by U0OWNER on the message carrying R3"),
    ]
    after = weights(cortex)
    assert after[("memory", str(graph.id["A"]))] == pytest.approx(1 + MAX_NIGHT_CHANGE)  # two +1s, bounded
    assert after[("memory", str(graph.id["C"]))] == pytest.approx(1 - STEP)
    assert run_night(cortex, "2026-11-21", SETTINGS, poster(slack).reactions, []).signals_new == 0  # read once


def test_slack_rate_limiting_or_gone_is_recorded_and_the_night_goes_on(cortex, graph, slack, unused_url):
    slack.react(REPLY_TS, "x")
    slack.script.append((429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "600"}))  # not waited out
    report = run_night(cortex, NIGHT, SETTINGS, poster(slack).reactions, [])
    assert report.messages_read == 1 and len(report.unread) == 1
    assert report.unread[0].startswith(f"reactions of {NIGHT}'s message {MESSAGE_TS}: HTTP 429")
    assert report.decayed  # the night's reinforcement went on
    gone = run_night(
        cortex,
        "2026-11-21",
        SETTINGS,
        SlackPoster(slack.token, "#overnight", unused_url + "/api/", 0.01, 5).reactions,
        [],
    )
    assert len(gone.unread) == 2 and all(slack.token not in note for note in report.unread + gone.unread)
    later = run_night(cortex, "2026-11-22", SETTINGS, poster(slack).reactions, [])  # read again on a later night
    assert later.messages_read == 2 and later.signals_new == 0  # the x was read the first time


def answer(message) -> tuple[int, dict, dict]:
    return 200, {"ok": True, "type": "message", "channel": "C0OVERNIGHT", "message": message}, {}


@pytest.mark.parametrize(
    "reply, said",
    [
        ((200, RawReply(b"<html>" + b"proxy says no " * 2000 + b"</html>", "text/html"), {}), "non-JSON"),
        (answer({"ts": MESSAGE_TS, "reactions": {"name": "+1", "users": ["U1"]}}), "reactions that are no list"),
        (answer({"ts": MESSAGE_TS, "reactions": [{"name": "+1", "count": 2}]}), "not understood: {'name': '+1'"),
        (answer({"ts": MESSAGE_TS, "reactions": [{"name": "+1", "users": "U1"}]}), "not understood"),
        (answer({"ts": MESSAGE_TS, "reactions": [{"users": ["U1"]}]}), "not understood"),
        (answer(None), "without a message"),
        ((200, {"ok": False, "error": "message_not_found"}, {}), "error 'message_not_found'"),
        ((200, {"ok": False, "error": "channel_not_found"}, {}), "error 'channel_not_found'"),
        ((200, {"ok": False, "error": "missing_scope", "needed": "reactions:read"}, {}), "error 'missing_scope'"),
    ],
)
def test_an_answer_in_the_wrong_shape_is_named_and_the_other_messages_still_count(cortex, graph, slack, reply, said):
    slack.react(MESSAGE_TS, "+1")
    slack.react(REPLY_TS, "x")
    slack.script.append(reply)  # the first message's answer
    report = run_night(cortex, NIGHT, SETTINGS, poster(slack).reactions, [])
    assert len(report.unread) == 1 and said in report.unread[0], report.unread
    assert MESSAGE_TS in report.unread[0] and len(report.unread[0]) < 400
    assert report.decayed and weights(cortex)[("memory", str(graph.id["C"]))] == pytest.approx(1 - STEP)
    decayed = weights(cortex)[("memory", str(graph.id["A"]))]
    assert run_night(cortex, "2026-11-21", SETTINGS, poster(slack).reactions, []).unread == []  # read the next night
    assert weights(cortex)[("memory", str(graph.id["A"]))] == pytest.approx(decayed * (1 + STEP))  # late, counted


def test_a_slack_that_hangs_costs_the_night_one_deadline_and_no_more(cortex, graph, slack):
    slack.script.append((200, RawReply(hang=True), {}))  # reads the request, never answers
    hurried = SlackPoster(slack.token, "#overnight", slack.url, backoff_s=0.01, deadline_s=0.5)
    report = run_night(cortex, NIGHT, SETTINGS, hurried.reactions, [])
    assert "no complete answer to reactions.get within 0.5 s" in report.unread[0]
    assert "not tried" in report.unread[1] and slack.requests == 1  # the rest is left for a later night
    assert report.decayed


def test_a_message_nobody_reacted_to_is_read_with_nothing_to_say(cortex, graph, slack):
    slack.script.append(answer({"ts": MESSAGE_TS, "text": "the briefing"}))
    report = run_night(cortex, NIGHT, SETTINGS, poster(slack).reactions, [])
    assert (report.messages_read, report.unread, report.signals_new) == (2, [], 0)


def test_the_night_delivers_its_refs_and_the_cerebellum_reads_their_reactions(
    busy_night, instance, ollama_server, slack_server
):
    config = busy_night(ollama_server.url, slack_url=slack_server.url)
    assert run_nightly(config, instance).success
    briefing = config.paths.briefing(NIGHT).read_text()
    assert "1. `R1` [Running GGUF quantization with ollama](https://example.org/gguf) (Feed)" in briefing
    assert "`P1` [GGUF quantization at 2 bits]" in briefing and "`C1` `" in briefing
    posted = slack_server.posts[0]
    blocks = " ".join(
        block["text"]["text"] for block in posted["blocks"] if "text" in block and block["type"] == "section"
    )
    assert "`R1` <https://example.org/gguf|Running GGUF quantization with ollama>" in blocks
    cortex = Cortex(config.paths.cortex)
    with cortex.connect() as db:
        items = db.execute("SELECT ref, memory_id IS NOT NULL, message_ts FROM briefing_items ORDER BY ref").fetchall()
    ts = next(iter(slack_server.messages))
    assert [ref for ref, *_ in items] == ["C1", "C2", "P1", "R1", "R2"]  # both commits with findings listed
    assert {(known, at) for _, known, at in items} == {(True, ts)}  # each a memory, carried by the one message
    assert metadata(instance, "cerebellum")["messages_read"] == 1

    slack_server.react(ts, "+1")
    assert run_nightly(config, instance).success  # the night again: the reaction now, the decay not twice
    cerebellum = metadata(instance, "cerebellum")
    assert cerebellum["signals_new"] == len(items) and cerebellum["weight_changes"] > len(items)
    assert cerebellum["decayed"] == "already decayed for this night"
