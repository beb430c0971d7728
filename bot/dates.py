"""Chinese date and time expressions at the start of a command argument: 明天下午3点, 后天上午10点,
周五 10:00, 下周一, 2026-12-01, 12月1日 15:30, 今晚8点, 30分钟后.

`parse_when(text, now)` reads the longest time expression that opens `text` and returns the moment (in
`now`'s time zone, the corp's) and the rest of the text, so `/计划 明天下午3点 拜访客户` needs no separator.
Pure: no clock, no DB; the caller passes `now` (aware, corp time zone) and stores the result in UTC.

Choices where everyday usage is loose (say so in the usage line, test them in the table):
- a date without a time means 09:00; a period without a time means its usual hour (上午 9, 中午 12,
  下午 14, 傍晚 18, 晚上/今晚 20);
- a time without a date is today, or tomorrow once that time has passed;
- 周五 is the next Friday (today if the time is still ahead); 本周五/这周五 is this week's (Monday-based)
  Friday; 下周五 the one in the following week; 下下周五 the week after that;
- 12月1日 without a year is the next 1 December; an explicit date or 今天 in the past is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass


class DateError(ValueError):
    """Not a time we understand, or one already past; the message is shown to the staff member."""


CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
             "九": 9}
NUM = r"(?:\d{1,2}|[零〇一二两三四五六七八九十]{1,3})"
WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6,
            "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
DAY_WORDS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3}
# 今晚/明早…: a day and a period in one word.
DAY_PERIOD_WORDS = {"今早": (0, "早上"), "今晚": (0, "晚上"), "明早": (1, "早上"), "明晚": (1, "晚上"),
                    "后晚": (2, "晚上")}
PERIOD_HOURS = {"凌晨": 6, "早上": 9, "早晨": 9, "上午": 9, "中午": 12, "下午": 14, "傍晚": 18, "晚上": 20}
PM_PERIODS = {"下午", "傍晚", "晚上"}
DEFAULT_HOUR = 9

_DAY_PERIOD = "|".join(sorted(DAY_PERIOD_WORDS, key=len, reverse=True))
_DAY_WORD = "|".join(sorted(DAY_WORDS, key=len, reverse=True))
_PERIOD = "|".join(sorted(PERIOD_HOURS, key=len, reverse=True))

DATE_PATTERNS = [
    ("ymd", re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")),
    ("ymd", re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})[日号]?")),
    ("md", re.compile(rf"({NUM})月({NUM})[日号]?")),
    ("day_period", re.compile(rf"({_DAY_PERIOD})")),
    ("day", re.compile(rf"({_DAY_WORD})")),
    ("week", re.compile(r"(下下|下|本|这|这个|下个)?(?:周|星期|礼拜)([一二三四五六日天1-7])")),
    ("days_later", re.compile(rf"({NUM})天(?:后|以后|之后)")),
]
RELATIVE = re.compile(rf"(半|{NUM})(?:个)?(分钟|小时|钟头)(?:后|以后|之后)")
TIME = re.compile(rf"({_PERIOD})?\s*(?:(\d{{1,2}})[:：](\d{{2}})|({NUM})[点時时](?:(半|整|一刻|三刻)|({NUM})分?)?)?")
SPACE = re.compile(r"[\s\u3000]*")


def cn_number(raw: str) -> int:
    """12, 十二, 二十三, 两 → int (up to 99: hours, minutes, days and months need no more)."""
    if raw.isdigit():
        return int(raw)
    if "十" in raw:
        tens, _, ones = raw.partition("十")
        return (CN_DIGITS[tens] if tens else 1) * 10 + (CN_DIGITS[ones] if ones else 0)
    value = 0
    for ch in raw:
        value = value * 10 + CN_DIGITS[ch]
    return value


@dataclass(frozen=True)
class _Date:
    day: dt.date
    period: str | None = None
    roll_year: bool = False  # 12月1日 without a year: next year once this year's has passed
    weekday_next: bool = False  # 周五: next week's once this week's (with its time) has passed


def _date_part(text: str, today: dt.date) -> tuple[_Date | None, int]:
    for kind, pattern in DATE_PATTERNS:
        m = pattern.match(text)
        if m is None:
            continue
        if kind == "ymd":
            return _Date(_make_date(int(m[1]), int(m[2]), int(m[3]))), m.end()
        if kind == "md":
            return _Date(_make_date(today.year, cn_number(m[1]), cn_number(m[2])), roll_year=True), m.end()
        if kind == "day_period":
            offset, period = DAY_PERIOD_WORDS[m[1]]
            return _Date(today + dt.timedelta(days=offset), period=period), m.end()
        if kind == "day":
            return _Date(today + dt.timedelta(days=DAY_WORDS[m[1]])), m.end()
        if kind == "days_later":
            return _Date(today + dt.timedelta(days=cn_number(m[1]))), m.end()
        week_start = today - dt.timedelta(days=today.weekday())
        weeks = {"下": 1, "下个": 1, "下下": 2}.get(m[1] or "", 0)
        day = week_start + dt.timedelta(weeks=weeks, days=WEEKDAYS[m[2]])
        return _Date(day, weekday_next=m[1] is None), m.end()
    return None, 0


def _make_date(year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise DateError(f"没有这一天：{year}年{month}月{day}日") from None


def _time_part(text: str, period: str | None) -> tuple[dt.time | None, int]:
    """The time of day at the start of `text` (with a period word of its own or the date's), or None."""
    m = TIME.match(text)
    if m is None or not m.group(0).strip():
        return (dt.time(PERIOD_HOURS[period]) if period else None), 0
    period = m[1] or period
    if m[2] is not None:
        hour, minute = int(m[2]), int(m[3])
    elif m[4] is not None:
        hour = cn_number(m[4])
        minute = {"半": 30, "整": 0, "一刻": 15, "三刻": 45}.get(m[5] or "", 0) if m[5] else (
            cn_number(m[6]) if m[6] else 0)
    else:  # a period word alone: 明天下午
        return dt.time(PERIOD_HOURS[period]), m.end()  # type: ignore[index]  # no hour: the pattern matched a period
    if period in PM_PERIODS and hour < 12:
        hour += 12
    elif period == "中午" and hour < 11:
        hour += 12
    elif period == "凌晨" and hour == 12:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise DateError(f"没有这个时刻：{m.group(0).strip()}")
    return dt.time(hour, minute), m.end()


def parse_when(text: str, now: dt.datetime) -> tuple[dt.datetime, str]:
    """(the moment, in `now`'s zone; the text after the expression). Raises DateError."""
    if now.tzinfo is None:
        raise ValueError("now must be aware (the corp's time zone)")
    text = text.strip()
    rel = RELATIVE.match(text)
    if rel:
        amount = 0.5 if rel[1] == "半" else cn_number(rel[1])
        delta = dt.timedelta(minutes=amount) if rel[2] == "分钟" else dt.timedelta(hours=amount)
        return now + delta, text[rel.end():].strip()
    date, used = _date_part(text, now.date())
    gap = SPACE.match(text, used).end() if date else 0  # type: ignore[union-attr]  # SPACE matches the empty string
    time_, time_len = _time_part(text[gap:], date.period if date else None)
    if date is None and time_ is None:
        raise DateError("看不懂这个时间")
    end = gap + time_len if time_len else used
    rest = text[end:].strip()
    when = dt.datetime.combine(date.day if date else now.date(), time_ or dt.time(DEFAULT_HOUR), now.tzinfo)
    if when > now:
        return when, rest
    if date is None:
        return when + dt.timedelta(days=1), rest
    if date.weekday_next:
        return when + dt.timedelta(weeks=1), rest
    if date.roll_year:
        return when.replace(year=when.year + 1), rest
    raise DateError(f"这个时间已经过去了：{when:%Y-%m-%d %H:%M}")


WEEKDAY_NAMES = "一二三四五六日"


def describe(when: dt.datetime, now: dt.datetime) -> str:
    """How a reply names a moment: 12月1日 周二 15:30 (with the year when it is not `now`'s year).
    Both in the corp's time zone."""
    when = when.astimezone(now.tzinfo)
    year = f"{when.year}年" if when.year != now.year else ""
    return f"{year}{when.month}月{when.day}日 周{WEEKDAY_NAMES[when.weekday()]} {when:%H:%M}"
