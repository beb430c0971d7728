"""Models of web/api.py: stored callbacks (events), dead letters, apps."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from models import InboxStatus
from web.schemas.common import Instant, Out, PageQuery


class TimeRange(PageQuery):
    since: Instant | None = None
    until: Instant | None = None


class EventQuery(TimeRange):
    status: InboxStatus | None = None
    routing_key: str | None = Field(None, max_length=200,
                                    description="e.g. change_external_contact/add_external_contact")


class EventOut(Out):
    id: int
    corp_id: str
    routing_key: str
    status: InboxStatus
    error: str | None
    attempts: int
    received_at: dt.datetime
    processed_at: dt.datetime | None


class EventDetail(EventOut):
    raw_xml: str = Field(description="the decrypted callback")


class DeadLetterQuery(PageQuery):
    job: str | None = Field(None, max_length=200)
    replayed: Literal["true", "false"] | None = None


class DeadLetterOut(Out):
    id: int
    job: str
    corp_id: str | None = Field(description="the corp the job worked for; null: a job for no one corp")
    args: list[Any]
    queue: str
    error: str
    attempts: int
    failed_at: dt.datetime
    replayed_at: dt.datetime | None


class AppOut(Out):
    id: str = Field(description="the app's slug")
    corp_id: str
    kind: str
    agent_id: int | None
    callback_path: str
    credentials: Literal["ok", "broken"] = Field(description="broken once gettoken refused the secret (40001); "
                                                             "a new secret (PATCH) clears it")
    credentials_error: str | None
    credentials_broken_at: dt.datetime | None
    created_at: dt.datetime
