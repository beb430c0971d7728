"""Customer-group effects the change_external_chat handlers plan: groupchat/get for one group, reconciled
(`fetch_group`), and the 退群提醒 app message to a group's owner (`notify_group_quit`)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from handlers.group_store import apply_groups
from handlers.moderation import notification
from jobs.app_messages import answer_result, send_app_message
from jobs.outbound import EffectContext, effect
from models.db import utcnow
from rules.templates import GROUP_QUIT
from wecom.client import WeComClient, WeComError

log = logging.getLogger(__name__)

GROUP_GONE = frozenset({40050})
"""groupchat/get's answer for a chat id WeCom does not know (global table: "chatid不存在"): the group was
dismissed, or never existed. Final: retrying cannot bring it back."""


def get_group(client: WeComClient, chat_id: str) -> dict[str, Any]:
    """groupchat/get with member names (need_name=1): the `group_chat` object."""
    return client.post("externalcontact/groupchat/get", data={"chat_id": chat_id, "need_name": 1})["group_chat"]


@effect("fetch_group")
def fetch_group(ctx: EffectContext, chat_id: str, at: str | None = None) -> dict[str, Any] | None:
    """Read the group and make our rows match it. `at` (the event's time) is when members found gone are
    taken to have quit: the time we learnt of it, not the time we fetched."""
    try:
        detail = get_group(ctx.client, chat_id)
    except WeComError as exc:
        if exc.errcode not in GROUP_GONE:
            raise
        errcode = exc.errcode
        log.info("group %s: groupchat/get answers %s (no such group); nothing applied", chat_id, errcode)
        return ctx.finish(lambda s: {"gone": errcode})
    when = dt.datetime.fromisoformat(at) if at else utcnow()
    return ctx.finish(lambda s: apply_groups(s, ctx.corp_id, [detail], when).summary())


@effect("notify_group_quit")
def notify_group_quit(ctx: EffectContext, agent_id: int | None, userid: str, group_name: str, member_id: str,
                      member_name: str) -> dict[str, Any] | None:
    """退群提醒 (004 §4.2): the owner learns a customer left their group, in the corp's enabled 退群提醒
    template (§9.13) or the built-in wording."""
    values = {"customer": member_name or member_id, "group": group_name}
    with ctx.runtime.Session() as s:
        msgtype, body = notification(s, ctx.corp_id, GROUP_QUIT, values)
    answer = send_app_message(ctx, agent_id, [userid], msgtype, body)
    if answer is None:  # waits for the owner's budget: scheduled again
        return None
    return ctx.finish(lambda s: {"recipients": [userid], **answer_result(answer)})
