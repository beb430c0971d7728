"""Notifications to staff through the self-built app (message/send)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from jobs.outbound import EffectContext, effect
from models import App, CorpSettings, Staff


@effect("notify_lost")
def notify_lost(ctx: EffectContext, app_pk: int, userid: str, external_userid: str,
                customer_name: str) -> dict[str, Any] | None:
    """流失提醒: the member (and, if the corp set it, their manager) learns the customer deleted them."""
    with ctx.runtime.Session() as s:
        agent_id = s.scalar(select(App.agent_id).where(App.id == app_pk))
        settings = s.scalar(select(CorpSettings).where(CorpSettings.corp_id == ctx.corp_id))
        staff = s.scalar(select(Staff).where(Staff.corp_id == ctx.corp_id, Staff.userid == userid))
    recipients = [userid]
    if settings is not None and settings.notify_manager_on_loss and staff is not None and staff.manager_userid:
        recipients.append(staff.manager_userid)
    who = customer_name or external_userid
    text = f"客户流失提醒：客户「{who}」已将你从企业微信好友中删除。"
    answer = ctx.client.send_app_message(agent_id or 0, recipients, "text", {"content": text})
    return ctx.finish(lambda s: {"recipients": recipients, "invaliduser": answer.get("invaliduser", "")})
