"""Contacts (联系人, 000 part 6) over the admin API: fields and their checks, the link to a company and to one
WeCom customer, copy (nothing saved until POSTed), the super_admin-only soft delete, a member's scope by id
and by filter. Rows come from customer_world: zhangsan follows 王小明, lisi alone follows 赵六."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select

from customer_world import all_rows, rejected
from models import AuditLog, Contact, FollowUp
from models.recycle import purge
from org_support import made as made_at
from org_support import names as listed_at
from org_support import org_world
from support import CORP_ID


@pytest.fixture
def world(runtime, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return org_world(runtime, make_token)


def post(client, headers: dict[str, str], **body: Any):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/contacts", headers=headers, json={"corp_id": CORP_ID, **body})


def made(client, headers: dict[str, str], path: str = "/api/v1/contacts", **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return made_at(client, headers, path, **body)


def names(client, headers: dict[str, str], **query: Any) -> list[str]:  # type: ignore[no-untyped-def]
    return listed_at(client, headers, "/api/v1/contacts", **query)


def test_a_contact_at_a_company_who_is_a_wecom_customer(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    company = made(client, world["zhangsan"], "/api/v1/companies", name="鼎资")
    body = made(client, world["zhangsan"], name=" 王经理 ", mobile="138-0000-1111", position="采购经理",
                company_id=company["id"], customer_id=world["王小明"])
    assert {k: body[k] for k in ("name", "mobile", "position", "company_id", "company", "customer_id", "owner",
                                 "follow_ups")} == {
        "name": "王经理", "mobile": "138-0000-1111", "position": "采购经理", "company_id": company["id"],
        "company": "鼎资", "customer_id": world["王小明"], "owner": "zhangsan", "follow_ups": []}
    listed = client.get(f"/api/v1/companies/{company['id']}", headers=world["zhangsan"]).get_json()["contacts"]
    assert listed == [{"id": body["id"], "name": "王经理", "mobile": "138-0000-1111", "position": "采购经理"}]
    assert names(client, world["zhangsan"], customer_id=world["王小明"]) == ["王经理"]
    assert names(client, world["zhangsan"], keyword="采购") == ["王经理"]
    # one contact per customer
    error = rejected(runtime, lambda: post(client, world["zhangsan"], name="又一个", customer_id=world["王小明"]), 409,
                     "conflict")
    assert f"already contact {body['id']}" in error["message"]
    with runtime.Session() as s:
        assert s.scalars(select(AuditLog.target).where(AuditLog.action == "contact.create")).all() == [
            f"contact:{body['id']}"]


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": "  "}, "name"),
    ({"name": "王", "mobile": "138abc"}, "mobile"),
    ({"name": "王", "company_id": "1"}, "company_id"),
])
def test_bad_fields_are_a_422_naming_the_field_and_nothing_is_saved(client, runtime, world, body, field) -> None:  # type: ignore[no-untyped-def]
    error = rejected(runtime, lambda: post(client, world["admin"], **body), 422, "invalid")
    assert list(error["fields"]) == [field]


def test_copy_hands_back_a_draft_without_the_customer_and_saves_nothing_until_posted(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    source = made(client, world["zhangsan"], name="王经理", mobile="13800001111", position="经理",
                  customer_id=world["王小明"])
    before = all_rows(runtime)
    r = client.post(f"/api/v1/contacts/{source['id']}/copy", headers=world["zhangsan"])
    assert r.status_code == 200, r.get_json()
    draft = r.get_json()
    assert "id" not in draft
    assert (draft["name"], draft["mobile"], draft["position"], draft["customer_id"], draft["owner"]) == (
        "王经理", "13800001111", "经理", None, "zhangsan")
    assert all_rows(runtime) == before
    assert client.post("/api/v1/contacts", headers=world["zhangsan"], json=draft).status_code == 201
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 2


def test_only_a_super_admin_deletes_and_the_customer_is_free_again(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    person = made(client, world["zhangsan"], name="王经理", customer_id=world["王小明"])["id"]
    for who in ("zhangsan", "admin"):
        rejected(runtime, lambda who=who: client.delete(f"/api/v1/contacts/{person}", headers=world[who]), 403,
                 "forbidden")
    assert client.delete(f"/api/v1/contacts/{person}", headers=world["super"]).get_json() == {
        "id": person, "deleted": True}
    with runtime.Session() as s:
        row = s.get(Contact, person)
        assert (row.deleted_by, row.customer_id) == ("token:sup", None)
        assert s.scalar(select(AuditLog.detail).where(AuditLog.action == "contact.delete")) == {
            "name": "王经理", "customer_id": world["王小明"]}
    assert client.get(f"/api/v1/contacts/{person}", headers=world["super"]).status_code == 404
    assert names(client, world["super"]) == []
    assert made(client, world["zhangsan"], name="新王经理", customer_id=world["王小明"])["customer_id"] == world["王小明"]


def test_a_member_sees_their_own_their_companies_and_their_customers_contacts(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    admin, zs = world["admin"], world["zhangsan"]
    lisis_company = made(client, world["lisi"], "/api/v1/companies", name="李四的企业")["id"]
    made(client, zs, name="张三自己的")
    made(client, admin, name="王小明本人", customer_id=world["王小明"], owner="lisi")
    hidden = made(client, admin, name="赵六本人", customer_id=world["赵六"], owner="lisi")["id"]
    at_lisis = made(client, admin, name="李四企业的人", company_id=lisis_company, owner="lisi")["id"]
    assert names(client, zs) == ["王小明本人", "张三自己的"]
    for person in (hidden, at_lisis):
        for method, path, body in (("GET", "", None), ("PATCH", "", {"name": "x"}), ("POST", "/copy", None)):
            rejected(runtime, partial(client.open, f"/api/v1/contacts/{person}{path}", method=method, headers=zs,
                                      json=body), 404, "not_found")
    assert names(client, zs, owner="lisi") == ["王小明本人"]
    assert names(client, zs, keyword="赵六") == []
    rejected(runtime, lambda: client.get(f"/api/v1/contacts?company_id={lisis_company}", headers=zs), 404,
             "not_found")
    rejected(runtime, lambda: client.get(f"/api/v1/contacts?customer_id={world['赵六']}", headers=zs), 404,
             "not_found")
    # nor may he link them to what is not his
    rejected(runtime, lambda: post(client, zs, name="x", company_id=lisis_company), 404, "not_found")
    rejected(runtime, lambda: post(client, zs, name="x", customer_id=world["赵六"]), 404, "not_found")
    # once lisi's company has his customer, its contacts are his to see
    client.post(f"/api/v1/companies/{lisis_company}/customers", headers=admin, json={"customer_ids": [world["王小明"]]})
    assert client.get(f"/api/v1/contacts/{at_lisis}", headers=zs).status_code == 200


def test_a_purged_customer_takes_its_follow_ups_and_its_contact_forgets_it(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    person = made(client, world["zhangsan"], name="王经理", customer_id=world["王小明"])["id"]
    for subject in ({"customer_id": world["王小明"]}, {"contact_id": person}):
        assert client.post("/api/v1/follow-ups", headers=world["zhangsan"],
                           json={"text": "回访", **subject}).status_code == 201
    with runtime.WriteSession.begin() as s:
        assert purge(s, [world["王小明"]]) == 1
    with runtime.Session() as s:
        assert s.get(Contact, person).customer_id is None
        assert s.execute(select(FollowUp.customer_id, FollowUp.contact_id)).all() == [(None, person)]
