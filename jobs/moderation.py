"""Staff app messages (alerts, timeout notices, broadcasts) and the periodic reply-timeout check.

`staff_message` sends one message/send for an outbox row planned by handlers/moderation.py (a stored file
of a broadcast goes through media/upload first: jobs/app_media.py). For a
broadcast it records WeCom's answer on the broadcast: the recipients WeCom refused (invaliduser,
invalidparty) or who have no licence (unlicenseduser; the rest got it), or the errcode that refused the
whole message (81013: nobody valid).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.moderation import check_reply_timeouts
from jobs.app_media import with_media_id
from jobs.outbound import EffectContext, effect
from jobs.app_messages import NO_AGENT_ID, sent_to_staff, split_ids
from jobs.queue import FinalError, job
from jobs.runtime import current
from models.db import utcnow
from models.moderation import Broadcast, BroadcastStatus, ModerationSettings
from storage import Missing
from wecom.client import WeComError


@effect("staff_message")
def staff_message(ctx: EffectContext, agent_id: int, touser: list[str], toparty: list[int], msgtype: str,
                  body: dict[str, Any], broadcast_pk: int | None) -> dict[str, Any] | None:
    if not agent_id:
        raise FinalError(NO_AGENT_ID)
    try:
        answer = sent_to_staff(ctx, agent_id, touser, msgtype, with_media_id(ctx, msgtype, body), toparty)
    except (WeComError, Missing) as exc:
        if broadcast_pk is None or (isinstance(exc, WeComError) and exc.retryable):
            raise
        error = (f"errcode {exc.errcode}: {exc.errmsg}" if isinstance(exc, WeComError)
                 else "the broadcast's file is no longer stored")[:255]

        def refused(s: Session) -> dict[str, Any]:
            row = s.get_one(Broadcast, broadcast_pk)
            row.status, row.error = BroadcastStatus.failed.value, error
            return {"error": error}

        return ctx.finish(refused)
    invalid_users, invalid_parties = split_ids(answer.get("invaliduser")), split_ids(answer.get("invalidparty"))
    unlicensed = split_ids(answer.get("unlicenseduser"))

    def sent(s: Session) -> dict[str, Any]:
        if broadcast_pk is not None:
            row = s.get_one(Broadcast, broadcast_pk)
            row.status, row.msgid, row.sent_at = BroadcastStatus.sent.value, answer.get("msgid"), utcnow()
            row.invalid_users, row.invalid_parties = invalid_users, [int(p) for p in invalid_parties if p.isdigit()]
            row.unlicensed_users = unlicensed
        return {"msgid": answer.get("msgid"), "invaliduser": invalid_users, "invalidparty": invalid_parties,
                "unlicenseduser": unlicensed}

    return ctx.finish(sent)


@job("reply_timeouts", queue="maintenance")
def reply_timeouts_job() -> dict[str, int]:
    """Every minute (jobs/cron.py): record the reply timeouts of every corp that set a limit."""
    runtime = current()
    with runtime.Session() as s:
        corps = s.scalars(select(ModerationSettings.corp_id).where(ModerationSettings.reply_timeout_minutes > 0)).all()
    recorded = 0
    for corp_id in corps:
        with runtime.WriteSession.begin() as s:
            recorded += check_reply_timeouts(s, corp_id, utcnow())
    return {"recorded": recorded}
