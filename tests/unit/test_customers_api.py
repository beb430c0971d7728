"""The customer admin API over HTTP: list filters, member scoping, the detail, mobile masking, the recycle
bin (soft delete, restore, purge by job and CLI) and the streamed CSV export. Rows come from
customer_world (see its docstring for who is who)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import func, select

from customer_world import OTHER_CORP, all_rows, build, rejected
from jobs.queue import enqueue
from models import (App, AuditLog, Corp, CorpSettings, Customer, CustomerEvent, CustomerFieldValue, CustomField,
                    FollowRelation, FollowTag)
from models.followup import FollowUp, Plan
from support import CORP_ID
from web.auth import create_token

ADD = "change_external_contact/add_external_contact"


@pytest.fixture
def world(runtime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return build(runtime)


def names(r) -> list[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["total"] == len(body["items"])
    return [c["name"] for c in body["items"]]


def corp_token(runtime, role: str, corp_id: str, userid: str | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        value = create_token(s, f"corp-{role}", role, userid=userid, corp_id=corp_id)
    return {"Authorization": f"Bearer {value}"}


def set_setting(runtime, **values: Any) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        row = s.scalar(select(CorpSettings).where(CorpSettings.corp_id == CORP_ID))
        if row is None:
            row = CorpSettings(corp_id=CORP_ID)
            s.add(row)
        for key, value in values.items():
            setattr(row, key, value)


def add_field(runtime, key: str, type_: str, value: Any, customer_id: int, **kw: Any) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        f = CustomField(corp_id=CORP_ID, key=key, label=kw.pop("label", key), type=type_, **kw)
        s.add(f)
        s.flush()
        s.add(CustomerFieldValue(customer_id=customer_id, field_id=f.id, value=value, text=str(value)))


# -- list: roles, scope, filters -------------------------------------------------------------------------
ALL = ["外企客户", "孙七", "赵六", "王小明"]  # newest first; 周八 is in the recycle bin


@pytest.mark.parametrize("role,userid,query,expected", ids=lambda v: str(v), argvalues=[
    ("admin", None, {}, ALL),
    ("super_admin", None, {}, ALL),
    ("member", "zhangsan", {}, ["孙七", "王小明"]),  # a relation they follow, of any status
    ("member", "lisi", {}, ["孙七", "赵六"]),
    ("member", "lisi", {"staff": "zhangsan"}, ["孙七"]),  # a filter narrows; it never widens
    ("admin", None, {"staff": "zhangsan"}, ["孙七", "王小明"]),
    ("admin", None, {"staff": "zhangsan", "status": "active"}, ["王小明"]),  # the same relation
    ("admin", None, {"status": "deleted_by_customer"}, ["孙七"]),
    ("admin", None, {"status": "deleted_by_staff"}, []),
    ("admin", None, {"owner": "lisi"}, ["孙七", "赵六"]),
    ("admin", None, {"owner": "nobody"}, []),
    ("admin", None, {"keyword": "老客户"}, ["王小明"]),
    ("admin", None, {"keyword": "孙"}, ["孙七"]),
    ("admin", None, {"keyword": "%"}, []),
    ("admin", None, {"channel": "线下门店"}, ["王小明"]),  # the customer's 渠道来源
    ("admin", None, {"channel": "公众号"}, ["赵六"]),  # the channel of the code a relation came through
    ("admin", None, {"channel": "不存在"}, []),
    # Beijing days: 赵六 was added at 00:10 on 1 April in Beijing, which is still 31 March in UTC
    ("admin", None, {"added_from": "2026-03-01", "added_to": "2026-03-31"}, ["外企客户", "孙七", "王小明"]),
    ("admin", None, {"added_from": "2026-04-01"}, ["赵六"]),
    ("admin", None, {"added_to": "2026-02-28"}, ["孙七"]),
    ("admin", None, {"added_from": "2026-03-01", "added_to": "2026-03-01"}, ["外企客户", "王小明"]),
    # staff and the added range are on one relation: lisi's add of 孙七 was in February
    ("admin", None, {"staff": "lisi", "added_from": "2026-03-01", "added_to": "2026-03-31"}, []),
    ("admin", None, {"staff": "lisi", "added_from": "2026-02-01", "added_to": "2026-02-01"}, ["孙七"]),
    ("admin", None, {"keyword": "王", "staff": "lisi"}, []),
])
def test_list_by_role_and_filter(client, make_token, world, role, userid, query, expected) -> None:
    r = client.get("/api/v1/customers", query_string=query, headers=make_token(role, userid=userid))
    assert names(r) == expected


@pytest.mark.parametrize("tags,expected", [(["vip"], ["赵六", "王小明"]), (["vip", "fair"], ["王小明"]),
                                           (["fair"], ["王小明"])])
def test_list_by_tags_needs_every_tag(client, make_token, world, tags, expected) -> None:
    query = [("tag", world[t]) for t in tags]
    assert names(client.get("/api/v1/customers", query_string=query, headers=make_token("admin"))) == expected


def test_list_by_channel_code_id(client, make_token, world) -> None:
    for code, expected in (("store", ["王小明"]), ("mp", ["赵六"])):
        r = client.get("/api/v1/customers", query_string={"channel": world[code]}, headers=make_token("admin"))
        assert names(r) == expected


def test_the_added_range_follows_the_corps_time_zone(client, runtime, make_token, world) -> None:
    with runtime.WriteSession.begin() as s:
        s.scalar(select(Corp).where(Corp.corp_id == CORP_ID)).timezone = "UTC"
    r = client.get("/api/v1/customers", query_string={"added_from": "2026-03-31", "added_to": "2026-03-31"},
                   headers=make_token("admin"))
    assert names(r) == ["赵六"]  # 16:10 UTC on 31 March
    r = client.get("/api/v1/customers", query_string={"added_from": "2026-03-01", "added_to": "2026-03-01"},
                   headers=make_token("admin"))
    assert names(r) == ["外企客户", "王小明"]  # the other corp stays on Beijing days


def test_a_corp_limited_token_sees_only_its_corp(client, runtime, world) -> None:
    assert names(client.get("/api/v1/customers", headers=corp_token(runtime, "admin", OTHER_CORP))) == ["外企客户"]
    headers = corp_token(runtime, "admin", CORP_ID)
    assert names(client.get("/api/v1/customers", headers=headers)) == ["孙七", "赵六", "王小明"]
    r = client.get(f"/api/v1/customers/{world['外企客户']}", headers=headers)
    assert r.status_code == 404


def test_list_pages(client, make_token, world) -> None:
    r = client.get("/api/v1/customers", query_string={"page_size": 3, "page": 2}, headers=make_token("admin"))
    body = r.get_json()
    assert ([c["name"] for c in body["items"]], body["total"], body["page"]) == (["王小明"], 4, 2)


@pytest.mark.parametrize("query,named", [
    ({"added_from": "2026-13-01"}, "added_from"),
    ({"added_from": "2026/03/01"}, "added_from"),
    ({"added_to": "yesterday"}, "added_to"),
    ({"added_to": "2026-03-01T00:00:00"}, "added_to"),
    ({"added_from": "2026-04-01", "added_to": "2026-03-01"}, "added_from"),
    ({"status": "lost"}, "status"),
    ({"tag": "abc"}, "tag"),
    ({"tag": "999999"}, "tag"),
    ({"tag": "gone"}, "tag"),  # a tag deleted from the library
    ({"page_size": "500"}, "page_size"),
])
def test_bad_filters_get_400_naming_the_parameter(client, runtime, make_token, world, query, named) -> None:
    query = {k: world.get(v, v) if k == "tag" else v for k, v in query.items()}
    exports = [] if "page_size" in query else [("/api/v1/customers/export.csv", {"corp_id": CORP_ID})]
    for path, extra in [("/api/v1/customers", {}), *exports]:
        query |= extra
        headers = make_token("super_admin")
        error = rejected(runtime, lambda p=path, q=query, h=headers: client.get(p, query_string=q, headers=h),
                         400, "bad_request")
        assert named in error["message"]


# -- detail --------------------------------------------------------------------------------------------
def test_detail_has_relations_tags_fields_and_timeline(client, runtime, make_token, world) -> None:
    add_field(runtime, "budget", "number", 300, world["王小明"], label="预算")
    r = client.get(f"/api/v1/customers/{world['王小明']}", headers=make_token("admin"))
    assert r.status_code == 200
    body = r.get_json()
    assert (body["name"], body["owner_userid"], body["owner_name"], body["mobile"], body["channel"]) == (
        "王小明", "zhangsan", "张三", "13800001111", "线下门店")
    [f] = body["follows"]
    assert {k: f[k] for k in ("userid", "staff_name", "remark", "description", "remark_mobiles", "add_way", "state",
                              "status")} == {
        "userid": "zhangsan", "staff_name": "张三", "remark": "老客户", "description": "想买房",
        "remark_mobiles": ["13912345678"], "add_way": 1, "state": "store-1", "status": "active"}
    assert f["channel_code"] == {"id": world["store"], "name": "门店码", "channel": "线下门店"}
    assert dt.datetime.fromisoformat(f["added_at"]) == dt.datetime(2026, 3, 1, 2, tzinfo=dt.UTC)
    assert f["status_changed_at"]
    assert [(t["name"], t["tagged_by"]) for t in f["tags"]] == [("VIP", "zhangsan"), ("展会", "wecom")]
    assert [t["name"] for t in body["tags"]] == ["VIP", "展会"]
    assert body["fields"] == {"budget": 300}
    assert [e["kind"] for e in body["timeline"]] == ["tagged", "added"]  # newest first


def test_detail_shows_every_relation_with_its_status(client, make_token, world) -> None:
    body = client.get(f"/api/v1/customers/{world['孙七']}", headers=make_token("member", userid="zhangsan")).get_json()
    assert [(f["userid"], f["status"]) for f in body["follows"]] == [("lisi", "active"),
                                                                   ("zhangsan", "deleted_by_customer")]


@pytest.mark.parametrize("who", ["member-lisi", "binned", "other-corp", "missing"])
def test_detail_is_404_outside_the_callers_view(client, runtime, make_token, world, who) -> None:
    headers = make_token("member", userid="lisi") if who == "member-lisi" else make_token("admin")
    target = {"member-lisi": world["王小明"], "binned": world["周八"], "missing": 999999,
              "other-corp": world["外企客户"]}[who]
    if who == "other-corp":
        headers = corp_token(runtime, "admin", CORP_ID)
    rejected(runtime, lambda: client.get(f"/api/v1/customers/{target}", headers=headers), 404, "not_found")


# -- masking ---------------------------------------------------------------------------------------------
def test_members_see_masked_mobiles_while_the_setting_is_on(client, runtime, make_token, world) -> None:
    add_field(runtime, "alt_phone", "phone", "13700002222", world["王小明"])
    path = f"/api/v1/customers/{world['王小明']}"
    member, admin = make_token("member", userid="zhangsan"), make_token("admin")

    def seen(headers: dict[str, str]) -> tuple[Any, ...]:
        detail = client.get(path, headers=headers).get_json()
        [listed] = [c for c in client.get("/api/v1/customers", headers=headers).get_json()["items"]
                    if c["name"] == "王小明"]
        assert listed["mobile"] == detail["mobile"]
        return detail["mobile"], detail["follows"][0]["remark_mobiles"], detail["fields"]["alt_phone"]

    assert seen(member) == ("138****1111", ["139****5678"], "137****2222")  # the default: on
    assert seen(admin) == ("13800001111", ["13912345678"], "13700002222")
    set_setting(runtime, mask_mobile_for_members=False)
    assert seen(member) == ("13800001111", ["13912345678"], "13700002222")
    set_setting(runtime, mask_mobile_for_members=True)
    assert seen(member) == ("138****1111", ["139****5678"], "137****2222")


def test_a_customer_added_through_a_callback_is_listed_with_its_profile(client, sender, make_token) -> None:
    assert sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan").status_code == 200
    [c] = client.get("/api/v1/customers", headers=make_token("member", userid="zhangsan")).get_json()["items"]
    assert (c["name"], c["follows"][0]["staff_name"], c["follows"][0]["remark_mobiles"]) == (
        "王小明😀", "张三", ["138****0000"])


# -- recycle bin -----------------------------------------------------------------------------------------
def audit_actions(runtime) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.execute(select(AuditLog.action, AuditLog.target).order_by(AuditLog.id)).all()


def without_timeline(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "timeline"}


def test_delete_bins_the_customer_and_restore_brings_all_of_it_back(client, runtime, make_token, world) -> None:
    add_field(runtime, "level", "select", "A", world["王小明"], options=["A", "B"])
    cid, admin, boss = world["王小明"], make_token("admin"), make_token("super_admin")
    before = client.get(f"/api/v1/customers/{cid}", headers=admin).get_json()

    r = client.delete(f"/api/v1/customers/{cid}", headers=boss)
    assert r.status_code == 200 and r.get_json()["deleted_by"].startswith("token:")
    assert names(client.get("/api/v1/customers", headers=admin)) == ["外企客户", "孙七", "赵六"]
    assert names(client.get("/api/v1/customers", headers=make_token("member", userid="zhangsan"))) == ["孙七"]
    assert client.get(f"/api/v1/customers/{cid}", headers=admin).status_code == 404
    assert client.put(f"/api/v1/customers/{cid}/fields", json={"level": "B"}, headers=admin).status_code == 404
    binned = client.get("/api/v1/recycle-bin", headers=admin).get_json()["items"]
    assert [c["name"] for c in binned] == ["王小明", "周八"]  # latest deletion first
    deleted_at = dt.datetime.fromisoformat(binned[0]["deleted_at"])
    assert dt.datetime.fromisoformat(binned[0]["purge_after"]) - deleted_at == dt.timedelta(days=30)
    assert binned[0]["fields"] == {"level": "A"} and binned[0]["follows"][0]["tags"]

    r = client.post(f"/api/v1/recycle-bin/{cid}/restore", headers=admin)
    assert r.status_code == 200
    after = client.get(f"/api/v1/customers/{cid}", headers=admin).get_json()
    assert without_timeline(after) == without_timeline(before)
    assert [e["kind"] for e in after["timeline"]][:2] == ["restored", "deleted"]
    assert [c["name"] for c in client.get("/api/v1/recycle-bin", headers=admin).get_json()["items"]] == ["周八"]
    assert audit_actions(runtime)[-2:] == [("customer.delete", f"customer:{cid}"),
                                           ("customer.restore", f"customer:{cid}")]


def test_recycle_bin_filters(client, make_token, world) -> None:
    admin = make_token("admin")
    client.delete(f"/api/v1/customers/{world['赵六']}", headers=make_token("super_admin"))
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    for query, expected in (({"keyword": "周"}, ["周八"]), ({"deleted_from": today}, ["赵六"]),
                            ({"deleted_to": "2026-05-01"}, ["周八"])):
        assert names(client.get("/api/v1/recycle-bin", query_string=query, headers=admin)) == expected


@pytest.mark.parametrize("method,path,role,userid", [
    ("DELETE", "/api/v1/customers/{王小明}", "admin", None),
    ("DELETE", "/api/v1/customers/{王小明}", "member", "zhangsan"),
    ("GET", "/api/v1/recycle-bin", "member", "zhangsan"),
    ("POST", "/api/v1/recycle-bin/{周八}/restore", "member", "zhangsan"),
    ("GET", "/api/v1/customers/export.csv", "admin", None),
])
def test_roles_below_the_endpoint_get_403(client, runtime, make_token, world, method, path, role, userid) -> None:
    headers = make_token(role, userid=userid)
    rejected(runtime, lambda: client.open(path.format(**world), method=method, headers=headers), 403, "forbidden")


@pytest.mark.parametrize("method,path", [
    ("DELETE", "/api/v1/customers/{周八}"),  # already binned
    ("DELETE", "/api/v1/customers/999999"),
    ("POST", "/api/v1/recycle-bin/{王小明}/restore"),  # not binned
    ("POST", "/api/v1/recycle-bin/999999/restore"),
])
def test_delete_and_restore_of_the_wrong_customer_get_404(client, runtime, make_token, world, method, path) -> None:
    headers = make_token("super_admin")
    rejected(runtime, lambda: client.open(path.format(**world), method=method, headers=headers), 404, "not_found")


def rows_of(runtime, customer_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        follows = select(FollowRelation.id).where(FollowRelation.customer_id == customer_id)
        return {
            "customers": s.scalar(select(func.count()).where(Customer.id == customer_id)),
            "follows": s.scalar(select(func.count()).select_from(follows.subquery())),
            "follow_tags": s.scalar(select(func.count()).where(FollowTag.follow_id.in_(follows))),
            "values": s.scalar(select(func.count()).where(CustomerFieldValue.customer_id == customer_id)),
            "timeline": s.scalar(select(func.count()).where(CustomerEvent.customer_id == customer_id)),
        }


def bin_days_ago(runtime, customer_id: int, days: int) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        c = s.get(Customer, customer_id)
        c.deleted_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
        c.deleted_by = "token:t"


def test_purge_removes_expired_customers_with_every_dependent_row(app, client, runtime, make_token, world) -> None:
    add_field(runtime, "level", "text", "A", world["王小明"])
    bin_days_ago(runtime, world["王小明"], 31)
    bin_days_ago(runtime, world["周八"], 10)
    assert rows_of(runtime, world["王小明"]) == {"customers": 1, "follows": 1, "follow_tags": 2, "values": 1,
                                               "timeline": 2}
    kept = {name: rows_of(runtime, world[name]) for name in ("周八", "赵六", "孙七")}
    with runtime.WriteSession.begin() as s:  # rows other features hang on a customer
        app_pk = s.scalar(select(App.id))
        s.add(FollowUp(corp_id=CORP_ID, customer_id=world["王小明"], userid="zhangsan", text="回访"))
        s.add(Plan(corp_id=CORP_ID, app_pk=app_pk, userid="zhangsan", customer_id=world["王小明"], text="打电话",
                   due_at=dt.datetime.now(dt.UTC)))

    result = app.test_cli_runner().invoke(args=["customers", "purge"])
    assert result.exit_code == 0, result.output
    assert "purged 1 customer" in result.output
    assert set(rows_of(runtime, world["王小明"]).values()) == {0}
    assert {name: rows_of(runtime, world[name]) for name in kept} == kept
    with runtime.Session() as s:  # a note about the customer goes with it; a plan only forgets it
        assert s.scalar(select(func.count()).select_from(FollowUp)) == 0
        assert s.execute(select(Plan.text, Plan.customer_id)).all() == [("打电话", None)]
    assert audit_actions(runtime)[-1] == ("customer.purge", "customers:1")

    before = all_rows(runtime)
    assert app.test_cli_runner().invoke(args=["customers", "purge"]).output.startswith("purged 0")
    assert all_rows(runtime) == before  # nothing left to purge: nothing happens, not even an audit row

    set_setting(runtime, recycle_retention_days=7)  # the corp keeps binned customers a week only
    enqueue("purge_recycle_bin")  # the cron job (inline here: no Redis)
    assert set(rows_of(runtime, world["周八"]).values()) == {0}
    assert names(client.get("/api/v1/recycle-bin", headers=make_token("admin"))) == []


# -- CSV export ----------------------------------------------------------------------------------------------
def export(client, headers, **query: Any):  # type: ignore[no-untyped-def]
    query = {"corp_id": CORP_ID} | query
    r = client.get("/api/v1/customers/export.csv", query_string=query, headers=headers, buffered=False)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.is_streamed and r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    raw = b"".join(r.response)
    r.close()
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_export_streams_one_row_per_customer_with_fields_as_columns(client, runtime, make_token, world) -> None:
    add_field(runtime, "level", "multi_select", ["A", "B"], world["王小明"], label="等级", options=["A", "B"], order=2)
    add_field(runtime, "budget", "number", 300, world["赵六"], label="预算", order=1)
    rows = export(client, make_token("super_admin"))
    header, body = rows[0], {r[1]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert header[-2:] == ["预算", "等级"]
    assert list(body) == ["孙七", "赵六", "王小明"]  # this corp's, binned ones left out
    wang = body["王小明"]
    assert (wang["电话"], wang["跟进人"], wang["添加人"], wang["添加时间"], wang["渠道来源"], wang["客户标签"],
            wang["备注"], wang["等级"], wang["预算"], wang["客户类型"]) == (
        "13800001111", "张三", "张三", "2026-03-01 10:00:00", "线下门店", "VIP、展会", "老客户", "A、B", "", "微信")
    assert body["赵六"]["添加时间"] == "2026-04-01 00:10:00" and body["赵六"]["预算"] == "300"
    assert (body["孙七"]["添加人"], body["孙七"]["添加人数量"]) == ("李四", "1")  # zhangsan was deleted
    with runtime.Session() as s:
        assert s.scalar(select(AuditLog.action).order_by(AuditLog.id.desc())) == "customer.export"


def test_export_is_one_corps_and_says_so_when_several_exist(client, runtime, make_token, world) -> None:
    headers = make_token("super_admin")
    error = rejected(runtime, lambda: client.get("/api/v1/customers/export.csv", headers=headers), 400, "bad_request")
    assert "corp_id" in error["message"]


def test_export_takes_the_lists_filters(client, make_token, world) -> None:
    rows = export(client, make_token("super_admin"), tag=world["vip"], added_from="2026-04-01")
    assert [r[1] for r in rows[1:]] == ["赵六"]


def test_export_defuses_spreadsheet_formulas(client, runtime, make_token, world) -> None:
    with runtime.WriteSession.begin() as s:
        s.get(Customer, world["赵六"]).name = "=HYPERLINK(\"http://x\")"
    rows = export(client, make_token("super_admin"), owner="lisi")
    assert "'=HYPERLINK(\"http://x\")" in [r[1] for r in rows[1:]]
