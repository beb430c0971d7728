"""A small corp for the statistics tests (tests/unit/test_stats_api.py) and the dashboard's browser test, written
as rows with exact Beijing times on both sides of the period's edges. The period is 2026-03-01 (a Sunday) to
2026-03-07; the one before it 2026-02-22 to 02-28.

    c1 zhangsan added 03-01 00:00 (the period's first instant) by code 门店码 (线下门店), add_way 1, tag VIP
    c2 zhangsan added 02-28 23:59:59 (the previous period)
    c3 lisi     added 03-07 23:59, add_way 4 (群聊), the customer's channel 公众号
    c4 lisi     added 03-08 00:00 (after the period)
    c5 zhangsan added 02-25, deleted by the customer 03-03 10:00
    c6 lisi     added 02-20, deleted by lisi 03-05 09:00
    c7 zhangsan added 03-06 10:00 (a Friday), no code, no add_way

Follow-ups: zhangsan on c1 03-02 23:59 (visit day 1) and 03-05 00:00 (day 4: no visit day); lisi on c1 03-04
(not zhangsan's visit); zhangsan on c7 03-07 12:00 (a Saturday). Customer service: zhangsan received a session
of c1 on 03-06 10:00, answered after 90 s with one message (visit day 5). Group 客户群A of zhangsan created
03-02, a customer joined 03-03 and quit 03-05. WeCom's figures: zhangsan 03-01 and 03-02, lisi 03-02.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from models import (App, ChannelCode, CustomerGroup, Customer, FollowRelation, FollowTag, FollowUp, GroupMember,
                    KfSession, Message, Staff, Tag, TagGroup)
from models.stats import BehaviorDay, GroupChatDay
from support import CORP_ID

BJ = dt.timezone(dt.timedelta(hours=8))
PERIOD = {"from": "2026-03-01", "to": "2026-03-07"}


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BJ)


def build(runtime: Any) -> dict[str, int]:
    """Write the corp; returns the customers' ids by name (c1 …)."""
    with runtime.WriteSession.begin() as s:
        app_pk = s.scalar(select(App.id).where(App.slug == "default"))
        s.add_all([Staff(corp_id=CORP_ID, userid="zhangsan", name="张三"),
                   Staff(corp_id=CORP_ID, userid="lisi", name="李四")])
        group = TagGroup(corp_id=CORP_ID, group_id="grp1", name="等级")
        s.add(group)
        s.flush()
        vip = Tag(corp_id=CORP_ID, tag_id="tagvip", group_pk=group.id, name="VIP")
        store = ChannelCode(corp_id=CORP_ID, app_pk=app_pk, kind="single", name="门店码", channel="线下门店",
                            state="store-1")
        s.add_all([vip, store])
        s.flush()
        ids: dict[str, int] = {}

        def add(name: str, userid: str, added: dt.datetime, channel: str = "", **kw: Any) -> FollowRelation:
            c = Customer(corp_id=CORP_ID, external_userid=f"wm{name}", name=name, owner_userid=userid,
                         channel=channel)
            s.add(c)
            s.flush()
            ids[name] = c.id
            changed = kw.pop("changed", added)
            f = FollowRelation(customer_id=c.id, corp_id=CORP_ID, userid=userid, added_at=added,
                               status_changed_at=changed, **kw)
            s.add(f)
            s.flush()
            return f

        f1 = add("c1", "zhangsan", at(2026, 3, 1, 0, 0), add_way=1, channel_code_id=store.id)
        s.add(FollowTag(follow_id=f1.id, customer_id=f1.customer_id, tag_pk=vip.id, tagged_by="zhangsan"))
        add("c2", "zhangsan", at(2026, 2, 28, 23, 59, 59))
        add("c3", "lisi", at(2026, 3, 7, 23, 59), channel="公众号", add_way=4)
        add("c4", "lisi", at(2026, 3, 8, 0, 0))
        add("c5", "zhangsan", at(2026, 2, 25, 9), status="deleted_by_customer", changed=at(2026, 3, 3, 10))
        add("c6", "lisi", at(2026, 2, 20, 9), status="deleted_by_staff", changed=at(2026, 3, 5, 9))
        add("c7", "zhangsan", at(2026, 3, 6, 10))
        for cid, userid, when in ((ids["c1"], "zhangsan", at(2026, 3, 2, 23, 59)),
                                  (ids["c1"], "zhangsan", at(2026, 3, 5, 0, 0)),
                                  (ids["c1"], "lisi", at(2026, 3, 4, 10)),
                                  (ids["c7"], "zhangsan", at(2026, 3, 7, 12))):
            s.add(FollowUp(corp_id=CORP_ID, customer_id=cid, userid=userid, text="跟进", at=when, via="api"))
        session = KfSession(session_id="s1", corp_id=CORP_ID, app_pk=app_pk, open_kfid="kf1", external_userid="wmc1",
                            servicer_userid="zhangsan", started_at=at(2026, 3, 6, 10),
                            first_response_at=at(2026, 3, 6, 10, 1, 30), last_message_at=at(2026, 3, 6, 10, 5))
        s.add(session)
        s.flush()
        s.add(Message(corp_id=CORP_ID, source="kf", msgid="m1", open_kfid="kf1", external_userid="wmc1",
                      userid="zhangsan", origin="servicer", msgtype="text", content="您好",
                      send_time=at(2026, 3, 6, 10, 1, 30), session_pk=session.id))
        chat = CustomerGroup(corp_id=CORP_ID, chat_id="wrchatA", name="客户群A", owner_userid="zhangsan",
                             group_created_at=at(2026, 3, 2, 9))
        s.add(chat)
        s.flush()
        s.add(GroupMember(group_id=chat.id, corp_id=CORP_ID, member_id="wmc1", member_type=2,
                          joined_at=at(2026, 3, 3, 9), quit_at=at(2026, 3, 5, 9)))
        s.add_all([BehaviorDay(corp_id=CORP_ID, day=dt.date(2026, 3, 1), userid="zhangsan", chat_cnt=3, message_cnt=10,
                               reply_percentage=50.0, avg_reply_time=4, new_apply_cnt=2, new_contact_cnt=1),
                   BehaviorDay(corp_id=CORP_ID, day=dt.date(2026, 3, 2), userid="zhangsan", chat_cnt=1, message_cnt=2,
                               reply_percentage=100.0, avg_reply_time=2, new_apply_cnt=0, new_contact_cnt=1),
                   BehaviorDay(corp_id=CORP_ID, day=dt.date(2026, 3, 2), userid="lisi", chat_cnt=5, message_cnt=7),
                   GroupChatDay(corp_id=CORP_ID, day=dt.date(2026, 3, 1), owner="zhangsan", new_chat_cnt=1,
                                chat_total=4, new_member_cnt=3, member_total=30, msg_total=12),
                   GroupChatDay(corp_id=CORP_ID, day=dt.date(2026, 3, 2), owner="zhangsan", new_chat_cnt=0,
                                chat_total=5, new_member_cnt=2, member_total=31, msg_total=8),
                   GroupChatDay(corp_id=CORP_ID, day=dt.date(2026, 3, 2), owner="lisi", chat_total=1,
                                member_total=3, msg_total=1)])
    return ids
