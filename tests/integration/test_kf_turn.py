"""AnswerTurn against a real Redis: a pass waits for the previous pass's turn, takes its own back after a
kill, and answers anyway when a turn is never given back. (Without Redis it does nothing: the unit tests
run every kf flow that way.)"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from redis import Redis

import jobs.kf
from jobs.kf import AnswerTurn


def turn(redis_url: str, owner: str) -> AnswerTurn:
    return AnswerTurn(SimpleNamespace(redis=Redis.from_url(redis_url)), "wwcorp", "wkA", owner)  # type: ignore[arg-type]


def test_the_next_pass_waits_for_the_turn(redis_url) -> None:  # type: ignore[no-untyped-def]
    first, second, order = turn(redis_url, "outbox-1"), turn(redis_url, "outbox-2"), []
    first.take()
    waiter = threading.Thread(target=lambda: (second.take(), order.append("second answers")))
    waiter.start()
    time.sleep(0.2)
    order.append("first answered")
    first.give_back()
    waiter.join(5)
    assert order == ["first answered", "second answers"]
    assert Redis.from_url(redis_url).get(second.key) == b"outbox-2"
    first.give_back()  # not its turn any more: changes nothing
    assert Redis.from_url(redis_url).get(second.key) == b"outbox-2"


def test_a_rerun_takes_its_own_turn_and_a_stuck_turn_is_overtaken(redis_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    killed = turn(redis_url, "outbox-1")
    killed.take()  # and never gives it back
    started = time.monotonic()
    turn(redis_url, "outbox-1").take()  # the same row run again
    assert time.monotonic() - started < 0.1
    monkeypatch.setattr(jobs.kf, "TURN_WAIT", 0.3)
    started = time.monotonic()
    turn(redis_url, "outbox-2").take()
    assert 0.3 <= time.monotonic() - started < 2
    assert Redis.from_url(redis_url).get(killed.key) == b"outbox-2"

