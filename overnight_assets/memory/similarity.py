"""When two memories are the same thing: an identifier guard first, then canonical URL, normalized
title, and a character n-gram TF-IDF cosine calibrated on the labelled pairs in the tests.

The guard comes before any similarity: strings whose digits or identifiers differ (SR-2023-052 and
SR-2023-053, v1.2 and v1.3, two CVE or arXiv ids, PR #12 and #13) are never the same thing, however
alike the rest is. A Jaccard rule that forgot this merged two records and lost one (graphiti 1241).

TF-IDF is hand-rolled over plain dicts: numpy and scikit-learn are not installed in the project, and
titles are short (a few dozen n-grams each), so a sparse dot product in Python costs microseconds.
Measured against wordllama's embeddings on the same pairs (benchmarks/similarity_compare.py), it
found as many duplicates with fewer false merges and needs no weights at all (README, Figures).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

MERGE_THRESHOLD = 0.6  # the default of memory.merge_threshold: calibrated on the labelled pairs
NGRAM = 3
# words a second source adds to or drops from the same story's title
FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "for",
        "with",
        "by",
        "on",
        "in",
        "at",
        "and",
        "or",
        "is",
        "are",
        "was",
        "be",
        "been",
        "has",
        "have",
        "its",
        "it",
        "this",
        "that",
        "now",
        "finally",
        "here",
        "out",
        "new",
        "just",
        "how",
        "why",
        "what",
        "we",
        "our",
        "you",
        "your",
        "my",
        "i",
        "video",
        "pdf",
        "update",
        "updated",
        "released",
        "release",
        "releases",
        "announce",
        "announced",
        "announces",
        "announcing",
        "introducing",
        "introduce",
        "introduces",
        "adds",
        "add",
        "support",
        "supports",
        "version",
        "available",
        "generally",
        "explained",
        "finally",
    ]
)
_WORD = re.compile(r"[a-z0-9]+(?:[.\-_/][a-z0-9]+)*")
# a part with a digit in it is an identifier: sr-2023-052 has 2023 and 052, v1.2 has 1.2, gpt-4o has 4o
_PART = re.compile(r"[a-z0-9]+(?:[._][a-z0-9]+)*")
# what an URL names that no second URL of the same thing would name differently
_URL_IDENTIFIERS = (
    re.compile(r"arxiv\.org/(?:abs|pdf)/([a-z\-]*/?\d{4}\.\d{4,5}|[a-z\-]+/\d{7})"),
    re.compile(r"/(?:pull|pulls|issues|merge_requests)/(\d+)"),
    re.compile(r"/releases/tag/([^/?#]+)"),
    re.compile(r"/commit/([0-9a-f]{7,40})"),
    re.compile(r"(cve-\d{4}-\d{4,})"),
)


def fold(text: str) -> str:
    """Lowercased, accents and compatibility forms folded (NFKD, marks dropped)."""
    if text.isascii():  # nearly every title: nothing to fold
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def identifiers(text: str) -> frozenset[str]:
    """The identifier-like parts of a text: every part (words split at `-` and `/`) with a digit in it,
    a version's leading `v` dropped (v1.2 and 1.2 are one version)."""
    found = set()
    for part in _PART.findall(fold(text)):
        if any(c.isdigit() for c in part):
            found.add(part[1:] if re.fullmatch(r"v\d.*", part) else part)
    return frozenset(found)


def url_identifiers(url: str | None) -> frozenset[str]:
    """What a URL names that a second URL of the same thing cannot name differently (an arXiv id, a
    pull request, a release tag, a commit, a CVE), each with its pattern's number."""
    text = fold(url or "")
    return frozenset(f"{n}:{m}" for n, pattern in enumerate(_URL_IDENTIFIERS) for m in pattern.findall(text))


def normalized_title(title: str) -> str:
    """A title as two sources of one story would agree on it: folded, punctuation and spacing dropped."""
    return " ".join(_WORD.findall(fold(title)))


@dataclass(frozen=True)
class Record:
    """What similarity looks at: a memory's title, canonical URL and URL."""

    title: str
    canonical_url: str | None = None
    url: str | None = None

    @cached_property
    def guard_key(self) -> frozenset[str]:
        return identifiers(self.title)

    @cached_property
    def url_key(self) -> frozenset[str]:
        return url_identifiers(self.canonical_url or self.url)

    @cached_property
    def title_key(self) -> str:
        return normalized_title(self.title)


