"""customer_acquisition (获客助手, doc 97299): quota and link events tell the admins, conversions go on the
customer's timeline.

Quota running low or out, quota about to expire, a link that stopped working: the corp's admins (API
tokens of role admin or super_admin that name a userid) get an app message (effect `notify_admins`, within
their app-message budget). A customer's first message to the member who added them through a link
(customer_start_chat) and later messages (message_from_customer) are recorded on that customer's timeline.
Other changes (balance_increased, delete_link, open_profile, friend_request) are stored and need nothing.
"""

from __future__ import annotations

import logging

from sqlalchemy import or_, select

from handlers import timeline
from handlers.registry import HandlerContext, on
from models import ApiToken, Customer, Role
from models.corp import messaging_app
from models.db import get_or_create, utcnow
from wecom.events import Event

log = logging.getLogger(__name__)

NOTICES = {
    "balance_low": "获客助手提醒：获客助手使用量已不足 20 次，请及时补充。",
    "balance_exhausted": "获客助手提醒：获客助手使用量已用完，获客链接暂时无法添加新客户。",
    "quota_expire_soon": "获客助手提醒：有获客助手使用量即将过期。",
    "link_unavailable": "获客助手提醒：获客链接 {link} 已不可用，请检查它的使用成员。",
}
TIMELINE = {"customer_start_chat": "acquisition_first_message", "message_from_customer": "acquisition_message"}


def admin_userids(ctx: HandlerContext) -> list[str]:
    """The corp's admins who can be messaged: live admin tokens naming a member."""
    rows = ctx.session.scalars(select(ApiToken.userid).where(
        ApiToken.role.in_([Role.admin.value, Role.super_admin.value]), ApiToken.revoked_at.is_(None),
        ApiToken.userid.is_not(None), or_(ApiToken.corp_id.is_(None), ApiToken.corp_id == ctx.corp_id)))
    return sorted(set(rows))


@on(*(f"customer_acquisition/{change}" for change in NOTICES))
def acquisition_notice(ctx: HandlerContext, event: Event) -> None:
    change = event.routing_key.rsplit("/", 1)[-1]
    admins = admin_userids(ctx)
    if not admins:
        log.warning("获客助手 %s: no admin with a userid to tell (inbox %s)", change, ctx.inbox_id)
        return
    app_pk, agent_id = messaging_app(ctx.session, ctx.corp_id, prefer_pk=ctx.app_pk) or (ctx.app_pk, None)
    text = NOTICES[change].format(link=event.get("LinkId") or "")
    ctx.outbox("notify_admins", {"app_pk": app_pk, "agent_id": agent_id, "userids": admins, "text": text},
               key=f"notify_admins:inbox:{ctx.inbox_id}")


@on(*(f"customer_acquisition/{change}" for change in TIMELINE))
def acquisition_chat(ctx: HandlerContext, event: Event) -> None:
    external_userid = event.get("ExternalUserID")
    if not external_userid:
        log.info("%s without ExternalUserID (ChatKey only) not put on a timeline (inbox %s)", event.routing_key,
                 ctx.inbox_id)
        return
    customer, _ = get_or_create(ctx.session, Customer, {"corp_id": ctx.corp_id, "external_userid": external_userid})
    ctx.session.flush()
    kind = TIMELINE[event.routing_key.rsplit("/", 1)[-1]]
    timeline.record(ctx.session, customer.id, kind, f"inbox:{ctx.inbox_id}", event.create_time or utcnow(),
                    userid=event.get("UserID") or None, link_id=event.get("LinkId"))
