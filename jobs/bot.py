"""Delivering bot answers and plan reminders.

Passive answers: the callback view calls `answer_passively` for a command text it has just stored. That
runs `process_event` for the row right there, in the request, with the passive budget open
(`handlers.bot.PASSIVE_DEADLINE`), and returns the answer if the handler decided on a passive one. This
is the one place the web process runs a handler itself: a passive reply must be in the HTTP response,
WeCom waits 5 s for it, and a queued job gives no bound on when it runs (or a way to hand back its
answer). The handler's work is DB-only and small; anything that calls WeCom is an outbox effect, run
after commit like every other. `PASSIVE_BUDGET_SECONDS` leaves 2 s of WeCom's 5 s for the commit, the
encryption and the network.

A retried callback (same MsgId, WeCom got no answer in time) is answered with the stored passive text
again (`retried_reply`) without running the command: WeCom retries only when the earlier attempt's
answer did not reach it, so the member still sees one answer. A `message` answer is never repeated.

Slow answers and reminders go out by message/send (effect `bot_message`). Plan reminders are found by
a periodic scan (`remind_plans`, every 60 s from `rq cron jobs.cron`) rather than one RQ scheduled job
per plan: a plan lives in the DB, so a flushed Redis, a plan edited or deleted later, or inline mode
without a scheduler cannot lose or misfire its reminder; the cost is up to a minute of lateness.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import bot
from handlers.bot import PASSIVE_DEADLINE, corp_zone
from handlers.registry import HandlerContext
from jobs.events import process_event
from jobs.app_messages import answer_result, send_app_message
from jobs.outbound import EffectContext, effect
from jobs.queue import enqueue_outbox, job
from jobs.runtime import current
from models import App, BotReply, Customer, Inbox, Plan, ReplyVia
from models.db import utcnow
from models.plans import claim_reminder, due_reminders
from wecom.events import AppMessage, Event

PASSIVE_BUDGET_SECONDS = 3.0
REMIND_BATCH = 500


def is_command(event: Event) -> bool:
    """A text a staff member typed to the app that the bot answers."""
    return (isinstance(event, AppMessage) and event.routing_key == "message/text"
            and bot.parse(event.content) is not None)


def answer_passively(inbox_id: int, started: float) -> str | None:
    """Process the stored command now; its answer when it is to be given passively, else None (it goes by
    message/send, or it was not a command after all). `started` is the request's time.monotonic()."""
    token = PASSIVE_DEADLINE.set(started + PASSIVE_BUDGET_SECONDS)
    try:
        process_event(inbox_id)
    finally:
        PASSIVE_DEADLINE.reset(token)
    with current().Session() as s:
        return s.scalar(select(BotReply.text).where(BotReply.inbox_id == inbox_id,
                                                    BotReply.via == ReplyVia.passive.value))


def retried_reply(corp_id: str, dedup_key: str) -> str | None:
    """The passive answer already given to the callback a retry repeats, if there was one."""
    with current().Session() as s:
        return s.scalar(select(BotReply.text).join(Inbox, Inbox.id == BotReply.inbox_id).where(
            Inbox.corp_id == corp_id, Inbox.dedup_key == dedup_key, BotReply.via == ReplyVia.passive.value))


@effect("bot_message")
def bot_message(ctx: EffectContext, agent_id: int | None, userid: str, content: str) -> dict[str, Any] | None:
    """message/send a text to one staff member from the self-built app (a slow answer, a reminder): urgent,
    someone is waiting for it, so it goes before the member's other app messages."""
    answer = send_app_message(ctx, agent_id, [userid], "text", {"content": content}, urgent=True)
    if answer is None:  # waits for the member's budget: scheduled again
        return None
    return ctx.finish(lambda s: answer_result(answer))


def _reminder_text(session: Session, plan: Plan) -> str:
    """The plan's own time (its day, for an all-day plan), its text and its customer's name."""
    when = plan.starts_at.astimezone(corp_zone(session, plan.corp_id))
    about = ""
    if plan.customer_id:
        about = f"（客户：{session.scalar(select(Customer.name).where(Customer.id == plan.customer_id))}）"
    return bot.commands.clip(f"计划提醒（{when:%m月%d日 全天}）：{plan.text}{about}" if plan.all_day else
                             f"计划提醒（{when:%m月%d日 %H:%M}）：{plan.text}{about}")


def remind_due_plans(now: dt.datetime | None = None) -> int:
    """Queue a reminder for every plan due by `now` and not reminded yet; returns how many. Each is claimed
    by a conditional UPDATE (models.plans.claim_reminder) in the transaction that writes its outbox row, and
    the row's key names the plan and the reminder time, so a scan that runs twice, two scans at once, or a
    scan racing an edit remind once, at the time the plan holds."""
    runtime = current()
    now = now or utcnow()
    pending = []
    sent = 0
    with runtime.WriteSession.begin() as s:
        for plan_id, due_at in due_reminders(s, now, REMIND_BATCH):
            if not claim_reminder(s, plan_id, due_at, now):
                continue
            plan = s.get_one(Plan, plan_id)
            ctx = HandlerContext(session=s, corp_id=plan.corp_id, app_pk=plan.app_pk, inbox_id=plan.inbox_id)
            agent_id = s.scalar(select(App.agent_id).where(App.id == plan.app_pk))
            ctx.outbox("bot_message", {"app_pk": plan.app_pk, "agent_id": agent_id, "userid": plan.userid,
                                       "content": _reminder_text(s, plan)},
                       key=f"plan_reminder:{plan.id}:{due_at:%Y%m%d%H%M%S}")
            pending += [(o.id, o.queue) for o in ctx.pending_outbox]
            sent += 1
    enqueue_outbox(pending)
    return sent


@job("remind_plans", queue="maintenance")
def remind_plans_job() -> int:
    """The periodic form, run every minute by `rq cron jobs.cron`."""
    return remind_due_plans()
