"""Models of web/api_group_sync.py: starting a customer-group sync and what the last one did."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from web.schemas.common import CorpBody, Out
from web.schemas.jobs import JobOut


class GroupSyncBody(CorpBody):
    """Which corp to sync (a corp-bound token needs none); its app with the customer-contact secret is used."""


class GroupSyncOut(Out):
    corp_id: str
    synced_at: dt.datetime | None = Field(description="when the last finished sync ended (UTC)")
    groups_changed: int | None = Field(
        description="groups whose row or members that sync changed: the X of 同步 X 条信息")
    rows_written: int | None = Field(description="group, member-stint and customer-stub rows it wrote")
    text: str = Field(description="最近更新：<corp-local time>，同步 X 条信息 (or 尚未同步)")
    last: JobOut | None = Field(description="the last finished sync's job, with its whole result")
    running: JobOut | None = Field(description="a sync queued or running now")
