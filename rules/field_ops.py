"""The operators of a custom-field condition (smart-tag rules and segments, 004 §4.6.3 / §5.5), over a value's
canonical text (rules/fields.py: a number as its decimal text, a date as YYYY-MM-DD, a date-time as
"YYYY-MM-DD HH:MM").

- "eq" / "neq": equal / not equal (numbers compared as decimals, so "8" equals 8.00).
- "contains": the text contains the value.
- "gte" / "lte": at least / at most (numbers as decimals, dates as their ISO text).
- "between": from `value` to `to`, both inclusive. Numbers as decimals (two places at most); dates by day,
  so a date-time on the last day is inside.

A number condition is met by number fields' values only (a text field holding "12" is text, and SQL's cast of
a text that is no number gives 0, which would make "≠ 5" true of any word).

A customer without a value for the field matches no operator, "neq" included: "budget ≠ 100" picks the
customers whose budget is known and is something else, never those nobody asked. A segment that wants the
unknown ones too says so with a second segment, not by an operator that silently widens.

web/segment_query.field_condition compiles these operators to SQL for segments and smart tags alike;
tests/unit/test_field_ops.py states their meaning once more in Python and checks the two agree.
"""

from __future__ import annotations

import datetime as dt


def next_day(day: str) -> str:
    """The ISO day after `day` (YYYY-MM-DD): the exclusive upper bound of a "between" of dates."""
    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
