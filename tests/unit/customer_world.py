"""A small corp of customers for the customer API tests, written as rows (the callbacks that make such rows
are tested in test_api/test_processing; here the filters need exact times, statuses, tags and codes).

    王小明  owner zhangsan, mobile 13800001111, channel 线下门店
            zhangsan active, added 2026-03-01 10:00 Beijing through code 门店码 (线下门店), remark 老客户,
            remark mobile 13912345678, tags VIP (by zhangsan) and 展会 (from WeCom)
    赵六    owner lisi; lisi active, added 2026-04-01 00:10 Beijing (= 2026-03-31 16:10 UTC) through code
            公众号码 (公众号), tag VIP
    孙七    owner lisi; lisi active added 2026-02-01; zhangsan deleted_by_customer, added 2026-03-15
    周八    in the recycle bin (zhangsan active)
    外企客户 in another corp, followed by wangwu
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from models import (App, ChannelCode, Corp, Customer, CustomerEvent, FollowRelation, FollowTag, Staff, Tag,
                    TagGroup)
from support import CORP_ID

OTHER_CORP = "wwothercorp00001"
BJ = dt.timezone(dt.timedelta(hours=8))


def at(*args: int) -> dt.datetime:
    """A Beijing wall-clock time."""
    return dt.datetime(*args, tzinfo=BJ)


def build(runtime: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        app_pk = s.scalar(select(App.id).where(App.slug == "default"))
        s.add(Corp(corp_id=OTHER_CORP, name="other"))
        s.add_all([Staff(corp_id=CORP_ID, userid="zhangsan", name="张三"),
                   Staff(corp_id=CORP_ID, userid="lisi", name="李四")])
        group = TagGroup(corp_id=CORP_ID, group_id="grp1", name="等级")
        s.add(group)
        s.flush()
        vip = Tag(corp_id=CORP_ID, tag_id="tagvip", group_pk=group.id, name="VIP")
        fair = Tag(corp_id=CORP_ID, tag_id="tagfair", group_pk=group.id, name="展会")
        gone = Tag(corp_id=CORP_ID, tag_id="taggone", group_pk=group.id, name="旧", deleted_at=at(2026, 1, 1))
        store = ChannelCode(corp_id=CORP_ID, app_pk=app_pk, kind="single", name="门店码", channel="线下门店",
                            state="store-1")
        mp = ChannelCode(corp_id=CORP_ID, app_pk=app_pk, kind="single", name="公众号码", channel="公众号", state="mp-1")
        s.add_all([vip, fair, gone, store, mp])
        s.flush()

        def customer(name: str, owner: str | None, corp: str = CORP_ID, **kw: Any) -> Customer:
            c = Customer(corp_id=corp, external_userid=f"wm{name}", name=name, owner_userid=owner, type=1,
                         gender=1, **kw)
            s.add(c)
            s.flush()
            return c

        def follow(c: Customer, userid: str, added: dt.datetime, **kw: Any) -> FollowRelation:
            f = FollowRelation(customer_id=c.id, corp_id=c.corp_id, userid=userid, added_at=added,
                               status_changed_at=added, **kw)
            s.add(f)
            s.flush()
            return f

        wang = customer("王小明", "zhangsan", mobile="13800001111", channel="线下门店")
        f = follow(wang, "zhangsan", at(2026, 3, 1, 10), remark="老客户", description="想买房",
                   remark_mobiles=["13912345678"], add_way=1, state="store-1", channel_code_id=store.id)
        s.add_all([FollowTag(follow_id=f.id, customer_id=wang.id, tag_pk=vip.id, tagged_by="zhangsan"),
                   FollowTag(follow_id=f.id, customer_id=wang.id, tag_pk=fair.id, tagged_by="wecom")])
        s.add_all([CustomerEvent(customer_id=wang.id, kind="added", userid="zhangsan", source="inbox:1",
                                 at=at(2026, 3, 1, 10), detail={"state": "store-1"}),
                   CustomerEvent(customer_id=wang.id, kind="tagged", userid="zhangsan", source="inbox:2",
                                 at=at(2026, 3, 2, 9), detail={}),])
        zhao = customer("赵六", "lisi")
        f = follow(zhao, "lisi", at(2026, 4, 1, 0, 10), state="mp-1", channel_code_id=mp.id)
        s.add(FollowTag(follow_id=f.id, customer_id=zhao.id, tag_pk=vip.id, tagged_by="lisi"))
        sun = customer("孙七", "lisi")
        follow(sun, "lisi", at(2026, 2, 1, 12))
        follow(sun, "zhangsan", at(2026, 3, 15, 12), status="deleted_by_customer")
        zhou = customer("周八", "zhangsan", deleted_at=at(2026, 5, 1), deleted_by="token:old")
        follow(zhou, "zhangsan", at(2026, 3, 1, 12))
        other = customer("外企客户", "wangwu", corp=OTHER_CORP)
        follow(other, "wangwu", at(2026, 3, 1, 12))
        return {"王小明": wang.id, "赵六": zhao.id, "孙七": sun.id, "周八": zhou.id, "外企客户": other.id,
                "vip": vip.id, "fair": fair.id, "gone": gone.id, "store": store.id, "mp": mp.id}


def all_rows(runtime: Any) -> dict[str, list[tuple[Any, ...]]]:  # type: ignore[no-untyped-def]
    """Every row of every table: what "the request changed nothing" compares."""
    from models import Base

    with runtime.Session() as s:
        return {t.name: sorted(map(tuple, s.execute(t.select()).all()), key=repr) for t in Base.metadata.sorted_tables}


def rejected(runtime: Any, send: Any, status: int, code: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """`send()` answers `status` with the API's error shape, and not one row changed."""
    before = all_rows(runtime)
    r = send()
    assert r.status_code == status, r.get_data(as_text=True)
    error = r.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert all_rows(runtime) == before
    return error
