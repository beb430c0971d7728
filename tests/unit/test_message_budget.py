"""rules.message_budget: slots that keep every WeCom window (30/minute, 1,000/hour per member) within budget."""

from __future__ import annotations

from rules.message_budget import Budget, common_slot, earliest_slot

BUDGET = Budget(minute=60.0)  # windows are counted 5 s (the slack) longer than WeCom's


def book(count: int, urgent: bool = False, now: float = 0.0) -> list[float]:
    slots: list[float] = []
    for _ in range(count):
        slots.append(earliest_slot(sorted(slots), now, BUDGET, urgent))
    return slots


def test_a_burst_fills_25_a_window_in_order_then_waits_for_the_next():
    slots = book(60)
    assert slots == sorted(slots)
    assert slots[:25] == [0.0] * 25 and slots[25:50] == [65.0] * 25 and slots[50] == 130.0


def test_any_window_of_a_minute_plus_slack_holds_at_most_30_even_with_urgent_ones():
    slots = sorted(book(40))
    for _ in range(10):  # more urgent ones than their reserve: they must not overfill a window either
        slots = sorted(slots + [earliest_slot(slots, 1.0, BUDGET, urgent=True)])
    for start in slots:
        assert sum(1 for s in slots if start <= s < start + 65) <= 30


def test_urgent_finds_room_at_once_while_ordinary_ones_wait():
    slots = sorted(book(27))
    assert earliest_slot(slots, 1.0, BUDGET, urgent=True) == 1.0
    assert earliest_slot(slots, 1.0, BUDGET, urgent=False) > 60


def test_the_hour_holds_1000():
    slots = book(1001)
    assert max(slots) >= BUDGET.hour  # the 1,001st waits for the hour (well, 951st for ordinary ones)
    assert sum(1 for s in slots if s < BUDGET.hour) <= 950


def test_common_slot_fits_every_recipient():
    busy, free = [0.0] * 25, []
    assert common_slot([busy, free], 0.0, BUDGET, False) == 65.0
