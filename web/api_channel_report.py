"""A channel's report (渠道详情, manual 9.14.3 数据趋势) and its channel codes' QR images.

The report counts, per corp-local day, the customers its channel codes brought (adds, from the codes' daily
counts) and lost (follow relations through its codes that ended that day: deleted by the member or by the
customer), and the net, over the last 7 or 30 days or a range; as JSON or as CSV (web/csv_export.py's cells).

A channel code's QR image is WeCom's (the code's `qr_code` URL on WeCom's CDN): the first download fetches
it once and keeps it in storage/, later ones are served from there, so a poster printed next year still
gets the same PNG even if WeCom's URL no longer answers."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import requests
from flask import Blueprint, jsonify, send_file
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.channels import corp_zone
from models import Channel, ChannelCode, ChannelDailyStat, FollowRelation, FollowStatus, Role
from models.db import utcnow
from rules.periods import utc_bounds
from storage import Missing, storage
from web import errors
from web.api import _live
from web.auth import audit, require
from web.csv_export import csv_line, csv_response
from web.endpoint import endpoint
from web.errors import ApiError
from web.sales_scope import runtime
from web.schemas.channels import ChannelReport, ChannelReportQuery

bp = Blueprint("api_channel_report", __name__, url_prefix="/api/v1")
errors.register(bp)

MAX_DAYS = 366
PNG = b"\x89PNG\r\n\x1a\n"
MAX_QR_BYTES = 2 * 1024 * 1024
FETCH_TIMEOUT = 5


def _days(s: Session, channel: Channel, query: ChannelReportQuery) -> tuple[dt.date, dt.date]:
    """The report's corp-local days, first and last inclusive; 400 naming the parameter when they are wrong."""
    if (query.from_ is None) != (query.to is None):
        raise ApiError(400, "bad_request", "from and to go together", {"from": "with to"})
    if query.from_ is not None and query.to is not None:
        if query.to < query.from_:
            raise ApiError(400, "bad_request", "to is before from", {"to": "on or after from"})
        if (query.to - query.from_).days >= MAX_DAYS:
            raise ApiError(400, "bad_request", f"at most {MAX_DAYS} days",
                           {"to": f"at most {MAX_DAYS} days after from"})
        return query.from_, query.to
    today = utcnow().astimezone(corp_zone(s, channel.corp_id)).date()
    return today - dt.timedelta(days=query.days - 1), today


def report(s: Session, channel: Channel, first: dt.date, last: dt.date) -> dict[str, Any]:
    zone = corp_zone(s, channel.corp_id)
    codes = select(ChannelCode.id).where(ChannelCode.channel_id == channel.id)
    adds = dict(s.execute(select(ChannelDailyStat.day, func.sum(ChannelDailyStat.adds)).where(
        ChannelDailyStat.code_id.in_(codes), ChannelDailyStat.day >= first, ChannelDailyStat.day <= last)
        .group_by(ChannelDailyStat.day)).all())
    start, end = utc_bounds(first, last, zone)
    losses: dict[dt.date, int] = {}
    for (at,) in s.execute(select(FollowRelation.status_changed_at).where(
            FollowRelation.channel_code_id.in_(codes), FollowRelation.status != FollowStatus.active.value,
            FollowRelation.status_changed_at >= start, FollowRelation.status_changed_at < end)):
        day = at.astimezone(zone).date()
        losses[day] = losses.get(day, 0) + 1
    days: list[dict[str, Any]] = []
    for n in range((last - first).days + 1):
        day = first + dt.timedelta(days=n)
        added, lost = int(adds.get(day) or 0), losses.get(day, 0)
        days.append({"day": day.isoformat(), "adds": added, "losses": lost, "net": added - lost})
    total_adds, total_losses = sum(d["adds"] for d in days), sum(d["losses"] for d in days)
    return {"channel_id": channel.id, "first": first.isoformat(), "last": last.isoformat(), "adds": total_adds,
            "losses": total_losses, "net": total_adds - total_losses, "days": days}


def _report(channel_id: int, query: ChannelReportQuery) -> tuple[Channel, dict[str, Any]]:
    with runtime().Session() as s:
        channel = _live(s, Channel, channel_id, "channel")
        first, last = _days(s, channel, query)
        return channel, report(s, channel, first, last)


@bp.get("/channels/<id:channel_id>/report")
@require(Role.admin)
@endpoint("A channel's adds, losses and net per corp-local day (last 7/30 days, or from..to)",
          query=ChannelReportQuery, response=ChannelReport)
def channel_report(channel_id: int, query: ChannelReportQuery) -> Any:
    return jsonify(_report(channel_id, query)[1])


@bp.get("/channels/<id:channel_id>/report/export")
@require(Role.admin)
@endpoint("The channel's report as CSV (UTF-8 with BOM: day, adds, losses, net)", query=ChannelReportQuery,
          response=bytes)
def export_channel_report(channel_id: int, query: ChannelReportQuery) -> Any:
    channel, data = _report(channel_id, query)
    lines = [(0, "\ufeff" + csv_line(["日期", "新增客户", "流失客户", "净增"]))]
    lines += [(1, csv_line([d["day"], d["adds"], d["losses"], d["net"]])) for d in data["days"]]
    return csv_response(iter(lines), f"channel-{channel.id}-{data['first']}-{data['last']}.csv")


def _fetch_png(url: str) -> bytes:
    """WeCom's QR image at `url`: a PNG of at most 2 MB, else 502 (nothing is stored)."""
    try:
        answer = requests.get(url, timeout=FETCH_TIMEOUT)
    except requests.RequestException:
        raise ApiError(502, "bad_gateway", "could not fetch the QR image from WeCom") from None
    data = answer.content
    if answer.status_code != 200 or not data.startswith(PNG) or len(data) > MAX_QR_BYTES:
        raise ApiError(502, "bad_gateway", f"WeCom's QR image answer was not a PNG (HTTP {answer.status_code})")
    return data


@bp.get("/channel-codes/<id:code_id>/qr.png")
@require(Role.admin)
@endpoint("The channel code's QR image as PNG (fetched from WeCom once, then kept)", response=bytes)
def code_qr(code_id: int) -> Any:
    with runtime().Session() as s:
        code = _live(s, ChannelCode, code_id, "channel code")
        key, url = code.qr_storage_key, code.qr_code
    store = storage(runtime())
    if key is not None:
        try:
            data = store.open(key).read()
        except Missing:
            key = None
    if key is None:
        if not url:
            raise ApiError(409, "conflict", "the code has no QR code yet (pending in WeCom, or not a QR code)")
        data = _fetch_png(url)
        key = store.put(io.BytesIO(data), "image/png")
        with runtime().WriteSession.begin() as s:
            row = s.get_one(ChannelCode, code_id)
            old, row.qr_storage_key = row.qr_storage_key, key
            audit(s, "channel_code.qr_stored", f"channel_code:{code_id}", size=len(data))
        if old and old != key:
            store.delete(old)
    return send_file(io.BytesIO(data), mimetype="image/png", as_attachment=True,
                     download_name=f"channel-code-{code_id}.png", max_age=0)
