"""Notifications to staff through the self-built app (message/send)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.app_messages import answer_result, send_app_message
from jobs.outbound import EffectContext, effect
from models import CorpSettings, Staff


def _member_and_manager(s: Session, corp_id: str, userid: str) -> tuple[str, str | None]:
    """(the member's name, their manager's userid); no manager when they have none, it is themself, or the
    manager has left."""
    member = s.execute(select(Staff.name, Staff.manager_userid).where(
        Staff.corp_id == corp_id, Staff.userid == userid)).first()
    name, manager = (member.name or userid, member.manager_userid) if member else (userid, None)
    if not manager or manager == userid or s.scalar(select(Staff.status).where(
            Staff.corp_id == corp_id, Staff.userid == manager)) == "resigned":
        return name, None
    return name, manager


@effect("notify_lost")
def notify_lost(ctx: EffectContext, agent_id: int | None, userid: str, external_userid: str,
                customer_name: str) -> dict[str, Any] | None:
    """流失提醒: the member (and, if the corp set it, their manager) learns the customer deleted them.
    A manager who has left, or who is the member themself, gets nothing."""
    with ctx.runtime.Session() as s:
        settings = s.scalar(select(CorpSettings).where(CorpSettings.corp_id == ctx.corp_id))
        name, manager = _member_and_manager(s, ctx.corp_id, userid)
    recipients = [userid]
    if settings is not None and settings.notify_manager_on_loss and manager:
        recipients.append(manager)
    who = customer_name or external_userid
    # One message to both: worded so it reads right for the member and for their manager.
    text = f"客户流失提醒：客户「{who}」已删除成员「{name}」，不再是企业微信好友。"
    answer = send_app_message(ctx, agent_id, recipients, "text", {"content": text})
    if answer is None:  # waits for the members' budget: scheduled again
        return None
    return ctx.finish(lambda s: {"recipients": recipients, **answer_result(answer)})


@effect("notify_staff_deleted")
def notify_staff_deleted(ctx: EffectContext, agent_id: int | None, userid: str, external_userid: str,
                         customer_name: str) -> dict[str, Any] | None:
    """删好友预警 (manual 9.3.1): the member's manager learns the member deleted a customer. Nobody to tell
    (no manager, or one who has left) finishes with no recipient."""
    with ctx.runtime.Session() as s:
        name, manager = _member_and_manager(s, ctx.corp_id, userid)
    if manager is None:
        return ctx.finish(lambda s: {"recipients": []})
    text = f"删好友预警：成员「{name}」删除了客户「{customer_name or external_userid}」。"
    answer = send_app_message(ctx, agent_id, [manager], "text", {"content": text})
    if answer is None:  # waits for the manager's budget: scheduled again
        return None
    return ctx.finish(lambda s: {"recipients": [manager], **answer_result(answer)})


@effect("notify_admins")
def notify_admins(ctx: EffectContext, agent_id: int | None, userids: list[str], text: str) -> dict[str, Any] | None:
    """A notice for some staff, within their app-message budget: the corp's admins (获客助手 quota and links), a
    group channel code's owner and creator (活码失效通知, handlers/group_codes.py)."""
    answer = send_app_message(ctx, agent_id, userids, "text", {"content": text})
    if answer is None:  # waits for the admins' budget: scheduled again
        return None
    return ctx.finish(lambda s: {"recipients": userids, **answer_result(answer)})
