"""Which knowledge-base answer fits a customer's question (004 §6.1), and how sure we are.

Pure: takes the question and the enabled items as plain values. Each item is matched by its question
and its similar questions. A candidate scores 1.0 when it equals the question after normalising (case,
blanks, punctuation); when one contains the other (a keyword such as "退货" inside "我想退货怎么办"), it
scores at least 0.8, more the closer the lengths are; otherwise difflib's similarity ratio. Below the
threshold there is no answer, and the caller hands the customer to a person.
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass

MIN_KEYWORD_CHARS = 2
"""A one-character candidate ("在") would be contained in almost every question: it needs an exact match."""


@dataclass(frozen=True)
class Entry:
    id: int
    question: str
    similar: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    id: int
    score: float
    matched: str


def normalise(text: str) -> str:
    """Lower-case, full-width folded (NFKC), without blanks and punctuation: what the customer meant, not
    how they typed it."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if not unicodedata.category(ch).startswith(("P", "Z", "C", "S")))


def score(query: str, candidate: str) -> float:
    """How well one normalised candidate fits one normalised query, from 0 to 1."""
    if not query or not candidate:
        return 0.0
    if query == candidate:
        return 1.0
    ratio = difflib.SequenceMatcher(None, query, candidate).ratio()
    shorter, longer = sorted((query, candidate), key=len)
    if len(shorter) >= MIN_KEYWORD_CHARS and shorter in longer:
        ratio = max(ratio, 0.8 + 0.2 * len(shorter) / len(longer))
    return ratio


def best_answer(question: str, entries: list[Entry], threshold: float) -> Match | None:
    """The best entry at or above `threshold`; ties go to the lower id (the older, curated entry)."""
    query = normalise(question)
    best: Match | None = None
    for entry in entries:
        for candidate in (entry.question, *entry.similar):
            value = score(query, normalise(candidate))
            if value >= threshold and (best is None or value > best.score
                                       or (value == best.score and entry.id < best.id)):
                best = Match(entry.id, round(value, 4), candidate)
    return best
