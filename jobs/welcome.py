"""send_welcome: the welcome message, within WelcomeCode's 20 s, once (docs/PROTOCOL.md §4, doc 92599).

Past the deadline nothing is sent and the miss is logged; so is WeCom's 41050 (the code expired or is
unknown). 41051 is final and logged as `chat_started`, what it means (doc 92599, "externaluser has started
chatting"): the customer and the member are already talking, or another app's welcome went first; it is
not an error. The text is checked in bytes after `#nickname#` is filled in: the API refuses a text that
could exceed 4,000 bytes with the longest name planned for, and a name longer than that gets the text
trimmed to 4,000 bytes at send. 41096 (another app is delivering) and transient errors
are retried on the welcome queue while the deadline allows; after it they are logged as a miss too.
Any other error is logged as failed and dead-lettered with the outbox row failed, so a replay re-checks
the deadline instead of finding the row done.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.outbound import EffectContext, effect
from jobs.queue import FinalError
from models import GroupCode, GroupJoinWay, Material, WelcomeLog, WelcomeMessage
from models.db import get_or_create, utcnow
from rules.welcome import NICKNAME, fit_bytes, render
from wecom.client import WeComError

log = logging.getLogger(__name__)

EXPIRED, CHAT_STARTED, BUSY_ELSEWHERE = 41050, 41051, 41096
GROUP_QR_TITLE, GROUP_QR_DESC = "扫码加入群聊", "长按识别二维码，加入我们的客户群"


class WelcomeBusy(Exception):
    """WeCom says another app is delivering this welcome (41096), or was busy or out of reach: worth another
    try on the welcome queue's short back-off while the window is open."""


def attachable() -> Any:
    """The materials `attachment` can send: images by media_id or pic_url, links and mini-programs (the
    library's text, uploaded files and voices are for the sidebar: WeCom's welcome takes no such part)."""
    return Material.kind.in_(("image", "link", "miniprogram")) & Material.storage_key.is_(None)


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


def _write_log(s: Session, ctx: EffectContext, args: dict[str, Any], status: str, detail: str) -> dict[str, Any]:
    row, _ = get_or_create(s, WelcomeLog, {"welcome_code": args["welcome_code"]}, corp_id=ctx.corp_id,
                           external_userid=args["external_userid"], userid=args["userid"],
                           welcome_id=args["welcome_id"], status=status, detail=detail)
    row.status, row.detail = status, detail
    return {"welcome": status}


def _log(ctx: EffectContext, args: dict[str, Any], status: str, detail: str = "") -> dict[str, Any] | None:
    """Record the outcome and mark the outbox row done, in one transaction."""
    return ctx.finish(lambda s: _write_log(s, ctx, args, status, detail))


def group_qr_attachment(qr_code: str, as_: str) -> dict[str, Any]:
    """A group code's join-way QR in send_welcome_msg's shape: an image by its URL (pic_url), or a link to it."""
    if as_ == "link":
        return {"msgtype": "link", "link": {"title": GROUP_QR_TITLE, "picurl": qr_code, "desc": GROUP_QR_DESC,
                                            "url": qr_code}}
    return {"msgtype": "image", "image": {"pic_url": qr_code}}


def _message(welcome_id: int, ctx: EffectContext) -> tuple[str, list[dict[str, Any]]]:
    """The welcome's text template and its attachments (deleted materials left out; the group QR code last,
    left out if its code was deleted or its join way has no QR any more)."""
    with ctx.runtime.Session() as s:
        welcome = s.get(WelcomeMessage, welcome_id)
        materials = s.scalars(select(Material).where(Material.id.in_(welcome.material_ids or []),
                                                     Material.deleted_at.is_(None))).all()
        parts = [attachment(m) for m in materials]
        if welcome.group_code_id is not None:
            qr = s.scalar(select(GroupJoinWay.qr_code).join(GroupCode, GroupCode.id == GroupJoinWay.code_id).where(
                GroupCode.id == welcome.group_code_id, GroupCode.deleted_at.is_(None)))
            if qr:
                parts.append(group_qr_attachment(qr, welcome.group_qr_as))
        return welcome.text, parts


@effect("send_welcome")
def send_welcome(ctx: EffectContext, **args: Any) -> dict[str, Any] | None:
    deadline = dt.datetime.fromisoformat(args["deadline"])
    if utcnow() >= deadline:
        return _log(ctx, args, "missed", "WelcomeCode expired (20 s) before the job ran")
    text, parts = _message(args["welcome_id"], ctx)
    body: dict[str, Any] = {"welcome_code": args["welcome_code"], "attachments": parts}
    try:
        if NICKNAME in text:  # the name costs a WeCom call inside the 20 s: only when the text uses it
            name = ctx.client.get_external_contact(args["external_userid"])["external_contact"].get("name", "")
            text = render(text, name)
        text = fit_bytes(text)
        if text:
            body["text"] = {"content": text}
        ctx.client.post("externalcontact/send_welcome_msg", data=body)
    except WeComError as exc:
        if exc.errcode == CHAT_STARTED:
            log.info("welcome %s not needed: 41051, the customer and the member already started chatting",
                     args["welcome_code"][:8])
            return _log(ctx, args, "chat_started", "41051: the customer and the member already started chatting "
                        "(or another app's welcome went first)")
        busy = exc.errcode == BUSY_ELSEWHERE or exc.retryable
        if busy and utcnow() < deadline:
            raise WelcomeBusy(str(exc)) from None
        if busy or exc.errcode == EXPIRED:  # the window closed while WeCom was busy, or WeCom says it has
            return _log(ctx, args, "missed", str(exc))
        with ctx.runtime.WriteSession.begin() as s:
            _write_log(s, ctx, args, "failed", str(exc))
        raise FinalError(str(exc)) from None
    return _log(ctx, args, "sent")
