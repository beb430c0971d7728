"""Request and response models of the link radar's admin API (web/api_radar.py)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from web.schemas.common import CorpBody, CorpQuery, Body, Id, Out, PageQuery


class RadarSettingsIn(CorpBody):
    notify: Literal["instant", "batched", "off"] = Field(
        description="instant: an app message per open; batched: one digest per follower every batch_minutes, "
                    "within the corp's working hours; off: no message")
    batch_minutes: int = Field(30, ge=5, le=1440, description="minutes between digests (batched)")


class RadarSettingsOut(Out):
    corp_id: str
    notify: str
    batch_minutes: int


class AutoTagIn(Body):
    tag_id: Id | None = Field(description="the corp tag added on a customer's first open; null: none")


class AutoTagOut(Out):
    material_id: int
    tag_id: int | None


class Counts(Out):
    opens: int
    readers: int = Field(description="distinct readers (a long-lived cookie per browser)")
    dwelled: int = Field(description="opens read for 15 s or more (beacon)")
    bottom: int = Field(description="opens scrolled to the bottom (beacon)")


class RadarLinkStats(Counts):
    id: int
    code: str
    material_id: int
    userid: str
    customer_id: int
    created_at: dt.datetime
    last_open_at: dt.datetime | None


class MaterialStats(Counts):
    material_id: int
    title: str
    links: int
    customers: int = Field(description="customers who opened at least once")
    auto_tag_id: int | None


class LinkQuery(PageQuery, CorpQuery):
    material_id: Id | None = None
    customer_id: Id | None = None
    userid: str | None = Field(None, max_length=64, description="the member who sent the links")


class OpenQuery(PageQuery, CorpQuery):
    link_id: Id | None = None
    material_id: Id | None = None
    customer_id: Id | None = None


class RadarOpenOut(Out):
    id: int
    link_id: int
    material_id: int
    customer_id: int
    userid: str
    reader: str = Field(description="the reader's id (opaque, per browser)")
    agent: str = Field(description="wxwork, wechat, mobile or desktop")
    dwell_seconds: int
    reached_bottom: bool
    at: dt.datetime
