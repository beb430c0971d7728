"""Chinese date expressions for /计划, read against a fixed 'now': Wednesday 2026-11-25 10:30 in Shanghai."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.dates import DateError, cn_number, describe, parse_when

TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 25, 10, 30, tzinfo=TZ)  # a Wednesday


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=TZ)


@pytest.mark.parametrize(("text", "when", "rest"), [
    ("明天下午3点 拜访客户", at(11, 26, 15), "拜访客户"),
    ("明天下午3点拜访客户", at(11, 26, 15), "拜访客户"),
    ("后天上午10点", at(11, 27, 10), ""),
    ("周五 10:00 回访", at(11, 27, 10), "回访"),
    ("星期五 10：00", at(11, 27, 10), ""),
    ("周三 11:00", at(11, 25, 11), ""),          # today, still ahead
    ("周三 9:00", at(12, 2, 9), ""),             # today's has passed: next week's
    ("周一", at(11, 30, 9), ""),                 # this week's Monday is past
    ("下周一", at(11, 30, 9), ""),
    ("下周五 下午2点半", at(12, 4, 14, 30), ""),
    ("下下周日 晚上9点", at(12, 13, 21), ""),
    ("本周六", at(11, 28, 9), ""),
    ("2026-12-01", at(12, 1, 9), ""),
    ("2026-12-01 15:30 开会", at(12, 1, 15, 30), "开会"),
    ("2027/1/5", at(1, 5, 9, year=2027), ""),
    ("2026年12月3日 9点", at(12, 3, 9), ""),
    ("12月1日 15:30", at(12, 1, 15, 30), ""),
    ("十二月一号", at(12, 1, 9), ""),
    ("11月1日", at(11, 1, 9, year=2027), ""),     # no year and already past this year: next year's
    ("今晚8点", at(11, 25, 20), ""),
    ("今晚", at(11, 25, 20), ""),
    ("明早", at(11, 26, 9), ""),
    ("明天中午1点", at(11, 26, 13), ""),
    ("明天凌晨12点", at(11, 26, 0), ""),
    ("明天 十点一刻", at(11, 26, 10, 15), ""),
    ("明天 拜访客户", at(11, 26, 9), "拜访客户"),  # a date alone: 09:00
    ("下午", at(11, 25, 14), ""),
    ("11点", at(11, 25, 11), ""),
    ("9点", at(11, 26, 9), ""),                   # a time alone that has passed today: tomorrow
    ("十点半 打电话", at(11, 26, 10, 30), "打电话"),
    ("3天后", at(11, 28, 9), ""),
    ("30分钟后 提醒", at(11, 25, 11, 0), "提醒"),
    ("半小时后", at(11, 25, 11, 0), ""),
    ("两个小时后", at(11, 25, 12, 30), ""),
])
def test_understood(text: str, when: dt.datetime, rest: str) -> None:
    assert parse_when(text, NOW) == (when, rest)


@pytest.mark.parametrize(("text", "message"), [
    ("随便写写", "看不懂这个时间"),
    ("", "看不懂这个时间"),
    ("2026-11-01", "这个时间已经过去了：2026-11-01 09:00"),
    ("今天 8点", "这个时间已经过去了：2026-11-25 08:00"),
    ("本周一", "这个时间已经过去了：2026-11-23 09:00"),
    ("2026-02-30", "没有这一天：2026年2月30日"),
    ("13月1日", "没有这一天：2026年13月1日"),
    ("明天25点", "没有这个时刻：25点"),
    ("明天 10:75", "没有这个时刻：10:75"),
])
def test_refused(text: str, message: str) -> None:
    with pytest.raises(DateError, match=f"^{message}$"):
        parse_when(text, NOW)


def test_result_is_stored_as_the_same_instant_in_utc() -> None:
    when, _ = parse_when("明天下午3点", NOW)
    assert when.astimezone(dt.UTC) == dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_when("明天", NOW.replace(tzinfo=None))


@pytest.mark.parametrize(("raw", "value"), [("3", 3), ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23),
                                             ("两", 2), ("三十", 30), ("〇", 0)])
def test_chinese_numbers(raw: str, value: int) -> None:
    assert cn_number(raw) == value


def test_describe_names_the_year_only_when_it_is_not_this_one() -> None:
    assert describe(at(12, 1, 15, 30), NOW) == "12月1日 周二 15:30"
    assert describe(at(1, 5, 9, year=2027), NOW) == "2027年1月5日 周二 09:00"
    assert describe(dt.datetime(2026, 12, 1, 7, 30, tzinfo=dt.UTC), NOW) == "12月1日 周二 15:30"
