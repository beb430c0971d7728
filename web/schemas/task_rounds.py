"""Models of web/api_task_rounds.py: a task's rounds (its history, one per period of a repeating task) and
the reminder sent by hand."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from web.schemas.automation import RoundOut
from web.schemas.common import Out


class RoundPeriod(Out):
    task_id: int
    day: dt.date = Field(description="the corp-local day the round was issued (its period's first day)")
    period_end: dt.datetime | None = Field(description="when the next period begins (the next round's issue time); "
                                                       "None for a once task or the last period")
    not_done: int


class RoundSummaryOut(RoundPeriod):
    id: int
    issued_at: dt.datetime
    deadline_at: dt.datetime | None
    assigned: int
    done: int
    done_userids: list[str] = Field(description="who is done")
    todo_userids: list[str] = Field(description="who is not done")


class RoundDetailOut(RoundOut, RoundPeriod):
    """One round with each assignee's status, done time and proof count."""


class RemindOut(Out):
    task_id: int
    round_id: int
    reminded: list[str] = Field(description="the members not done, sent an app message now")
    next_remind_at: dt.datetime = Field(description="the earliest time the task can be reminded again")
