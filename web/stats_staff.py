"""The staff analysis (员工分析, 004 §8.2.1) of a corp's period: per member, customers added and lost,
the customer-service conversations where the service sees them (kf sessions received, messages sent, the
average first response), follow-up records written, follow-up visits (web/stats_visits.py), and WeCom's own
联系客户统计 as synced daily (models.stats.BehaviorDay). One GROUP BY per figure over indexed ranges; every
member of the scope is listed, those with nothing with zeros."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from models import FollowRelation, FollowUp, KfSession, Message, Staff
from models.conversation import MessageOrigin
from models.sql_time import epoch_seconds
from models.stats import BehaviorDay
from web.stats_customers import LOST
from web.stats_scope import Frame, counted
from web.stats_visits import no_visits, visit_figures

BEHAVIOR_SUMS = ("chat_cnt", "message_cnt", "new_apply_cnt", "new_contact_cnt", "negative_feedback_cnt")


def _per_member(s: Session, frame: Frame, column: Any, *conds: ColumnElement[bool]) -> Counter[str]:
    """COUNT(*) per `column` (a userid column) of the rows `conds` select, within the frame's members."""
    if frame.members is not None:
        conds = (*conds, column.in_(sorted(frame.members)))
    return Counter(dict(s.execute(counted(column, *conds)).all()))


def _wecom(s: Session, frame: Frame) -> dict[str, dict[str, Any]]:
    day = BehaviorDay
    rows = select(day.userid, *(func.sum(getattr(day, f)) for f in BEHAVIOR_SUMS), func.avg(day.avg_reply_time),
                  func.avg(day.reply_percentage)).where(
        day.corp_id == frame.corp_id, day.day >= frame.period.first, day.day <= frame.period.last)
    if frame.members is not None:
        rows = rows.where(day.userid.in_(sorted(frame.members)))
    out = {}
    for userid, *sums, reply_time, percentage in s.execute(rows.group_by(day.userid)):
        out[userid] = {**{f: int(v or 0) for f, v in zip(BEHAVIOR_SUMS, sums, strict=True)},
                       "avg_reply_minutes": None if reply_time is None else round(float(reply_time), 2),
                       "reply_percentage": None if percentage is None else round(float(percentage), 2)}
    return out


def _first_responses(s: Session, frame: Frame) -> dict[str, float]:
    waited = epoch_seconds(KfSession.first_response_at) - epoch_seconds(KfSession.started_at)
    rows = select(KfSession.servicer_userid, func.avg(waited)).where(
        KfSession.corp_id == frame.corp_id, KfSession.started_at >= frame.period.start,
        KfSession.started_at < frame.period.end, KfSession.first_response_at.is_not(None),
        KfSession.servicer_userid.is_not(None))
    if frame.members is not None:
        rows = rows.where(KfSession.servicer_userid.in_(sorted(frame.members)))
    return {u: round(float(v), 1) for u, v in s.execute(rows.group_by(KfSession.servicer_userid)) if v is not None}


def staff_stats(s: Session, frame: Frame) -> dict[str, Any]:
    start, end, corp = frame.period.start, frame.period.end, frame.corp_id
    rel = FollowRelation
    added = _per_member(s, frame, rel.userid, rel.corp_id == corp, rel.added_at >= start, rel.added_at < end)
    lost = _per_member(s, frame, rel.userid, rel.corp_id == corp, rel.status.in_(LOST),
                       rel.status_changed_at >= start, rel.status_changed_at < end)
    chats = _per_member(s, frame, KfSession.servicer_userid, KfSession.corp_id == corp,
                        KfSession.started_at >= start, KfSession.started_at < end)
    sent = _per_member(s, frame, Message.userid, Message.corp_id == corp, Message.send_time >= start,
                       Message.send_time < end, Message.origin == MessageOrigin.servicer.value)
    notes = _per_member(s, frame, FollowUp.userid, FollowUp.corp_id == corp, FollowUp.at >= start, FollowUp.at < end)
    first = _first_responses(s, frame)
    wecom = _wecom(s, frame)
    days, skip, visits = visit_figures(s, frame)
    staff = select(Staff.userid, Staff.name).where(Staff.corp_id == corp)
    if frame.members is not None:
        staff = staff.where(Staff.userid.in_(sorted(frame.members)))
    names: dict[str, str] = dict(s.execute(staff).all())
    everyone = set(names) | set(frame.members or ()) | set(added) | set(notes) | set(wecom)
    everyone.discard(None)  # type: ignore[arg-type]
    empty = {**{f: 0 for f in BEHAVIOR_SUMS}, "avg_reply_minutes": None, "reply_percentage": None}
    items = [{"userid": u, "name": names.get(u, ""), "customers_added": added[u],
              "customers_lost": lost[u], "chats": chats[u], "messages_sent": sent[u],
              "first_response_seconds": first.get(u), "follow_ups": notes[u],
              "visits": visits.get(u) or no_visits(days), "wecom": wecom.get(u, empty)}
             for u in sorted(everyone, key=lambda u: (-added[u], -notes[u], u))]
    return {"corp_id": corp, "from": frame.period.first.isoformat(), "to": frame.period.last.isoformat(),
            "visit_days": days, "skip_non_workdays": skip, "items": items, "total": len(items)}
