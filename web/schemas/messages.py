"""Models of web/api_messages.py: conversation search."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from models.conversation import MessageSource
from web.schemas.admin import TimeRange
from web.schemas.common import Out

MAX_QUERY_CHARS = 100


class MessageQuery(TimeRange):
    customer: str | None = Field(None, max_length=64, description="external_userid, or a customer id")
    staff: str | None = Field(None, max_length=64, description="userid: written by or received in their kf sessions")
    open_kfid: str | None = Field(None, max_length=64)
    session: str | None = Field(None, max_length=64, description="kf session id")
    source: MessageSource | None = None
    q: str | None = Field(None, max_length=MAX_QUERY_CHARS, description="text the message contains")


class MessageOut(Out):
    id: int
    source: MessageSource
    msgid: str
    open_kfid: str | None
    external_userid: str | None
    userid: str | None
    origin: str
    msgtype: str
    content: str
    send_time: dt.datetime