def identifiers_agree(a: Record, b: Record) -> bool:
    """The guard: the same identifiers in both titles, and no URL naming a different arXiv id, pull
    request, release, commit or CVE than the other."""
    if a.guard_key != b.guard_key:
        return False
    a_url, b_url = a.url_key, b.url_key
    kinds = {key.split(":", 1)[0] for key in a_url} & {key.split(":", 1)[0] for key in b_url}
    return all(
        {k for k in a_url if k.startswith(f"{n}:")} == {k for k in b_url if k.startswith(f"{n}:")} for n in kinds
    )


def ngrams(text: str, n: int = NGRAM) -> Counter:
    """Character n-grams of each word with its boundaries (` ab`, `abc`, `bc `): robust to a plural,
    a hyphen or a typo; words of the title, never across two."""
    grams: Counter = Counter()
    for word in normalized_title(text).split():
        padded = f" {word} "
        grams.update(padded[i : i + n] for i in range(max(len(padded) - n + 1, 1)))
    return grams


class TfIdf:
    """Character n-gram TF-IDF over a set of titles (smoothed idf, as scikit-learn's default): a
    gram most titles share says little, a rare one much. Unseen grams get the highest idf."""

    def __init__(self, titles: Iterable[str]):
        self._grams = {title: ngrams(title) for title in titles}
        self.documents = len(self._grams)
        frequency: Counter = Counter()
        for grams in self._grams.values():
            frequency.update(grams.keys())
        self._idf = {gram: self._smoothed(df) for gram, df in frequency.items()}
        self._unseen = self._smoothed(0)

    def _smoothed(self, df: int) -> float:
        return math.log((1 + self.documents) / (1 + df)) + 1.0

    def vector(self, title: str) -> dict[str, float]:
        grams = self._grams.get(title) or ngrams(title)
        weighted = {gram: (1 + math.log(tf)) * self._idf.get(gram, self._unseen) for gram, tf in grams.items()}
        norm = math.sqrt(sum(value * value for value in weighted.values())) or 1.0
        return {gram: value / norm for gram, value in weighted.items()}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(value * b.get(gram, 0.0) for gram, value in a.items())


def content_words(title: str) -> list[str]:
    """A title's words that carry its meaning, lightly stemmed: no filler a second source would add or drop,
    no identifier (the guard compares those)."""
    return [
        _stem(w) for w in re.findall(r"[a-z0-9]+", fold(title)) if w not in FILLER and not any(c.isdigit() for c in w)
    ]


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def substituted(a: str, b: str) -> bool:
    """Whether each title has a content word the other lacks: "language models" against "vision models".
    One source adding words to a story ("[video]", "finally") is no substitution; a word written in two
    parts ("home lab", "homelab") or with a suffix (postgres, postgresql) is the same word."""
    words_a, words_b = content_words(a), content_words(b)
    only_a = [w for w in words_a if not any(_same_word(w, v) for v in words_b)]
    only_b = [w for w in words_b if not any(_same_word(w, v) for v in words_a)]
    if not only_a or not only_b:
        return False
    return "".join(only_a) != "".join(only_b)


def _same_word(a: str, b: str) -> bool:
    short, long = sorted((a, b), key=len)
    return a == b or (len(short) >= 4 and long.startswith(short))


def same_thing(a: Record, b: Record, score: float | None, threshold: float = MERGE_THRESHOLD) -> bool:
    """Whether two memories are one: the guard, then the same canonical URL, the same normalized title,
    or a similarity `score` (the cosine of their vectors) at or above `threshold` with no word substituted."""
    if not identifiers_agree(a, b):
        return False
    if a.canonical_url and a.canonical_url == b.canonical_url:
        return True
    if a.title_key and a.title_key == b.title_key:
        return True
    return score is not None and score >= threshold and not substituted(a.title, b.title)


def decide_pairs(pairs: list[tuple[Record, Record]], threshold: float = MERGE_THRESHOLD) -> list[bool]:
    """`same_thing` for each pair, with IDF from every title in the pairs (as consolidation takes it from
    the memories it compares)."""
    model = TfIdf(title for pair in pairs for title in (pair[0].title, pair[1].title))
    return [same_thing(a, b, cosine(model.vector(a.title), model.vector(b.title)), threshold) for a, b in pairs]
