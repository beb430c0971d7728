"""The customer analysis (客户分析, 004 §8.1) of a corp's period and members, added up by the database: every
figure is a COUNT … GROUP BY over a range of an index of follow_relations (ix_follow_relations_corp_added,
ix_follow_relations_corp_status_changed), so a month of a 1,000,000-customer corp reads its month's rows only.

A customer is counted per follow relation, as the manual counts per member (新增客户数: 员工新添加的客户数量):
added when the relation was (`added_at`), lost when it ended (`status_changed_at` of a relation deleted by the
member or by the customer). 客户总数 is the relations live at the period's end: live now, less those added
after the end, plus those added before it and lost after it."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from models.db import utcnow
from models import ChannelCode, Customer, FollowRelation, FollowStatus, FollowTag, Tag
from web.stats_scope import Frame, change, counted

ADD_WAYS = {0: "未知来源", 1: "扫描二维码", 2: "搜索手机号", 3: "名片分享", 4: "群聊", 5: "手机通讯录", 6: "微信联系人",
            8: "第三方应用自动添加的客服人员", 9: "搜索邮箱", 10: "视频号添加", 11: "日程参与人", 12: "会议参与人",
            13: "添加微信好友对应的企业微信", 14: "智慧硬件专属客服", 15: "上门服务客服", 16: "获客链接",
            17: "定制开发", 18: "需求回复", 21: "第三方售前客服", 22: "可能的商务伙伴", 24: "微信账号的好友申请",
            201: "内部成员共享", 202: "管理员/负责人分配"}
"""WeCom's add_way (externalcontact/get, doc 92114): how the member added the customer (客户来源)."""
LOST = (FollowStatus.deleted_by_staff.value, FollowStatus.deleted_by_customer.value)


def _mine(frame: Frame) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [FollowRelation.corp_id == frame.corp_id]
    if frame.members is not None:
        conds.append(FollowRelation.userid.in_(sorted(frame.members)))
    return conds


def _added(frame: Frame, start: dt.datetime, end: dt.datetime) -> list[ColumnElement[bool]]:
    return [*_mine(frame), FollowRelation.added_at >= start, FollowRelation.added_at < end]


def _lost(frame: Frame, start: dt.datetime, end: dt.datetime | None) -> list[ColumnElement[bool]]:
    conds = [*_mine(frame), FollowRelation.status.in_(LOST), FollowRelation.status_changed_at >= start]
    return conds if end is None else [*conds, FollowRelation.status_changed_at < end]


def _count(s: Session, conds: list[ColumnElement[bool]]) -> int:
    return int(s.scalar(counted(None, *conds)) or 0)


def total_at(s: Session, frame: Frame, end: dt.datetime) -> int:
    """Relations live at `end`: live now - added since + (lost since - lost since and added since), each count
    a range of one index (no relation changes in the future: a period reaching now is only the live count)."""
    live = _count(s, [*_mine(frame), FollowRelation.status == FollowStatus.active.value])
    if end > utcnow():
        return live
    added_since = _count(s, [*_mine(frame), FollowRelation.added_at >= end])
    lost_since = _count(s, _lost(frame, end, None))
    both_since = _count(s, [*_lost(frame, end, None), FollowRelation.added_at >= end])
    return live - added_since + lost_since - both_since


def _by_day(s: Session, frame: Frame) -> list[dict[str, Any]]:
    start, end = frame.period.start, frame.period.end
    new = Counter(dict(s.execute(select(frame.day_of(FollowRelation.added_at).label("d"), func.count())
                                 .where(*_added(frame, start, end)).group_by("d")).all()))
    lost = Counter(dict(s.execute(select(frame.day_of(FollowRelation.status_changed_at).label("d"), func.count())
                                  .where(*_lost(frame, start, end)).group_by("d")).all()))
    return [{"day": day.isoformat(), "new": new[n], "lost": lost[n], "net": new[n] - lost[n]}
            for n, day in enumerate(frame.days)]


def _new_rows(frame: Frame) -> Select:
    return select(FollowRelation.id).where(*_added(frame, frame.period.start, frame.period.end))


def _by_channel(s: Session, frame: Frame) -> list[dict[str, Any]]:
    rows = s.execute(select(FollowRelation.channel_code_id, Customer.channel, func.count())
                     .join(Customer, Customer.id == FollowRelation.customer_id)
                     .where(*_added(frame, frame.period.start, frame.period.end))
                     .group_by(FollowRelation.channel_code_id, Customer.channel)).all()
    codes = {code for code, _, _ in rows if code is not None}
    names = dict(s.execute(select(ChannelCode.id, ChannelCode.channel).where(ChannelCode.id.in_(codes)))
                 .all()) if codes else {}
    counts: Counter[str] = Counter()
    for code, channel, count in rows:
        counts[(names.get(code) if code is not None else None) or channel or ""] += count
    return [{"channel": name, "new": n} for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _by_source(s: Session, frame: Frame) -> list[dict[str, Any]]:
    rows = s.execute(select(FollowRelation.add_way, func.count())
                     .where(*_added(frame, frame.period.start, frame.period.end))
                     .group_by(FollowRelation.add_way)).all()
    return [{"add_way": way, "name": ADD_WAYS.get(way if way is not None else 0, f"add_way {way}"), "new": n}
            for way, n in sorted(rows, key=lambda r: (-r[1], r[0] if r[0] is not None else -1))]


def _by_tag(s: Session, frame: Frame) -> list[dict[str, Any]]:
    rows = s.execute(select(FollowTag.tag_pk, Tag.name, func.count())
                     .join(Tag, and_(Tag.id == FollowTag.tag_pk, Tag.deleted_at.is_(None)))
                     .where(FollowTag.follow_id.in_(_new_rows(frame)))
                     .group_by(FollowTag.tag_pk, Tag.name)).all()
    return [{"tag_id": pk, "name": name, "new": n} for pk, name, n in sorted(rows, key=lambda r: (-r[2], r[0]))]


def customer_stats(s: Session, frame: Frame) -> dict[str, Any]:
    period, before = frame.period, frame.previous()
    days = _by_day(s, frame)
    new, lost = sum(d["new"] for d in days), sum(d["lost"] for d in days)
    by_staff = _count(s, [*_lost(frame, period.start, period.end),
                          FollowRelation.status == FollowStatus.deleted_by_staff.value])
    old_new = _count(s, _added(frame, before.start, before.end))
    old_lost = _count(s, _lost(frame, before.start, before.end))
    return {"corp_id": frame.corp_id, "from": period.first.isoformat(), "to": period.last.isoformat(),
            "userids": None if frame.members is None else sorted(frame.members),
            "total": total_at(s, frame, period.end), "new": new, "lost": lost, "lost_by_staff": by_staff,
            "lost_by_customer": lost - by_staff, "net": new - lost,
            "previous": {"from": before.first.isoformat(), "to": before.last.isoformat(), "new": old_new,
                         "lost": old_lost, "net": old_new - old_lost},
            "new_change": change(new, old_new), "lost_change": change(lost, old_lost),
            "net_change": change(new - lost, old_new - old_lost),
            "days": days, "by_channel": _by_channel(s, frame), "by_source": _by_source(s, frame),
            "by_tag": _by_tag(s, frame)}
