"""Customer-service decisions (004 §12.1.2, §9.8): who receives a customer, and what a customer's text means
for the session (closing words, a request for a person).

Pure functions on plain values; handlers/kf.py gathers the values from the DB and applies the decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.knowledge import normalise


@dataclass(frozen=True)
class Candidate:
    """A servicer who is receiving (接待中) on the account, with their current human sessions."""

    userid: str
    load: int


@dataclass(frozen=True)
class Assignment:
    userid: str | None  # None: everyone is at the limit, the customer queues
    rr_next: int  # the account's round-robin pointer after this decision


def choose_receptionist(rule: str, candidates: list[Candidate], limit: int, rr_next: int,
                        last_userid: str | None) -> Assignment:
    """Pick a receptionist by the account's rule among those below `limit` concurrent sessions.

    round_robin: the next servicer (by userid order) from the pointer on, skipping full ones;
    least_busy: the fewest current sessions (ties: the pointer's order, so equal loads still rotate);
    last_receptionist: the customer's previous receptionist if they have room, else round robin.
    """
    ordered = sorted(candidates, key=lambda c: c.userid)
    if not ordered:
        return Assignment(None, rr_next)
    start = rr_next % len(ordered)
    rotation = ordered[start:] + ordered[:start]
    free = [c for c in rotation if c.load < limit]
    if not free:
        return Assignment(None, rr_next)
    if rule == "last_receptionist" and last_userid is not None:
        for c in free:
            if c.userid == last_userid:
                return Assignment(c.userid, rr_next)
    chosen = min(free, key=lambda c: c.load) if rule == "least_busy" else free[0]
    return Assignment(chosen.userid, (ordered.index(chosen) + 1) % len(ordered))


def is_closing(text: str, closing_words: list[str]) -> bool:
    """The customer said goodbye (§9.8.1): the whole message is one of the closing words, ignoring case,
    blanks and punctuation. Only the whole message: "谢谢，还有一个问题" does not end anything."""
    said = normalise(text)
    return bool(said) and any(said == normalise(word) for word in closing_words if normalise(word))


def wants_person(text: str, handover_words: list[str]) -> bool:
    """The customer asks for a person ("人工", "转人工客服"): any hand-over word inside the message."""
    said = normalise(text)
    return any(normalise(word) and normalise(word) in said for word in handover_words)


# session_status_change change_type (kf/sync_msg event): 1 从接待池接入, 2 转接, 3 结束, 4 重新接入.
STATUS_CHANGE_STATE = {1: "human", 2: "human", 3: "ended", 4: "human"}
