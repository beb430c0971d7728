"""Follow-up records and opportunities as CSV: the list's filters, the member scope (a member's file holds
only the records of the customers they follow, and naming another's customer is the list's 404), times in
the corp's zone, formulas quoted, every export audited. Rows come from customer_world: zhangsan follows
王小明, lisi alone follows 赵六."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import select

from customer_world import build
from models import AuditLog
from support import CORP_ID


@pytest.fixture
def world(client, runtime, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ids = build(runtime)
    w = {**ids, "zhangsan": make_token("member", userid="zhangsan", name="zs"),
         "lisi": make_token("member", userid="lisi", name="ls"), "admin": make_token("admin", name="adm")}
    stage = client.post("/api/v1/opportunity-stages", headers=w["admin"],
                        json={"corp_id": CORP_ID, "name": "初步接洽", "probability": 10}).get_json()["id"]
    for member, customer, text in (("zhangsan", "王小明", "=HYPERLINK(\"x\")"), ("lisi", "赵六", "李四的跟进")):
        r = client.post("/api/v1/follow-ups", headers=w[member],
                        json={"customer_id": w[customer], "text": text, "at": "2026-11-20T16:30:00Z"})
        assert r.status_code == 201, r.get_json()
        r = client.post("/api/v1/opportunities", headers=w[member],
                        json={"customer_id": w[customer], "name": f"{customer}的合同", "stage_id": stage,
                              "amount_cents": 1234567, "expected_close": "2026-12-31"})
        assert r.status_code == 201, r.get_json()
    return w


def rows(client, path: str, headers: dict[str, str], **query: Any) -> list[list[str]]:  # type: ignore[no-untyped-def]
    r = client.get(path, headers=headers, query_string=query)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8" and "attachment" in r.headers["Content-Disposition"]
    text = r.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_a_members_follow_up_export_holds_only_their_customers_records(client, runtime, world) -> None:
    [header, mine] = rows(client, "/api/v1/follow-ups/export", world["zhangsan"])
    assert header[:8] == ["记录ID", "跟进对象", "客户ID", "客户名称", "跟进人", "跟进类型", "跟进内容", "跟进时间"]
    assert mine[1] == f"客户:{world['王小明']}"
    assert mine[2:10] == ["wm王小明", "王小明", "张三", "笔记", "'=HYPERLINK(\"x\")", "2026-11-21 00:30:00", "", "api"]
    [_, theirs] = rows(client, "/api/v1/follow-ups/export", world["lisi"])
    assert theirs[3:5] == ["赵六", "李四"]
    assert {r[3] for r in rows(client, "/api/v1/follow-ups/export", world["admin"])[1:]} == {"王小明", "赵六"}
    # the list's filters, and its 404 for a customer the member does not follow
    assert rows(client, "/api/v1/follow-ups/export", world["zhangsan"], userid="lisi")[1:] == []
    assert rows(client, "/api/v1/follow-ups/export", world["admin"], since="2026-11-21T00:00:00Z")[1:] == []
    assert client.get("/api/v1/follow-ups/export", headers=world["zhangsan"],
                      query_string={"customer_id": world["赵六"]}).status_code == 404
    with runtime.Session() as s:
        audits = s.execute(select(AuditLog.actor, AuditLog.detail).where(AuditLog.action == "follow_up.export")
                           .order_by(AuditLog.id)).all()
    assert audits[0] == ("token:zs", {"filters": {}})
    assert ("token:zs", {"filters": {"userid": "lisi"}}) in audits


def test_a_members_opportunity_export_holds_only_their_customers_deals(client, runtime, world) -> None:
    [header, mine] = rows(client, "/api/v1/opportunities/export", world["zhangsan"])
    assert header == ["商机ID", "客户ID", "客户名称", "商机名称", "商机阶段", "金额（元）", "预计成交日期", "负责人", "置顶",
                      "输单原因", "创建时间"]
    assert mine[1:10] == ["wm王小明", "王小明", "王小明的合同", "初步接洽", "12345.67", "2026-12-31", "张三", "", ""]
    [_, theirs] = rows(client, "/api/v1/opportunities/export", world["lisi"])
    assert theirs[3] == "赵六的合同"
    assert len(rows(client, "/api/v1/opportunities/export", world["admin"])) == 3
    assert rows(client, "/api/v1/opportunities/export", world["admin"], owner="lisi")[1][3] == "赵六的合同"
    assert client.get("/api/v1/opportunities/export", headers=world["zhangsan"],
                      query_string={"customer_id": world["赵六"]}).status_code == 404
    with runtime.Session() as s:
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "opportunity.export")) == "token:zs"
