"""Customer groups for the group API tests, written as rows (the WeCom sync and change_external_chat events
that make them are another module's): joins and quits over several days in the corp's time zone, Asia/Tokyo
(UTC+9, not the service's default), with times near local midnight so a UTC day would be wrong.

D0 is five corp-local days before today; times are Tokyo wall clock.

    wrG1 销售一群  owner zhangsan, created D0 10:00
        zhangsan  staff    joined D0 10:00 (scene 1)
        lisi      staff    joined D0 10:05 (scene 1), quit D2 08:30 (= D1 23:30 UTC; quit scene 0)
        wmA 王    customer joined D0 11:00 (scene 3); male, tag VIP
        wmD 赵    customer joined D0 12:00 (no scene), quit D1 20:00 (scene 1); gender unknown
        wmB 李    customer joined D1 09:00 (scene 2), quit D3 12:00 (scene 1), back D4 07:00 (= D3 22:00 UTC;
                  scene 3, invited by lisi); female, tags VIP and 展会
        wmC       external, no customer row, joined today (a minute ago, scene 1)
      size at the end of D-1..D5: 0, 4, 4, 3, 2, 3, 4 (staff 2, 2, 1, 1, 1, 1)
    wrG2 VIP二群   owner lisi, created D2 08:30 (= D1 23:30 UTC): lisi and wmA joined then (scene 2)
    wrG3 旧群      owner zhangsan, created D0-40, dismissed D0-30 (nobody left in it)
    wrG4 老群      owner zhangsan, created D0-20: zhangsan and wmD since then (no one new: never active)
    wrG9 外企群    in another corp, owner zhangsan (same userid), one member
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import (Corp, Customer, CustomerGroup, FollowRelation, FollowTag, GroupMember, MemberType, Staff, Tag,
                    TagGroup)
from support import CORP_ID

OTHER_CORP = "wwothergroups001"
TOKYO = ZoneInfo("Asia/Tokyo")


@dataclass
class World:
    d0: dt.date  # five corp-local days before today
    today: dt.date
    customers: dict[str, int]
    tags: dict[str, int]

    def day(self, n: int) -> dt.date:
        return self.d0 + dt.timedelta(days=n)


def tokyo_today() -> dt.date:
    return dt.datetime.now(TOKYO).date()


def build(runtime: Any) -> World:  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(TOKYO).date()
    d0 = today - dt.timedelta(days=5)

    def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(d0 + dt.timedelta(days=day), dt.time(hour, minute), TOKYO)

    just_now = max(dt.datetime.combine(today, dt.time(), TOKYO), now - dt.timedelta(minutes=1))
    with runtime.WriteSession.begin() as s:
        corp = s.scalar(select(Corp).where(Corp.corp_id == CORP_ID))
        corp.timezone = "Asia/Tokyo"
        s.add(Corp(corp_id=OTHER_CORP, name="other", timezone="Asia/Tokyo"))
        s.add_all([Staff(corp_id=CORP_ID, userid="zhangsan", name="张三"),
                   Staff(corp_id=CORP_ID, userid="lisi", name="李四")])
        library = TagGroup(corp_id=CORP_ID, group_id="grp1", name="等级")
        s.add(library)
        s.flush()
        vip = Tag(corp_id=CORP_ID, tag_id="tagvip", group_pk=library.id, name="VIP")
        fair = Tag(corp_id=CORP_ID, tag_id="tagfair", group_pk=library.id, name="展会")
        s.add_all([vip, fair])
        s.flush()
        customers: dict[str, int] = {}
        for ext, name, gender, tags in (("wmA", "王", 1, [vip]), ("wmB", "李", 2, [vip, fair]), ("wmD", "赵", 0, [])):
            c = Customer(corp_id=CORP_ID, external_userid=ext, name=name, gender=gender, owner_userid="zhangsan")
            s.add(c)
            s.flush()
            f = FollowRelation(customer_id=c.id, corp_id=CORP_ID, userid="zhangsan", added_at=at(0, 9))
            s.add(f)
            s.flush()
            s.add_all([FollowTag(follow_id=f.id, customer_id=c.id, tag_pk=t.id) for t in tags])
            customers[ext] = c.id

        def group(chat_id: str, name: str, owner: str, created: dt.datetime, corp: str = CORP_ID,
                  **kw: Any) -> CustomerGroup:
            grp = CustomerGroup(corp_id=corp, chat_id=chat_id, name=name, owner_userid=owner, group_created_at=created,
                                notice=f"{name}的公告", admins=[owner], **kw)
            s.add(grp)
            s.flush()
            return grp

        def stint(grp: CustomerGroup, member: str, joined: dt.datetime, quit: dt.datetime | None = None,
                  scene: int | None = 1, quit_scene: int | None = None, inviter: str = "") -> None:
            staff = not member.startswith("wm")
            s.add(GroupMember(group_id=grp.id, corp_id=grp.corp_id, member_id=member, name=member,
                              member_type=(MemberType.staff if staff else MemberType.external).value,
                              customer_id=None if staff or grp.corp_id != CORP_ID else customers.get(member),
                              joined_at=joined, quit_at=quit, join_scene=scene, quit_scene=quit_scene,
                              inviter_userid=inviter, open_key=None if quit else member))
            s.flush()

        g1 = group("wrG1", "销售一群", "zhangsan", at(0, 10), staff_count=1, external_count=3)
        stint(g1, "zhangsan", at(0, 10))
        stint(g1, "lisi", at(0, 10, 5), quit=at(2, 8, 30), quit_scene=0)
        stint(g1, "wmA", at(0, 11), scene=3)
        stint(g1, "wmD", at(0, 12), quit=at(1, 20), scene=None, quit_scene=1)
        stint(g1, "wmB", at(1, 9), quit=at(3, 12), scene=2, quit_scene=1)
        stint(g1, "wmB", at(4, 7), scene=3, inviter="lisi")
        stint(g1, "wmC", just_now)
        g2 = group("wrG2", "VIP二群", "lisi", at(2, 8, 30), staff_count=1, external_count=1)
        stint(g2, "lisi", at(2, 8, 30))
        stint(g2, "wmA", at(2, 8, 30), scene=2)
        g3 = group("wrG3", "旧群", "zhangsan", at(-40, 9), dismissed_at=at(-30, 9))
        stint(g3, "zhangsan", at(-40, 9), quit=at(-30, 9))
        g4 = group("wrG4", "老群", "zhangsan", at(-20, 9), staff_count=1, external_count=1)
        stint(g4, "zhangsan", at(-20, 9))
        stint(g4, "wmD", at(-20, 9))
        g9 = group("wrG9", "外企群", "zhangsan", at(0, 9), corp=OTHER_CORP, staff_count=1)
        stint(g9, "zhangsan", at(0, 9))
        return World(d0=d0, today=today, customers=customers, tags={"vip": vip.id, "fair": fair.id})
