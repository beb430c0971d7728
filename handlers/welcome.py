"""Planning the welcome message of an add: which one, and an outbox row on the fast `welcome` queue.

The WelcomeCode is valid for 20 s after the event and only once (docs/PROTOCOL.md §4), so the row carries
its deadline; the job checks it and logs a miss instead of calling WeCom too late.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.channels import corp_zone
from handlers.registry import HandlerContext, prepares
from models import ChannelCode, Outbox, WelcomeLog, WelcomeMessage
from models.chunk import chunk_memo, memo
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
        if _unseen(ctx, event.welcome_code):
            ctx.session.add(WelcomeLog(welcome_code=event.welcome_code, **skipped))
        else:
            get_or_create(ctx.session, WelcomeLog, {"welcome_code": event.welcome_code}, **skipped)
        return
    ctx.outbox("send_welcome", {
        "app_pk": ctx.app_pk, "welcome_code": event.welcome_code, "welcome_id": chosen.id,
        "external_userid": event.external_user_id, "userid": event.user_id,
        "deadline": (at + WELCOME_CODE_TTL).isoformat(),
    }, key=f"welcome:{event.welcome_code}", queue="welcome", fresh=_unseen(ctx, event.welcome_code))


_SEEN = "welcome_codes"  # chunk memo: the chunk's WelcomeCodes that have a log or an outbox row, or are taken


@prepares("change_external_contact/add_external_contact", "change_external_contact/add_half_external_contact")
def load_welcome_codes(session: Session, events: list[tuple[str, ExternalContactEvent]]) -> None:
    """Which of the chunk's WelcomeCodes already have a welcome log or a send planned: two statements per
    chunk instead of a lookup per add (a code is an event's own, but a replayed or re-sent add repeats it)."""
    codes = sorted({e.welcome_code for _, e in events if e.welcome_code})
    seen = memo(session, _SEEN, set[str])
    if codes:
        seen |= set(session.scalars(select(WelcomeLog.welcome_code).where(WelcomeLog.welcome_code.in_(codes))))
        seen |= {key.removeprefix("welcome:") for key in session.scalars(select(Outbox.key).where(
            Outbox.key.in_([f"welcome:{c}" for c in codes])))}
    memo(session, (_SEEN, "loaded"), set[str]).update(codes)


def _unseen(ctx: HandlerContext, welcome_code: str) -> bool:
    """True (and the code taken) when the chunk's prepare step found no row for this WelcomeCode and no event
    of the chunk used it yet: its rows are added without a lookup. False outside a chunk."""
    loaded = memo(ctx.session, (_SEEN, "loaded"), set[str])
    seen = memo(ctx.session, _SEEN, set[str])
    if chunk_memo(ctx.session) is None or welcome_code not in loaded or welcome_code in seen:
        return False
    seen.add(welcome_code)
    return True


def welcome_options(session: Session, corp_id: str) -> list[WelcomeOption]:
    rows = session.scalars(select(WelcomeMessage).where(
        WelcomeMessage.corp_id == corp_id, WelcomeMessage.deleted_at.is_(None))).all()
    return [WelcomeOption(w.id, w.scope, w.userid, w.code_id, w.start_minute, w.end_minute) for w in rows]
