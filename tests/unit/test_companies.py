"""Companies (企业, 004 §4.9; 公司, 000 part 5) and industries (行业类型, 9.9.1) over the admin API: fields and
their checks, the manual's filters, related customers and contacts, copy (nothing saved until POSTed), the
super_admin-only soft delete, a member's scope by id and by filter, the 17 preset industries.
Rows come from customer_world: zhangsan follows 王小明, lisi alone follows 赵六."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from customer_world import all_rows, rejected
from models import AuditLog, Company, Contact, Customer, Industry
from models.orgs import PRESET_INDUSTRIES
from org_support import made, names, org_world
from support import CORP_ID

MANUAL_PRESETS = ["金融", "医疗", "教育", "交通运输", "企业服务", "软件工具", "智能硬件", "消费零售", "体育", "旅游", "社交",
                  "农业", "电子商务", "生活服务", "物流仓储", "房地产", "文娱传媒"]  # 9.9.1, word for word


@pytest.fixture
def world(runtime, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return org_world(runtime, make_token)


def industry_ids(client, headers: dict[str, str]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/industries", headers=headers, query_string={"corp_id": CORP_ID})
    assert r.status_code == 200, r.get_json()
    return {i["name"]: i["id"] for i in r.get_json()["items"]}


def create(client, headers: dict[str, str], **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return made(client, headers, "/api/v1/companies", **body)


def listed(client, headers: dict[str, str], **query: Any) -> list[str]:  # type: ignore[no-untyped-def]
    return names(client, headers, "/api/v1/companies", **query)


def test_a_company_keeps_every_field_of_the_manual_and_is_audited(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    finance = industry_ids(client, world["admin"])["金融"]
    body = create(client, world["admin"], name=" 广州鼎资软件科技有限公司 ", short_name="鼎资", phone="020-12345678",
                  website="https://example.com", province="广东", city="广州", address="天河路 1 号",
                  industry_id=finance, size="100-499", level="A", source="展会", type="代理商", deal=True, owner="lisi")
    assert {k: body[k] for k in ("name", "short_name", "phone", "industry_id", "industry", "size", "level", "source",
                                 "type", "deal", "owner", "customer_count", "customers", "contacts", "follow_ups")} == {
        "name": "广州鼎资软件科技有限公司", "short_name": "鼎资", "phone": "020-12345678", "industry_id": finance,
        "industry": "金融", "size": "100-499", "level": "A", "source": "展会", "type": "代理商", "deal": True,
        "owner": "lisi", "customer_count": 0, "customers": [], "contacts": [], "follow_ups": []}
    with runtime.Session() as s:
        row = s.get(Company, body["id"])
        assert (row.corp_id, row.city, row.website, row.created_by) == (CORP_ID, "广州", "https://example.com",
                                                                      "token:adm")
        assert s.scalars(select(AuditLog.target).where(AuditLog.action == "company.create")).all() == [
            f"company:{row.id}"]
    r = client.patch(f"/api/v1/companies/{body['id']}", headers=world["admin"],
                     json={"short_name": "鼎", "industry_id": None, "deal": False})
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["short_name"], r.get_json()["industry"], r.get_json()["deal"], r.get_json()["level"]) == (
        "鼎", "", False, "A")  # left out: stays; null: cleared


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 129}, "name"),
    ({"name": "甲", "phone": "020-1234abc"}, "phone"),
    ({"name": "甲", "phone": "+86 20 1234"}, "phone"),
    ({"name": "甲", "size": "huge"}, "size"),
    ({"name": "甲", "deal": "yes"}, "deal"),
    ({"name": "甲", "industry_id": 999999}, "industry_id"),
])
def test_bad_fields_are_a_422_naming_the_field_and_nothing_is_saved(client, runtime, world, body, field) -> None:  # type: ignore[no-untyped-def]
    send = lambda: client.post("/api/v1/companies", headers=world["admin"], json={"corp_id": CORP_ID, **body})  # noqa: E731
    error = rejected(runtime, send, 422, "invalid")
    assert list(error["fields"]) == [field]


def test_a_name_cannot_be_cleared_nor_a_phone_get_letters_by_an_edit(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    company = create(client, world["admin"], name="甲")["id"]
    for body, field in (({"name": None}, "name"), ({"phone": "12a"}, "phone")):
        error = rejected(runtime, lambda body=body: client.patch(f"/api/v1/companies/{company}",
                                                                 headers=world["admin"], json=body), 422, "invalid")
        assert list(error["fields"]) == [field]


def test_the_filters_of_the_manual_and_pages(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    ids = industry_ids(client, world["admin"])
    create(client, world["admin"], name="北京甲公司", address="海淀区", industry_id=ids["教育"], level="A",
           owner="zhangsan", deal=True)
    create(client, world["admin"], name="上海乙公司", short_name="乙", address="浦东", industry_id=ids["金融"],
           level="B", owner="lisi")
    create(client, world["admin"], name="丙 100%", address="海淀区", level="A")
    admin = world["admin"]
    assert listed(client, admin) == ["丙 100%", "上海乙公司", "北京甲公司"]
    assert listed(client, admin, keyword="海淀") == ["丙 100%", "北京甲公司"]  # the address
    assert listed(client, admin, keyword="乙") == ["上海乙公司"]
    assert listed(client, admin, keyword="0%") == ["丙 100%"]  # % taken literally
    assert listed(client, admin, keyword="%") == ["丙 100%"]
    assert listed(client, admin, industry_id=ids["金融"]) == ["上海乙公司"]
    assert listed(client, admin, level="A") == ["丙 100%", "北京甲公司"]
    assert listed(client, admin, owner="zhangsan") == ["北京甲公司"]
    assert listed(client, admin, deal="true") == ["北京甲公司"]
    assert listed(client, admin, deal="false") == ["丙 100%", "上海乙公司"]
    assert listed(client, admin, created_from="2000-01-01", created_to="2999-12-30") == listed(client, admin)
    assert listed(client, admin, created_to="2001-01-01") == []
    page = client.get("/api/v1/companies", headers=admin, query_string={"page": 2, "page_size": 2}).get_json()
    assert ([c["name"] for c in page["items"]], page["total"]) == (["北京甲公司"], 3)
    assert client.get("/api/v1/companies?deal=maybe", headers=admin).status_code == 400


def test_copy_hands_back_a_draft_and_saves_nothing_until_it_is_posted(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    ids = industry_ids(client, world["admin"])
    source = create(client, world["admin"], name="鼎资", phone="020-1", industry_id=ids["医疗"], size="1-19",
                    owner="zhangsan")
    before = all_rows(runtime)
    r = client.post(f"/api/v1/companies/{source['id']}/copy", headers=world["zhangsan"])
    assert r.status_code == 200, r.get_json()
    draft = r.get_json()
    assert "id" not in draft and "created_at" not in draft
    assert (draft["name"], draft["phone"], draft["industry_id"], draft["size"], draft["owner"]) == (
        "鼎资", "020-1", ids["医疗"], "1-19", "zhangsan")
    assert all_rows(runtime) == before  # nothing saved, nothing audited
    saved = client.post("/api/v1/companies", headers=world["zhangsan"], json={**draft, "name": "鼎资二部"})
    assert saved.status_code == 201, saved.get_json()
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Company)) == 2
        assert s.get(Company, source["id"]).name == "鼎资"  # the source is unchanged


def test_only_a_super_admin_deletes_and_a_deleted_company_is_gone_everywhere(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    company = create(client, world["admin"], name="将删除", owner="zhangsan")["id"]
    assert client.post(f"/api/v1/companies/{company}/customers", headers=world["admin"],
                       json={"customer_ids": [world["王小明"]]}).status_code == 200
    person = client.post("/api/v1/contacts", headers=world["admin"],
                         json={"corp_id": CORP_ID, "name": "王经理", "company_id": company}).get_json()["id"]
    for who in ("zhangsan", "admin"):
        error = rejected(runtime, lambda who=who: client.delete(f"/api/v1/companies/{company}",
                                                                headers=world[who]), 403, "forbidden")
        assert "super_admin" in error["message"]
    r = client.delete(f"/api/v1/companies/{company}", headers=world["super"])
    assert r.get_json() == {"id": company, "deleted": True}
    with runtime.Session() as s:
        row = s.get(Company, company)
        assert row.deleted_at is not None and row.deleted_by == "token:sup"  # soft: the row stays
        assert s.get(Customer, world["王小明"]).company_id is None
        assert s.get(Contact, person).company_id is None
        assert s.scalar(select(AuditLog.detail).where(AuditLog.action == "company.delete")) == {
            "name": "将删除", "customers_unlinked": 1, "contacts_unlinked": 1}
    for who in ("zhangsan", "super"):
        assert client.get(f"/api/v1/companies/{company}", headers=world[who]).status_code == 404
        assert listed(client, world[who]) == []
    assert client.delete(f"/api/v1/companies/{company}", headers=world["super"]).status_code == 404
    assert client.post(f"/api/v1/companies/{company}/copy", headers=world["super"]).status_code == 404


def test_related_customers_belong_to_one_company(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    first = create(client, world["admin"], name="甲", owner="lisi")["id"]
    second = create(client, world["admin"], name="乙", owner="lisi")["id"]
    both = {"customer_ids": [world["王小明"], world["赵六"]]}
    assert client.post(f"/api/v1/companies/{first}/customers", headers=world["admin"], json=both).status_code == 200
    r = client.post(f"/api/v1/companies/{second}/customers", headers=world["admin"],
                    json={"customer_ids": [world["赵六"]]})
    assert [c["name"] for c in r.get_json()["customers"]] == ["赵六"]  # it left the first
    detail = client.get(f"/api/v1/companies/{first}", headers=world["admin"]).get_json()
    assert ([c["name"] for c in detail["customers"]], detail["customer_count"]) == (["王小明"], 1)
    # zhangsan sees lisi's company through 王小明, and only the customers he follows
    mine = client.get(f"/api/v1/companies/{first}", headers=world["zhangsan"]).get_json()
    assert [c["name"] for c in mine["customers"]] == ["王小明"]
    r = client.delete(f"/api/v1/companies/{first}/customers/{world['王小明']}", headers=world["zhangsan"])
    assert (r.status_code, r.get_json()["customers"]) == (200, [])
    rejected(runtime, lambda: client.delete(f"/api/v1/companies/{second}/customers/{world['王小明']}",
                                            headers=world["admin"]), 404, "not_found")
    assert client.get(f"/api/v1/companies/{first}", headers=world["zhangsan"]).status_code == 404  # no longer his
    error = rejected(runtime, lambda: client.post(f"/api/v1/companies/{second}/customers", headers=world["admin"],
                                                  json={"customer_ids": [world["外企客户"]]}), 422, "invalid")
    assert list(error["fields"]) == ["customer_ids"]


def test_a_member_sees_and_writes_only_their_companies(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    mine = create(client, world["zhangsan"], name="张三的")
    assert mine["owner"] == "zhangsan"  # a member's is their own
    theirs = create(client, world["lisi"], name="李四的")["id"]
    client.post(f"/api/v1/companies/{theirs}/customers", headers=world["lisi"], json={"customer_ids": [world["赵六"]]})
    zs = world["zhangsan"]
    # by id: read, edit, copy, link
    for send in (lambda: client.get(f"/api/v1/companies/{theirs}", headers=zs),
                 lambda: client.patch(f"/api/v1/companies/{theirs}", headers=zs, json={"name": "x"}),
                 lambda: client.post(f"/api/v1/companies/{theirs}/copy", headers=zs),
                 lambda: client.post(f"/api/v1/companies/{theirs}/customers", headers=zs,
                                     json={"customer_ids": [world["王小明"]]})):
        rejected(runtime, send, 404, "not_found")
    # by filter
    assert listed(client, zs) == ["张三的"]
    assert listed(client, zs, owner="lisi") == []
    assert listed(client, zs, keyword="李四") == []
    # his customer is not for lisi to link, nor may he give his company away or name another owner
    rejected(runtime, lambda: client.post(f"/api/v1/companies/{theirs}/customers", headers=world["lisi"],
                                          json={"customer_ids": [world["王小明"]]}), 404, "not_found")
    rejected(runtime, lambda: client.patch(f"/api/v1/companies/{mine['id']}", headers=zs, json={"owner": "lisi"}),
             403, "forbidden")
    rejected(runtime, lambda: client.post("/api/v1/companies", headers=zs, json={"name": "x", "owner": "lisi"}),
             403, "forbidden")
    assert sorted(listed(client, world["admin"])) == sorted(["张三的", "李四的"])


# -- industries (9.9.1) -------------------------------------------------------------------------------------
def test_the_17_preset_industries_of_the_manual_come_first(client, world) -> None:  # type: ignore[no-untyped-def]
    assert list(PRESET_INDUSTRIES) == MANUAL_PRESETS
    r = client.get("/api/v1/industries", headers=world["zhangsan"])
    assert [(i["name"], i["preset"]) for i in r.get_json()["items"]] == [(n, True) for n in MANUAL_PRESETS]
    assert industry_ids(client, world["admin"]) == {i["name"]: i["id"] for i in r.get_json()["items"]}  # made once


def test_a_preset_industry_is_neither_renamed_nor_deleted(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    finance = industry_ids(client, world["admin"])["金融"]
    error = rejected(runtime, lambda: client.patch(f"/api/v1/industries/{finance}", headers=world["super"],
                                                   json={"name": "银行"}), 409, "conflict")
    assert error["message"] == "金融 is one of the 17 preset industries: it cannot be changed"
    rejected(runtime, lambda: client.delete(f"/api/v1/industries/{finance}", headers=world["super"]), 405,
             "method_not_allowed")


def test_a_corps_own_industry_is_added_and_renamed_but_never_deleted(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    rejected(runtime, lambda: client.post("/api/v1/industries", headers=world["zhangsan"],
                                          json={"corp_id": CORP_ID, "name": "化工"}), 403, "forbidden")
    r = client.post("/api/v1/industries", headers=world["admin"], json={"corp_id": CORP_ID, "name": "化工"})
    assert (r.status_code, r.get_json()["preset"], r.get_json()["position"]) == (201, False, 17)
    own = r.get_json()["id"]
    rejected(runtime, lambda: client.post("/api/v1/industries", headers=world["admin"],
                                          json={"corp_id": CORP_ID, "name": "金融"}), 409, "conflict")
    rejected(runtime, lambda: client.patch(f"/api/v1/industries/{own}", headers=world["admin"],
                                           json={"name": "教育"}), 409, "conflict")
    r = client.patch(f"/api/v1/industries/{own}", headers=world["admin"], json={"name": "精细化工"})
    assert r.get_json()["name"] == "精细化工"
    rejected(runtime, lambda: client.delete(f"/api/v1/industries/{own}", headers=world["admin"]), 405,
             "method_not_allowed")  # 9.9.1: once added, an industry is only ever renamed
    assert list(industry_ids(client, world["admin"]))[-1] == "精细化工"
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Industry)) == 18
        assert s.scalars(select(AuditLog.action).where(AuditLog.action.like("industry.%"))
                         .order_by(AuditLog.id)).all() == ["industry.create", "industry.update"]
