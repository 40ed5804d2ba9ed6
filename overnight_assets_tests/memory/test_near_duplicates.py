"""Near-duplicates: the identifier guard before any similarity, and the labelled pairs' figures."""

import json
from pathlib import Path

import pytest

from overnight_assets.memory.similarity import (
    MERGE_THRESHOLD,
    Record,
    decide_pairs,
    identifiers,
    identifiers_agree,
    normalized_title,
)

PAIRS = json.loads((Path(__file__).parent / "near_duplicate_pairs.json").read_text(encoding="utf-8"))
MAX_FALSE_MERGES = 0.01  # of the pairs that are different things
MIN_FOUND = 0.90  # of the pairs that are one thing


def records(pair: dict) -> tuple[Record, Record]:
    return tuple(Record(side["title"], side["url"], side["url"]) for side in (pair["a"], pair["b"]))


def test_the_labelled_set_holds_what_the_issue_asks_for():
    categories = {pair["category"] for pair in PAIRS}
    assert len(PAIRS) >= 150
    assert {"identifier", "same_story_two_urls", "different_papers", "different"} <= categories
    assert sum(pair["same"] for pair in PAIRS) >= 50 and sum(not pair["same"] for pair in PAIRS) >= 50


def test_the_labelled_pairs_give_at_most_1_percent_false_merges_and_find_90_percent_of_duplicates():
    decided = decide_pairs([records(pair) for pair in PAIRS], MERGE_THRESHOLD)
    different = [pair for pair, same in zip(PAIRS, decided, strict=True) if not pair["same"]]
    duplicates = [pair for pair, same in zip(PAIRS, decided, strict=True) if pair["same"]]
    false_merges = [pair for pair, same in zip(PAIRS, decided, strict=True) if same and not pair["same"]]
    found = [pair for pair, same in zip(PAIRS, decided, strict=True) if same and pair["same"]]
    assert len(false_merges) / len(different) <= MAX_FALSE_MERGES, false_merges
    assert len(found) / len(duplicates) >= MIN_FOUND


@pytest.mark.parametrize("threshold", [0.0, 0.3, MERGE_THRESHOLD])
def test_strings_whose_identifiers_differ_are_never_merged_whatever_the_threshold(threshold):
    guarded = [pair for pair in PAIRS if pair["category"].startswith("identifier")]
    assert len(guarded) >= 30
    assert not any(decide_pairs([records(pair) for pair in guarded], threshold))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("SR-2023-052", "SR-2023-053"),
        ("release v1.2", "release v1.3"),
        ("CVE-2024-3094", "CVE-2024-3095"),
        ("arXiv 2401.12345", "arXiv 2401.12346"),
        ("PR #12 fix", "PR #13 fix"),
        ("Llama 3 8B", "Llama 3 70B"),
    ],
)
def test_the_guard_tells_identifiers_apart(a, b):
    assert identifiers(a) != identifiers(b)
    assert not identifiers_agree(Record(a), Record(b))


def test_a_version_is_one_with_or_without_its_v_and_urls_guard_their_ids_too():
    assert identifiers("Kubernetes v1.30") == identifiers("kubernetes 1.30") == {"1.30"}
    same_title_two_papers = (
        Record("Quantization", "https://arxiv.org/abs/2401.01234"),
        Record("Quantization", "https://arxiv.org/abs/2401.01235"),
    )
    assert not identifiers_agree(*same_title_two_papers)
    assert identifiers_agree(Record("Quantization", "https://arxiv.org/abs/2401.01234"), Record("Quantization"))


def test_normalized_titles_ignore_case_accents_and_punctuation_only():
    assert normalized_title("Café: the  Zen of Python!") == normalized_title("cafe the zen of python")
    assert normalized_title("Python 3.12") != normalized_title("Python 3.13")
