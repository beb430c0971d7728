"""Customer-service decisions: knowledge-base matching, receptionist choice, closing and hand-over words."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from rules.kf import (
    Candidate, SendFailAction, acts_on, answer_msgid, choose_receptionist, is_closing, send_fail_action,
    text_bytes_problems, wants_person,
)
from rules.knowledge import Entry, best_answer

KB = [
    Entry(1, "怎么退货", ("如何退货", "退货流程")),
    Entry(2, "发货时间", ("什么时候发货", "几天能到")),
    Entry(3, "营业时间", ("几点开门",)),
]


@pytest.mark.parametrize("question, expected", [
    ("怎么退货", 1),  # exact
    ("如何退货？", 1),  # a similar question, punctuation ignored
    ("请问我想退货流程是什么", 1),  # a similar question inside a longer one
    ("什么时候 发货呀", 2),  # blanks ignored, close enough
    ("ＡＢＣ几点开门", 3),  # full-width folded, keyword inside
    ("你们老板是谁", None),  # nothing close: a person answers
    ("", None),
])
def test_best_answer(question: str, expected: int | None) -> None:
    match = best_answer(question, KB, threshold=0.6)
    assert (match.id if match else None) == expected


def test_threshold_decides_between_answer_and_hand_over() -> None:
    fuzzy = best_answer("退货怎么弄", KB, threshold=0.3)
    assert fuzzy is not None and fuzzy.id == 1 and fuzzy.score < 0.8
    assert best_answer("退货怎么弄", KB, threshold=fuzzy.score + 0.01) is None


def test_ties_go_to_the_older_entry() -> None:
    twins = [Entry(7, "价格"), Entry(5, "价格")]
    match = best_answer("价格", twins, threshold=0.6)
    assert match is not None and (match.id, match.score) == (5, 1.0)


def test_round_robin_rotates_and_skips_full_people() -> None:
    people = [Candidate("c", 0), Candidate("a", 0), Candidate("b", 2)]
    first = choose_receptionist("round_robin", people, limit=2, rr_next=0, last_userid=None)
    second = choose_receptionist("round_robin", people, limit=2, rr_next=first.rr_next, last_userid=None)
    third = choose_receptionist("round_robin", people, limit=2, rr_next=second.rr_next, last_userid=None)
    assert [first.userid, second.userid, third.userid] == ["a", "c", "a"]  # b is full


def test_least_busy_takes_the_lightest_load() -> None:
    people = [Candidate("a", 3), Candidate("b", 1), Candidate("c", 2)]
    assert choose_receptionist("least_busy", people, limit=5, rr_next=0, last_userid=None).userid == "b"


@pytest.mark.parametrize("last, loads, expected", [
    ("b", {"a": 0, "b": 1}, "b"),  # back to who served them last
    ("b", {"a": 0, "b": 2}, "a"),  # they are full: round robin
    ("gone", {"a": 0, "b": 0}, "a"),  # no longer a servicer
])
def test_last_receptionist(last: str, loads: dict[str, int], expected: str) -> None:
    people = [Candidate(u, n) for u, n in loads.items()]
    assert choose_receptionist("last_receptionist", people, limit=2, rr_next=0, last_userid=last).userid == expected


def test_everyone_full_or_nobody_means_the_queue() -> None:
    assert choose_receptionist("least_busy", [Candidate("a", 1)], limit=1, rr_next=3, last_userid=None).userid is None
    assert choose_receptionist("round_robin", [], limit=1, rr_next=0, last_userid=None).userid is None


@pytest.mark.parametrize("said, closing", [
    ("再见", True), ("再见！", True), (" 谢谢。", True), ("谢谢，还有一个问题", False), ("", False), ("？", False),
])
def test_closing_words_are_the_whole_message(said: str, closing: bool) -> None:
    assert is_closing(said, ["再见", "谢谢"]) is closing


@pytest.mark.parametrize("said, person", [("人工", True), ("转人工客服！", True), ("人", False), ("退货", False)])
def test_hand_over_words_anywhere_in_the_message(said: str, person: bool) -> None:
    assert wants_person(said, ["人工"]) is person


def test_answer_msgids_are_32_allowed_characters_stable_and_distinct() -> None:
    customer_msgid = "4ra6xvHodNhXKC2CMCbCDt6rs9yUq1cFnEjPhUfySPWW"  # 44 characters, as WeCom's are
    made = answer_msgid("ww1", "wk1", customer_msgid)
    assert re.fullmatch(r"[0-9a-zA-Z_-]{32}", made)
    assert made == answer_msgid("ww1", "wk1", customer_msgid)  # a retry sends the same id
    assert len({made, answer_msgid("ww1", "wk1", customer_msgid + "X"), answer_msgid("ww1", "wk2", customer_msgid),
                answer_msgid("ww2", "wk1", customer_msgid)}) == 4


def test_text_limits_are_counted_in_utf8_bytes() -> None:
    assert text_bytes_problems({"a": "您" * 682, "b": "x" * 2048, "c": None}) == {}
    assert list(text_bytes_problems({"a": "您" * 683, "b": "x" * 2049})) == ["a", "b"]
    assert "2049" in text_bytes_problems({"a": "您" * 683})["a"]


def test_only_messages_from_the_last_half_hour_before_the_pass_are_acted_on() -> None:
    started = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert acts_on(started - dt.timedelta(minutes=30), started)
    assert acts_on(started + dt.timedelta(seconds=5), started)
    assert not acts_on(started - dt.timedelta(minutes=30, seconds=1), started)
    assert not acts_on(started - dt.timedelta(days=2), started)


@pytest.mark.parametrize("fail_type, action", [
    (0, SendFailAction.hand_over), (6, SendFailAction.hand_over), (12, SendFailAction.hand_over),
    (4, SendFailAction.session_over), (5, SendFailAction.session_over),
    (1, SendFailAction.tell_admins), (2, SendFailAction.tell_admins), (8, SendFailAction.tell_admins),
    (11, SendFailAction.tell_admins), (10, SendFailAction.record), (99, SendFailAction.hand_over),
])
def test_each_send_fail_type_has_its_action(fail_type: int, action: SendFailAction) -> None:
    assert send_fail_action(fail_type) is action
