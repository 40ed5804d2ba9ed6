"""The one status rule every section follows (overnight_assets.status)."""

import pytest

from overnight_assets.status import Status, is_problem, section_status, severity_status, worst_severity


@pytest.mark.parametrize(
    ("severity", "status"),
    [
        ("red", Status.RED),
        ("error", Status.RED),
        ("ERROR", Status.RED),
        ("amber", Status.AMBER),
        ("warning", Status.AMBER),
        ("info", Status.GREEN),
        ("note", Status.GREEN),
        ("none", Status.GREEN),
        (None, Status.GREEN),
        ("purple", Status.AMBER),
    ],
)
def test_every_sections_severity_words_map_to_one_status(severity, status):
    assert severity_status(severity) is status


def test_the_worst_finding_sets_the_status_and_notes_never_raise_it():
    assert section_status([]) is Status.GREEN
    assert section_status(["info", "note", "none"]) is Status.GREEN
    assert section_status(["info", "warning"]) is Status.AMBER  # a forgotten breakpoint() is not GREEN
    assert section_status(["warning", "error", "info"]) is Status.RED


def test_a_section_with_nothing_configured_says_so_and_is_not_green():
    assert section_status([], configured=False) is Status.NOT_CONFIGURED
    assert not Status.NOT_CONFIGURED.needs_action
    # it never hides a configured section's verdict, nor raises a green night
    assert Status.worst([Status.NOT_CONFIGURED, Status.GREEN]) is Status.GREEN
    assert Status.worst([Status.NOT_CONFIGURED, Status.AMBER]) is Status.AMBER


def test_a_failed_source_is_amber_and_nothing_read_is_what_the_section_says():
    assert section_status(["info"], sources=18, failed=1) is Status.AMBER
    assert section_status(["error"], sources=18, failed=1) is Status.RED  # a failure never lowers a finding
    assert section_status([], sources=2, failed=2) is Status.AMBER
    assert section_status([], sources=2, failed=2, nothing_read=Status.RED) is Status.RED


def test_an_item_is_a_problem_by_the_rule_and_a_note_never_is():
    assert is_problem({"severity": "amber"}) and is_problem({"severity": "error"})
    assert not is_problem({"severity": "info"}) and not is_problem({"title": "a pick", "url": "https://x.example/"})
    assert not is_problem({"severity": "amber", "note": True})
    assert is_problem({"worst": "warning"})  # a code-review item stored before items had `severity`
    assert worst_severity(["warning", "info"]) == "amber" and worst_severity([]) == "info"
