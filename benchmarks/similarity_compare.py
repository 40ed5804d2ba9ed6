"""Which similarity finds near-duplicates: the project's character n-gram TF-IDF (no weights) against
wordllama's embeddings (a 16 MB model inside its wheel, loaded offline), on the labelled pairs of
overnight_assets_tests/memory/near_duplicate_pairs.json.

Both sit behind the same identifier guard, canonical URL and normalized title rules (similarity.same_thing);
only the score differs. Each threshold is chosen on half of the pairs (every other one) and measured on
the other half, then both halves swap: false merges (of the different pairs) and duplicates found (of the
duplicates) are the two halves' sums. Time: scoring every pair once.

wordllama is not a dependency of the project: run this with an interpreter that has it (pip install
wordllama==0.4.0.post1 in a separate venv, PYTHONPATH at the repository); without it, only TF-IDF is shown.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from _report import figure, report

from overnight_assets.memory.similarity import (
    MERGE_THRESHOLD,
    Record,
    TfIdf,
    cosine,
    identifiers_agree,
    same_thing,
)

PAIRS_FILE = Path(__file__).resolve().parents[1] / "overnight_assets_tests/memory/near_duplicate_pairs.json"
THRESHOLDS = [round(0.30 + 0.02 * n, 2) for n in range(35)]


def load() -> tuple[list[tuple[Record, Record]], list[bool]]:
    pairs = json.loads(PAIRS_FILE.read_text(encoding="utf-8"))
    records = [tuple(Record(p[s]["title"], p[s]["url"], p[s]["url"]) for s in ("a", "b")) for p in pairs]
    return records, [p["same"] for p in pairs]


def tfidf_scores(records) -> list[float]:
    model = TfIdf(t for a, b in records for t in (a.title, b.title))
    return [cosine(model.vector(a.title), model.vector(b.title)) for a, b in records]


def wordllama_scores(records) -> list[float] | None:
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError:
        return None
    package = Path(wordllama.__file__).parent  # the weights and tokenizer ship in the wheel
    model = WordLlama.load(cache_dir=package, disable_download=True)
    return [float(model.similarity(a.title, b.title)) for a, b in records]


def decisions(records, scores, threshold, word_check: bool) -> list[bool]:
    """same_thing for each pair; without `word_check`, the score alone decides past the guard and rules."""
    return [
        same_thing(a, b, s, threshold)
        if word_check
        else same_thing(a, b, None, threshold) or (identifiers_agree(a, b) and s >= threshold)
        for (a, b), s in zip(records, scores, strict=True)
    ]


def rates(decided, labels, index) -> tuple[int, int, int, int]:
    false = sum(decided[i] and not labels[i] for i in index)
    different = sum(not labels[i] for i in index)
    found = sum(decided[i] and labels[i] for i in index)
    duplicates = sum(labels[i] for i in index)
    return false, different, found, duplicates


def cross_validated(records, scores, labels, word_check: bool) -> tuple[float, float]:
    halves = [range(0, len(labels), 2), range(1, len(labels), 2)]
    totals = [0, 0, 0, 0]
    for fit, test in (halves, halves[::-1]):

        def cost(threshold, fit=fit):
            f, d, found, dup = rates(decisions(records, scores, threshold, word_check), labels, fit)
            return (f / d > 0.01, -(found / dup), f)  # at most 1 % false merges, then the most found

        best = min(THRESHOLDS, key=cost)
        for n, value in enumerate(rates(decisions(records, scores, best, word_check), labels, test)):
            totals[n] += value
    return totals[0] / totals[1], totals[2] / totals[3]


def main() -> None:
    records, labels = load()
    figures = []
    for name, scorer in (("tfidf", tfidf_scores), ("wordllama", wordllama_scores)):
        started = time.perf_counter()
        scores = scorer(records)
        seconds = time.perf_counter() - started
        if scores is None:
            print(f"{name}: not installed here")
            continue
        for word_check in (True, False):
            false, found = cross_validated(records, scores, labels, word_check)
            label = f"{name}{'' if word_check else ' (score alone)'}"
            figures += [
                figure(f"{label}: false merges", round(100 * false, 1), "%", "<= 1 %", false <= 0.01),
                figure(f"{label}: duplicates found", round(100 * found, 1), "%", ">= 90 %", found >= 0.9),
            ]
        figures.append(figure(f"{name}: scoring {len(records)} pairs (load included)", round(seconds, 3), "s"))
    f, d, found, dup = rates(
        decisions(records, tfidf_scores(records), MERGE_THRESHOLD, True), labels, range(len(labels))
    )
    figures.append(
        figure(f"shipped: tfidf at {MERGE_THRESHOLD}, all pairs: false / found", f"{f}/{d} {found}/{dup}", "")
    )
    report("similarity_compare", figures)


if __name__ == "__main__":
    main()
