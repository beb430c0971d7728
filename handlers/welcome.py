"""Planning the welcome message of an add: which one, and an outbox row on the fast `welcome` queue.

The WelcomeCode is valid for 20 s after the event and only once (docs/PROTOCOL.md §4), so the row carries
its deadline; the job checks it and logs a miss instead of calling WeCom too late.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.channels import corp_zone
from handlers.registry import HandlerContext
from models import ChannelCode, WelcomeLog, WelcomeMessage
from models.chunk import memo
from models.db import get_or_create
from rules.welcome import WelcomeOption, choose_welcome
from wecom.events import ExternalContactEvent

WELCOME_CODE_TTL = dt.timedelta(seconds=20)


def plan_welcome(ctx: HandlerContext, event: ExternalContactEvent, code: ChannelCode | None,
                 at: dt.datetime) -> None:
    options = memo(ctx.session, ("welcome_options", ctx.corp_id), lambda: welcome_options(ctx.session, ctx.corp_id))
    local = at.astimezone(corp_zone(ctx.session, ctx.corp_id))
    chosen = choose_welcome(options, code.id if code else None, event.user_id, local.hour * 60 + local.minute)
    if chosen is None:
        skipped = {"corp_id": ctx.corp_id, "external_userid": event.external_user_id, "userid": event.user_id,
                   "status": "skipped", "detail": "no welcome message applies"}
        if ctx.first_attempt:  # a WelcomeCode is the event's own: no log of it can exist yet
            ctx.session.add(WelcomeLog(welcome_code=event.welcome_code, **skipped))
        else:
            get_or_create(ctx.session, WelcomeLog, {"welcome_code": event.welcome_code}, **skipped)
        return
    ctx.outbox("send_welcome", {
        "app_pk": ctx.app_pk, "welcome_code": event.welcome_code, "welcome_id": chosen.id,
        "external_userid": event.external_user_id, "userid": event.user_id,
        "deadline": (at + WELCOME_CODE_TTL).isoformat(),
    }, key=f"welcome:{event.welcome_code}", queue="welcome", fresh=ctx.first_attempt)


def welcome_options(session: Session, corp_id: str) -> list[WelcomeOption]:
    rows = session.scalars(select(WelcomeMessage).where(
        WelcomeMessage.corp_id == corp_id, WelcomeMessage.deleted_at.is_(None))).all()
    return [WelcomeOption(w.id, w.scope, w.userid, w.code_id, w.start_minute, w.end_minute) for w in rows]
