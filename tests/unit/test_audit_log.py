"""The audit log over the admin API (issue 17 item 2): a write through the API lands with its corp and area;
a super_admin lists it filtered by actor, area, object, action and time, paged, and exports it as CSV; a
corp-bound token sees its corp's rows only; other roles are refused."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from models.auth import AuditLog, record_audit
from support import CORP_ID
from web.auth import create_token

OTHER = "wwothercorp00001"
T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


def bearer(runtime, role: str, corp_id: str | None, name: str = "t") -> dict[str, str]:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        return {"Authorization": f"Bearer {create_token(s, name, role, corp_id=corp_id)}"}


@pytest.fixture
def log(app, runtime):  # type: ignore[no-untyped-def]
    """Rows of two corps, at T0 + n hours."""
    with runtime.WriteSession.begin() as s:
        for n, (corp, actor, action, target) in enumerate([
                (CORP_ID, "token:ops", "customer.update", "customer:1"),
                (CORP_ID, "token:ops", "tag.create", "tag:7"),
                (CORP_ID, "cli:root", "customer.delete", "customer:2"),
                (OTHER, "token:ops", "customer.update", "customer:9")]):
            record_audit(s, actor, action, target, corp_id=corp, note=f"第{n}条")
            s.flush()
        for n, row in enumerate(s.query(AuditLog).order_by(AuditLog.id)):
            row.at = T0 + dt.timedelta(hours=n)


def items(client, headers, query: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/audit-log{query}", headers=headers)
    assert r.status_code == 200, r.get_json()
    return [f"{x['action']} {x['target']}" for x in r.get_json()["items"]]


def test_a_write_through_the_api_lands_with_its_corp_and_area(client, runtime, make_token) -> None:
    boss = bearer(runtime, "super_admin", CORP_ID, "boss")
    assert client.post("/api/v1/roles", headers=boss, json={"name": "销售"}).status_code == 201
    row = client.get("/api/v1/audit-log?area=role", headers=boss).get_json()["items"][0]
    assert (row["corp_id"], row["actor"], row["area"], row["action"]) == (CORP_ID, "token:boss", "role", "role.create")


def test_filters_narrow_the_log(client, runtime, log) -> None:
    boss = bearer(runtime, "super_admin", None)
    assert items(client, boss) == ["customer.update customer:9", "customer.delete customer:2", "tag.create tag:7",
                                   "customer.update customer:1"]
    assert items(client, boss, "?actor=cli:root") == ["customer.delete customer:2"]
    assert items(client, boss, "?area=customer&corp_id=" + CORP_ID) == ["customer.delete customer:2",
                                                                        "customer.update customer:1"]
    assert items(client, boss, "?action=tag.create") == ["tag.create tag:7"]
    assert items(client, boss, "?target=customer:9") == ["customer.update customer:9"]
    window = f"?since={(T0 + dt.timedelta(hours=1)).isoformat()}&until={(T0 + dt.timedelta(hours=3)).isoformat()}"
    assert items(client, boss, window.replace("+", "%2B")) == ["customer.delete customer:2", "tag.create tag:7"]
    page = client.get("/api/v1/audit-log?page_size=1&page=2", headers=boss).get_json()
    assert (page["total"], len(page["items"])) == (4, 1)


def test_a_corp_bound_token_sees_its_corp_only(client, runtime, log) -> None:
    mine = bearer(runtime, "super_admin", CORP_ID)
    assert "customer.update customer:9" not in items(client, mine)
    assert len(items(client, mine)) == 3
    assert client.get(f"/api/v1/audit-log?corp_id={OTHER}", headers=mine).status_code == 403
    csv_text = client.get("/api/v1/audit-log/export", headers=mine).get_data(as_text=True)
    assert "customer:9" not in csv_text


@pytest.mark.parametrize("query,status", [("?since=yesterday", 400), ("?page_size=500", 400),
                                          (f"?since={T0.isoformat()}&until=2026-10-01T00:00:00Z", 400)])
def test_a_bad_query_is_a_400(client, runtime, log, query, status) -> None:
    r = client.get(f"/api/v1/audit-log{query.replace('+', '%2B')}", headers=bearer(runtime, "super_admin", None))
    assert r.status_code == status


def test_only_a_super_admin_reads_the_log(client, runtime, make_token, log) -> None:
    for headers in (make_token("admin"), make_token("member", userid="zhangsan")):
        assert client.get("/api/v1/audit-log", headers=headers).status_code == 403
        assert client.get("/api/v1/audit-log/export", headers=headers).status_code == 403


def test_the_csv_has_the_filtered_rows_in_the_corps_time(client, runtime, log) -> None:
    r = client.get(f"/api/v1/audit-log/export?corp_id={CORP_ID}&area=customer",
                   headers=bearer(runtime, "super_admin", None))
    assert r.status_code == 200 and r.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0] == ["时间", "企业", "操作人", "模块", "操作", "对象", "详情"]
    assert [line[4:6] for line in lines[1:]] == [["customer.delete", "customer:2"], ["customer.update", "customer:1"]]
    assert lines[2][0] == "2026-11-01 16:00:00" and lines[2][6] == '{"note": "第0条"}'  # Asia/Shanghai
