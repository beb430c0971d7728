"""Pure rules of the add flow: which welcome, its text, who a channel code routes to."""

from __future__ import annotations

import pytest

from rules.channels import assign
from rules.welcome import WelcomeOption, choose_welcome, render, welcome_errors

DEFAULT = WelcomeOption(1, "default")
MORNING = WelcomeOption(2, "default", start_minute=6 * 60, end_minute=12 * 60)
ZHANG = WelcomeOption(3, "staff", userid="zhangsan")
CODE = WelcomeOption(4, "code", code_id=7)
NIGHT = WelcomeOption(5, "staff", userid="lisi", start_minute=22 * 60, end_minute=8 * 60)


@pytest.mark.parametrize("code_id, userid, minute, chosen", [
    (7, "zhangsan", 600, 4),        # the code's welcome beats the member's and the default
    (None, "zhangsan", 600, 3),     # no code: the member's
    (None, "wangwu", 600, 2),       # the default's morning variant at 10:00
    (None, "wangwu", 13 * 60, 1),   # the plain default in the afternoon
    (9, "wangwu", 13 * 60, 1),      # another code without a welcome: the default
    (None, "lisi", 23 * 60, 5),     # an overnight window at 23:00
    (None, "lisi", 7 * 60, 5),      # ...and at 07:00
    (None, "lisi", 13 * 60, 1),     # outside it: the default
])
def test_choose_welcome(code_id, userid, minute, chosen) -> None:  # type: ignore[no-untyped-def]
    assert choose_welcome([DEFAULT, MORNING, ZHANG, CODE, NIGHT], code_id, userid, minute).id == chosen


def test_no_welcome_configured() -> None:
    assert choose_welcome([ZHANG], None, "wangwu", 0) is None


def test_render_nickname() -> None:
    assert render("你好 #nickname#，欢迎！#nickname#", "张三") == "你好 张三，欢迎！张三"


@pytest.mark.parametrize("text, attachments, scope, field", [
    ("", 0, "default", "text"), ("字" * 101, 0, "code", "text"), ("x", 10, "default", "material_ids"),
    ("字" * 1334, 0, "default", "text"),  # 4002 bytes: WeCom would refuse it at send time
])
def test_welcome_errors(text, attachments, scope, field) -> None:  # type: ignore[no-untyped-def]
    assert field in welcome_errors(text, attachments, scope)
    assert welcome_errors("字" * 100, 9, "code") == {}
    assert welcome_errors("字" * 1333, 0, "default") == {}  # 3999 bytes


ACTIVE = {"a", "b", "c", "x"}


@pytest.mark.parametrize("mode, cursor, limit, adds, active, users, next_cursor, backups_used, abnormal", [
    ("round_robin", 0, None, {}, ACTIVE, ("a",), 1, False, False),
    ("round_robin", 1, None, {}, ACTIVE, ("b",), 2, False, False),
    ("round_robin", 2, None, {}, ACTIVE, ("c",), 0, False, False),             # wraps around
    ("round_robin", 1, 5, {"b": 5}, ACTIVE, ("c",), 0, False, False),          # b at the limit: skipped
    ("round_robin", 0, None, {}, {"b", "x"}, ("b",), 2, False, False),         # a left: skipped
    ("overflow", 0, 2, {"a": 1}, ACTIVE, ("a",), 0, False, False),             # a until the limit
    ("overflow", 0, 2, {"a": 2}, ACTIVE, ("b",), 0, False, False),             # then b
    ("overflow", 0, 1, {"a": 1, "b": 1, "c": 1}, ACTIVE, ("x",), 0, True, False),  # all full: backup
    ("round_robin", 0, None, {}, {"x"}, ("x",), 0, True, False),               # all gone: backup
    ("round_robin", 0, None, {}, set(), (), 0, False, True),                   # nobody: abnormal
])
def test_assign(mode, cursor, limit, adds, active, users, next_cursor, backups_used, abnormal) -> None:  # type: ignore[no-untyped-def]
    got = assign(["a", "b", "c"], ["x"], mode, cursor, limit, adds, active)
    assert (got.users, got.next_index, got.using_backups, got.abnormal) == (users, next_cursor, backups_used, abnormal)
