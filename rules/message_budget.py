"""When an app message to one member may go out, within WeCom's per-member budget (doc 90454).

WeCom: "每应用对同一个成员不可超过30次/分钟,1000次/小时,超过部分会被丢弃不下发" — at most 30 messages a
minute and 1,000 an hour from one app to one member; the excess is dropped without an error (message/send
still answers errcode 0). So the service spaces them itself: each message reserves a send time (a slot)
for each recipient, the earliest one at which no window of the budget would hold too many.

Slots are only plans: a job runs a little after its slot (the scheduler polls, workers are busy). So a
window counts `slack` seconds more than WeCom's, and a message whose job runs more than `slack` after its
slot takes a new one. Windows are checked on both sides of the slot (any window holding the slot), which
also keeps a message that goes first (an urgent one) from overfilling windows planned before it.

Urgent kinds (plan reminders, bot answers: a person waits for them) go first: ordinary messages may fill
only part of each window, so an urgent one finds room at once unless several urgent ones came together.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

PER_MINUTE, PER_HOUR = 30, 1000
MIN_SLACK = 1.5
URGENT_SHARE_MINUTE, URGENT_SHARE_HOUR = 5, 50
"""Room in each window that only urgent messages may use."""


@dataclass(frozen=True)
class Budget:
    """The two windows of doc 90454. `minute` is 60 s in production; tests shorten it (SCRM_APP_MESSAGE_WINDOW),
    which shortens the hour (60 minutes) and the slack (a twelfth of a minute: 5 s) with it, down to
    MIN_SLACK: RQ's scheduler moves due jobs to their queue once a second, so a job runs up to a second or
    so after its slot, and one that runs later than the slack must take a new slot (behind the others)."""

    minute: float = 60.0

    @property
    def hour(self) -> float:
        return self.minute * 60

    @property
    def slack(self) -> float:
        return max(self.minute / 12, MIN_SLACK)

    def caps(self, urgent: bool) -> tuple[int, int]:
        """(per window of a minute, per window of an hour) this message may count up to."""
        if urgent:
            return PER_MINUTE, PER_HOUR
        return PER_MINUTE - URGENT_SHARE_MINUTE, PER_HOUR - URGENT_SHARE_HOUR

    def horizon(self) -> float:
        """How far back reservations still matter."""
        return self.hour + self.slack


def _count(slots: Sequence[float], low: float, high: float) -> int:
    """Slots in the open interval (low, high); `slots` sorted."""
    return max(0, bisect.bisect_left(slots, high) - bisect.bisect_right(slots, low))


def fits(slots: Sequence[float], at: float, budget: Budget, urgent: bool) -> bool:
    """Whether one more message at `at` keeps every window that would hold it within the caps."""
    per_minute, per_hour = budget.caps(urgent)
    minute, hour = budget.minute + budget.slack, budget.hour + budget.slack
    return (_count(slots, at - minute, at + minute) < per_minute
            and _count(slots, at - hour, at + hour) < per_hour)


def earliest_slot(slots: Sequence[float], now: float, budget: Budget, urgent: bool) -> float:
    """The first time from `now` at which a message fits among the reserved `slots` (sorted). It is `now`
    or the moment a reserved slot leaves a window, so only those moments are tried."""
    minute, hour = budget.minute + budget.slack, budget.hour + budget.slack
    candidates = sorted({now} | {s + minute for s in slots if s + minute > now}
                        | {s + hour for s in slots if s + hour > now})
    for at in candidates:
        if fits(slots, at, budget, urgent):
            return at
    return max(slots, default=now) + hour  # unreachable: past the last slot's hour every window is empty


def common_slot(per_member: Sequence[Sequence[float]], now: float, budget: Budget, urgent: bool) -> float:
    """The first time from `now` that fits every recipient's reserved slots (one message/send to several)."""
    at = now
    while True:
        later = max((earliest_slot(slots, at, budget, urgent) for slots in per_member), default=at)
        if later == at:
            return at
        at = later
