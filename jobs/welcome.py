"""send_welcome: the welcome message, within WelcomeCode's 20 s, once (PROTOCOL.md §4, doc 92599).

Past the deadline nothing is sent and the miss is logged. 41051 (already sent) is final and logged;
41096 (another app is delivering) is retried on the welcome queue while the deadline allows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.outbound import EffectContext, effect
from models import Material, WelcomeLog, WelcomeMessage
from models.db import get_or_create, utcnow
from rules.welcome import render
from wecom.client import WeComError

ALREADY_SENT, BUSY_ELSEWHERE = 41051, 41096


class WelcomeBusy(Exception):
    """WeCom says another app is delivering this welcome; worth one more try inside the window."""


def attachment(material: Material) -> dict[str, Any]:
    """A library item in send_welcome_msg's `attachments` shape."""
    p = material.payload
    if material.kind == "image":
        image = {"media_id": p["media_id"]} if p.get("media_id") else {"pic_url": p["pic_url"]}
        return {"msgtype": "image", "image": image}
    if material.kind == "link":
        return {"msgtype": "link", "link": {"title": material.title, "picurl": p.get("picurl", ""),
                                            "desc": p.get("desc", ""), "url": p["url"]}}
    return {"msgtype": "miniprogram", "miniprogram": {"title": material.title, "pic_media_id": p["pic_media_id"],
                                                      "appid": p["appid"], "page": p["page"]}}


def _log(ctx: EffectContext, args: dict[str, Any], status: str, detail: str = "") -> dict[str, Any] | None:
    def write(s: Session) -> dict[str, Any]:
        row, _ = get_or_create(s, WelcomeLog, {"welcome_code": args["welcome_code"]}, corp_id=ctx.corp_id,
                               external_userid=args["external_userid"], userid=args["userid"],
                               welcome_id=args["welcome_id"], status=status, detail=detail)
        row.status, row.detail = status, detail
        return {"welcome": status}

    return ctx.finish(write)


@effect("send_welcome")
def send_welcome(ctx: EffectContext, **args: Any) -> dict[str, Any] | None:
    if utcnow() > dt.datetime.fromisoformat(args["deadline"]):
        return _log(ctx, args, "missed", "WelcomeCode expired (20 s) before the job ran")
    with ctx.runtime.Session() as s:
        welcome = s.get(WelcomeMessage, args["welcome_id"])
        materials = s.scalars(select(Material).where(Material.id.in_(welcome.material_ids or []))).all()
        text, parts = welcome.text, [attachment(m) for m in materials]
    name = ctx.client.get_external_contact(args["external_userid"])["external_contact"].get("name", "")
    body: dict[str, Any] = {"welcome_code": args["welcome_code"], "attachments": parts}
    if text:
        body["text"] = {"content": render(text, name)}
    try:
        ctx.client.post("externalcontact/send_welcome_msg", data=body)
    except WeComError as exc:
        if exc.errcode == ALREADY_SENT:
            return _log(ctx, args, "already_sent", str(exc))
        if exc.errcode == BUSY_ELSEWHERE and utcnow() < dt.datetime.fromisoformat(args["deadline"]):
            raise WelcomeBusy(str(exc)) from None
        _log(ctx, args, "failed", str(exc))
        raise
    return _log(ctx, args, "sent")
