"""message/text from the self-built app: a staff member typed to the bot.

Text that is a command (`bot.parse`) runs once per inbox row: the `BotReply` row written in the same
transaction as the command's own rows is the proof, so a replayed row or a second run after a crash finds
it and does nothing. Chat that is not a command is stored (the inbox row) and not answered.

Where the answer goes is decided here, atomically with the command: when the callback view runs this
handler itself, within its passive-reply budget (`PASSIVE_DEADLINE`, set by `jobs.bot.answer_passively`),
the answer is marked `passive` and the view puts it in the HTTP response; on any other path (an RQ worker,
the sweeper, a replay, the budget spent) it is `message` and an outbox row sends it with message/send.
Exactly one of the two, never both.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

import bot
from bot.scope import staff_role
from handlers.registry import HandlerContext, on
from models import App, BotReply, Corp, ReplyVia
from models.access import SYSTEM_OFF, system_on
from models.db import utcnow
from wecom.events import AppMessage

# time.monotonic() by which a passive answer must be decided; None outside the callback's own run.
PASSIVE_DEADLINE: ContextVar[float | None] = ContextVar("bot_passive_deadline", default=None)


def corp_zone(session: Session, corp_id: str) -> ZoneInfo:
    """The corp's time zone (Corp.timezone), else the service's (SCRM_TIMEZONE)."""
    from jobs.runtime import current  # at call time: importing jobs at load would import this module again

    name = session.scalar(select(Corp.timezone).where(Corp.corp_id == corp_id))
    try:
        return ZoneInfo(name or current().settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(current().settings.timezone)


@on("message/text")
def bot_command(ctx: HandlerContext, event: AppMessage) -> None:
    parsed = bot.parse(event.content)
    if parsed is None:
        return
    s = ctx.session
    if s.scalar(select(BotReply.id).where(BotReply.inbox_id == ctx.inbox_id)) is not None:
        return
    userid = event.from_user
    bctx = bot.BotContext(session=s, corp_id=ctx.corp_id, app_pk=ctx.app_pk, userid=userid,
                          role=staff_role(s, ctx.corp_id, userid), now=utcnow().astimezone(corp_zone(s, ctx.corp_id)),
                          source=f"inbox:{ctx.inbox_id}", outbox=ctx.outbox, inbox_id=ctx.inbox_id)
    name, text = ("system_off", SYSTEM_OFF) if not system_on(s, ctx.corp_id, userid) else bot.run(bctx, parsed)
    deadline = PASSIVE_DEADLINE.get()
    via = ReplyVia.passive if deadline is not None and time.monotonic() < deadline else ReplyVia.message
    s.add(BotReply(inbox_id=ctx.inbox_id, corp_id=ctx.corp_id, userid=userid, command=name, text=text,
                   via=via.value))
    if via is ReplyVia.message:
        agent_id = s.scalar(select(App.agent_id).where(App.id == ctx.app_pk))
        ctx.outbox("bot_message", {"app_pk": ctx.app_pk, "agent_id": agent_id, "userid": userid, "content": text},
                   key=f"bot_reply:inbox:{ctx.inbox_id}")
