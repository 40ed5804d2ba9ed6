"""`overnight feedback ITEM good|bad`: the ref as printed, the latest delivered night by default, clear errors."""

import pytest

from overnight_assets.cli import main
from overnight_assets.resources.cortex import Cortex

OLDER, LATEST, UNDELIVERED = "2026-11-19", "2026-11-20", "2026-11-21"


@pytest.fixture
def config(tmp_path):
    """A home whose Cortex holds three nights' refs: R1 on each, R2 only on the older; the last night not delivered."""
    path = tmp_path / "overnight.yaml"
    path.write_text(f"home: {tmp_path / 'home'}\n")
    with Cortex(tmp_path / "home" / "cortex.duckdb").connect() as db:
        db.executemany(
            "INSERT INTO briefing_items (partition_key, ref, memory_id, title, source) VALUES (?, ?, ?, ?, 'HN')",
            [[OLDER, "R1", 1, "Old story"], [OLDER, "R2", 2, "Another old one"], [LATEST, "R1", 3, "New story"],
             [LATEST, "P1", 4, "A paper"], [UNDELIVERED, "R1", 5, "Not sent yet"]],
        )  # fmt: skip
        db.executemany(
            "INSERT INTO deliveries (partition_key, text, blocks) VALUES (?, 't', '[]')", [[OLDER], [LATEST]]
        )
    return path


def signals(tmp_path) -> list[tuple]:
    with Cortex(tmp_path / "home" / "cortex.duckdb").connect() as db:
        return db.execute(
            "SELECT kind, polarity, memory_id, subject, partition_key FROM signals ORDER BY id"
        ).fetchall()


def test_feedback_names_the_item_of_the_latest_delivered_night_printing_it(tmp_path, config, capsys):
    assert main(["feedback", "r1", "good", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith(f"R1 of {LATEST} (New story): good, recorded.")
    assert main(["feedback", "R2", "bad", "--config", str(config)]) == 0  # only the older night printed R2
    assert main(["feedback", "R1", "bad", "--date", OLDER, "--config", str(config)]) == 0
    assert signals(tmp_path) == [
        ("feedback", 1, 3, f"{LATEST} R1", LATEST),
        ("feedback", -1, 2, f"{OLDER} R2", OLDER),
        ("feedback", -1, 1, f"{OLDER} R1", OLDER),
    ]
    assert main(["feedback", "R1", "good", "--config", str(config)]) == 0
    assert "already recorded" in capsys.readouterr().out
    assert len(signals(tmp_path)) == 3


@pytest.mark.parametrize(
    "arguments, said",
    [
        (["R9", "good"], f"no item R9 in any delivered briefing (the latest, {LATEST}, lists P1, R1)"),
        (["P1", "bad", "--date", OLDER], f"no item P1 in the briefing of {OLDER} (its refs: R1, R2)"),
        (["3", "good"], "'3' is no ITEM ref: expected one as the briefing prints it, such as R3, P2 or C1"),
        (
            ["R3; DROP TABLE", "good"],
            "'R3; DROP TABLE' is no ITEM ref: expected one as the briefing prints it, such as R3, P2 or C1",
        ),
        (["R0", "good"], "'R0' is no ITEM ref: expected one as the briefing prints it, such as R3, P2 or C1"),
        (["R01", "bad"], "'R01' is no ITEM ref: expected one as the briefing prints it, such as R3, P2 or C1"),
        (["R\u0661", "good"], "'R\u0661' is no ITEM ref: expected one as the briefing prints it, such as R3, P2 or C1"),
        (
            ["\uff32\uff11", "good"],
            "'\uff32\uff11' is no ITEM ref: expected one as the briefing prints it, such as R3, P2 or C1",
        ),
        (
            ["R" + "9" * 5000, "good"],
            f"'R{'9' * 39}…' is no ITEM ref: expected one as the briefing prints it, such as R3, P2 or C1",
        ),
        (
            ["R1", "good", "--date", "2026-11-22"],
            "no briefing of 2026-11-22 lists items: no night 2026-11-22 has run with this home",
        ),
    ],
)
def test_an_unknown_ref_is_a_clear_error_and_records_nothing(tmp_path, config, capsys, arguments, said):
    assert main(["feedback", *arguments, "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"overnight: {said}\n"
    assert signals(tmp_path) == []


def test_feedback_before_any_night_says_so(tmp_path, capsys):
    path = tmp_path / "overnight.yaml"
    path.write_text(f"home: {tmp_path / 'home'}\n")
    assert main(["feedback", "R1", "good", "--config", str(path)]) == 2
    assert "no Cortex at" in capsys.readouterr().err
    assert not (tmp_path / "home").exists()  # nothing written
    with pytest.raises(SystemExit):
        main(["feedback", "R1", "maybe", "--config", str(path)])
