"""The DB side of a group channel code (群活码): the group a scan gets, the scan counted per corp-local day,
and the code's status with its 活码失效通知.

The notice goes out once per transition to abnormal, not once per scan: `abnormal_count` numbers the
transitions and names the outbox row, so a scan, the periodic re-check and an admin's edit that all find
the code abnormal queue one message between them. The code is normal again as soon as one group is usable
(a group added, a new QR uploaded, members who left); the next time it turns abnormal is a new notice.
Callers hold the code row locked (`locked_code`) so concurrent scans count and rotate one after another.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from handlers.channels import corp_zone
from handlers.registry import HandlerContext
from models import CustomerGroup, GroupCode, GroupCodeDailyStat, GroupCodeEntry, GroupJoinWay
from models.corp import messaging_app
from rules.group_codes import Candidate, pick

log = logging.getLogger(__name__)

NOTICE = ("活码失效通知：群活码「{name}」的群都已满员或二维码已过期，扫码的客户暂时无法入群。"
          "请添加新群或上传新的群二维码。")


def locked_code(s: Session, code_id: int) -> GroupCode | None:
    """The live code `code_id`, its row locked for this transaction (MariaDB; SQLite has one writer anyway)."""
    return s.scalar(select(GroupCode).where(GroupCode.id == code_id, GroupCode.deleted_at.is_(None))
                    .with_for_update())


def entries_of(s: Session, code_ids: list[int]) -> dict[int, list[tuple[GroupCodeEntry, CustomerGroup]]]:
    """Each code's groups in the admin's order, each with its group row (the member counts); one query."""
    rows = s.execute(select(GroupCodeEntry, CustomerGroup)
                     .join(CustomerGroup, GroupCodeEntry.group_id == CustomerGroup.id)
                     .where(GroupCodeEntry.code_id.in_(code_ids)).order_by(GroupCodeEntry.position, GroupCodeEntry.id))
    found: dict[int, list[tuple[GroupCodeEntry, CustomerGroup]]] = {}
    for entry, group in rows.all():
        found.setdefault(entry.code_id, []).append((entry, group))
    return found


def entries(s: Session, code_id: int) -> list[tuple[GroupCodeEntry, CustomerGroup]]:
    """The code's groups in the admin's order, each with its group row."""
    return entries_of(s, [code_id]).get(code_id, [])


def candidate(entry: GroupCodeEntry, group: CustomerGroup) -> Candidate:
    return Candidate(entry.id, group.staff_count + group.external_count, entry.expires_at,
                     group.dismissed_at is not None)


def _settle(ctx: HandlerContext, code: GroupCode, usable: bool) -> None:
    """Normal while a group is usable; the step to abnormal queues the notice to the code's owner and creator."""
    if usable:
        code.status = "normal"
        return
    if code.status == "abnormal":
        return
    code.status = "abnormal"
    code.abnormal_count += 1
    recipients = sorted(u for u in (code.owner_userid, code.creator_userid) if u)
    app_pk, agent_id = messaging_app(ctx.session, code.corp_id, prefer_pk=code.app_pk) or (code.app_pk, None)
    ctx.outbox("notify_admins", {"app_pk": app_pk, "agent_id": agent_id, "userids": recipients,
                                 "text": NOTICE.format(name=code.name)},
               key=f"group_code_abnormal:{code.id}:{code.abnormal_count}")


def recheck(ctx: HandlerContext, code: GroupCode, now: dt.datetime) -> None:
    """Re-derive the code's status (after an edit, or periodically as QR codes expire and groups fill)."""
    chosen, _ = pick([candidate(e, g) for e, g in entries(ctx.session, code.id)], code.strategy, code.next_index, now)
    _settle(ctx, code, chosen is not None)


def recheck_holding(ctx: HandlerContext, group_id: int, now: dt.datetime) -> None:
    """Re-derive the status of the codes that show group `group_id`, once its members changed: a group filling
    up (or freeing a place) moves its codes at once, not at the next periodic check."""
    codes = ctx.session.scalars(select(GroupCode).where(GroupCode.deleted_at.is_(None), GroupCode.id.in_(
        select(GroupCodeEntry.code_id).where(GroupCodeEntry.group_id == group_id))))
    for code in codes:
        recheck(ctx, code, now)


def scan(ctx: HandlerContext, code: GroupCode, now: dt.datetime) -> GroupCodeEntry | None:
    """A scan of the code's landing route: the entry to show (None: no usable group), counted on the corp's
    day under the group shown, the round-robin cursor moved, the status settled."""
    rows = entries(ctx.session, code.id)
    chosen, code.next_index = pick([candidate(e, g) for e, g in rows], code.strategy, code.next_index, now)
    _settle(ctx, code, chosen is not None)
    shown = next(((e, g) for e, g in rows if chosen is not None and e.id == chosen.entry_id), None)
    _count(ctx.session, code, now, shown[1].chat_id if shown else "")
    return shown[0] if shown else None


def _count(s: Session, code: GroupCode, now: dt.datetime, chat_id: str) -> None:
    """One more scan on today's row (an UPDATE, so two processes never lose one; the row is made on first use)."""
    day = now.astimezone(corp_zone(s, code.corp_id)).date()
    where = (GroupCodeDailyStat.code_id == code.id, GroupCodeDailyStat.day == day,
             GroupCodeDailyStat.chat_id == chat_id)
    done = s.execute(update(GroupCodeDailyStat).where(*where).values(scans=GroupCodeDailyStat.scans + 1)
                     .execution_options(synchronize_session=False))
    if done.rowcount == 0:  # type: ignore[attr-defined]
        s.add(GroupCodeDailyStat(code_id=code.id, day=day, chat_id=chat_id, scans=1))


def drop_join_way(ctx: HandlerContext, code: GroupCode) -> None:
    """Delete the code's join way here and, once WeCom made it, there (del_join_way); one still being made
    is deleted by its add effect, which finds the row gone."""
    way = ctx.session.scalar(select(GroupJoinWay).where(GroupJoinWay.code_id == code.id))
    if way is None:
        return
    if way.config_id:
        ctx.outbox("del_join_way", {"app_pk": code.app_pk, "config_id": way.config_id},
                   key=f"del_join_way:{way.config_id}")
    ctx.session.delete(way)
