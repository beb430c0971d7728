"""A corp for the hand-over tests (客户继承), written as rows, and the fake WeCom's hand-over controls.

    departments: 1 总部 > 2 销售部 > 3 华东组
    zhangsan (2, 销售), lisi (2, 销售), zhaoliu (3, 销售), qianba (2, 行政), kefu (1, 客服: the fallback holder)
    wangwu resigned from 2 (销售) on `resigned_at`
Customers are `cu0001`… followed by whoever `add_customers` names."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests
from sqlalchemy import select

from models import Customer, CustomerGroup, Department, FollowRelation, Staff
from models.db import utcnow
from support import CORP_ID

STAFF = [("zhangsan", "张三", 2, "销售"), ("lisi", "李四", 2, "销售"), ("zhaoliu", "赵六", 3, "销售"),
         ("qianba", "钱八", 2, "行政"), ("kefu", "云客服", 1, "客服")]


def build(runtime: Any, resigned_at: dt.datetime | None = None) -> None:
    with runtime.WriteSession.begin() as s:
        s.add_all([Department(corp_id=CORP_ID, dept_id=1, name="总部"),
                   Department(corp_id=CORP_ID, dept_id=2, name="销售部", parent_id=1),
                   Department(corp_id=CORP_ID, dept_id=3, name="华东组", parent_id=2)])
        for userid, name, dept, position in STAFF:
            if s.scalar(select(Staff).where(Staff.corp_id == CORP_ID, Staff.userid == userid)) is None:
                s.add(Staff(corp_id=CORP_ID, userid=userid, name=name, department=[dept], position=position))
        s.add(Staff(corp_id=CORP_ID, userid="wangwu", name="王五", department=[2], position="销售", status="resigned",
                    resigned_at=resigned_at or utcnow() - dt.timedelta(days=1)))


def add_customers(runtime: Any, userid: str, n: int, start: int = 1) -> list[str]:
    ids = [f"cu{i:04d}" for i in range(start, start + n)]
    with runtime.WriteSession.begin() as s:
        for ext in ids:
            c = Customer(corp_id=CORP_ID, external_userid=ext, name=f"客户{ext}", owner_userid=userid)
            s.add(c)
            s.flush()
            s.add(FollowRelation(customer_id=c.id, corp_id=CORP_ID, userid=userid,
                                 added_at=utcnow() - dt.timedelta(days=30)))
    return ids


def add_groups(runtime: Any, owner: str, n: int) -> list[str]:
    ids = [f"wr{i:04d}" for i in range(1, n + 1)]
    with runtime.WriteSession.begin() as s:
        s.add_all([CustomerGroup(corp_id=CORP_ID, chat_id=c, name=f"群{c}", owner_userid=owner) for c in ids])
    return ids


def owner(runtime: Any, ext: str) -> str | None:
    with runtime.Session() as s:
        return s.scalar(select(Customer.owner_userid).where(Customer.external_userid == ext))


def control(fake: Any, route: str, **body: Any) -> dict[str, Any]:
    r = requests.post(f"{fake.url}/fake/{route}", json={"corpid": CORP_ID, **body}, timeout=5)
    r.raise_for_status()
    return r.json()


def ids_sent(fake: Any, path: str) -> list[list[str]]:
    """The external_userid lists (or chat_id lists) of each call to `path`, in order."""
    key = "chat_id_list" if "groupchat" in path else "external_userid"
    return [c["body"][key] for c in fake.calls(path)]
