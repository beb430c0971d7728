"""Follow-up records on every subject (004 §4.1.3; 000 §5.3, §6.3): a customer, a lead, a company, a contact
or a customer group, exactly one; the same function for every door; a member's scope on each subject.
Rows come from customer_world: zhangsan follows 王小明, lisi alone follows 赵六."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from customer_world import rejected
from models import AuditLog, Customer, CustomerEvent, CustomerGroup, FollowUp, GroupMember, Lead, MemberType
from models.followup import follow_up_types
from org_support import made, org_world
from support import CORP_ID

CHAT = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"  # zhangsan's group, lisi in it
OTHER_CHAT = "wrOgQhDgAAMYQiS5ol9G7gK9JVBBBB"  # wangwu's group, neither of them in it


@pytest.fixture
def world(runtime, client, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ids = org_world(runtime, make_token)
    with runtime.WriteSession.begin() as s:
        leads = [Lead(corp_id=CORP_ID, name=n, owner_userid=o) for n, o in (("线索甲", "zhangsan"), ("线索乙", "lisi"))]
        s.add_all(leads)
        s.flush()
        ids |= {"lead": leads[0].id, "lisis_lead": leads[1].id}
        joined = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        for chat_id, owner, members in ((CHAT, "zhangsan", ("zhangsan", "lisi")), (OTHER_CHAT, "wangwu", ("wangwu",))):
            group = CustomerGroup(corp_id=CORP_ID, chat_id=chat_id, name=f"{owner}的群", owner_userid=owner,
                                  staff_count=len(members))
            s.add(group)
            s.flush()
            s.add_all(GroupMember(group_id=group.id, corp_id=CORP_ID, member_id=m, member_type=MemberType.staff,
                                  joined_at=joined, open_key=m) for m in members)
    for key, path, name in (("company", "/api/v1/companies", "企业"), ("contact", "/api/v1/contacts", "联系人")):
        ids[key] = made(client, ids["zhangsan"], path, name=f"张三的{name}")["id"]
        ids[f"lisis_{key}"] = made(client, ids["lisi"], path, name=f"李四的{name}")["id"]
    return ids


def post(client, headers: dict[str, str], **body: Any):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/follow-ups", headers=headers, json={"text": "电话沟通", **body})


SUBJECTS = [("customer_id", "王小明"), ("lead_id", "lead"), ("company_id", "company"), ("contact_id", "contact"),
            ("group_chat_id", None)]


@pytest.mark.parametrize("column, key", SUBJECTS)
def test_a_follow_up_on_each_subject_is_stored_listed_by_it_and_audited(client, runtime, world, column, key) -> None:  # type: ignore[no-untyped-def]
    value = CHAT if key is None else world[key]
    r = post(client, world["zhangsan"], at="2026-11-20T08:00:00Z", **{column: value})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    subjects = {c: body[c] for c, _ in SUBJECTS}
    assert subjects == {c: (value if c == column else None) for c, _ in SUBJECTS}
    [listed] = client.get("/api/v1/follow-ups", headers=world["zhangsan"], query_string={column: value}).get_json()[
        "items"]
    assert listed == body
    assert client.get(f"/api/v1/follow-ups/{body['id']}", headers=world["zhangsan"]).get_json() == body
    noun = column.removesuffix("_chat_id").removesuffix("_id")
    with runtime.Session() as s:
        row = s.get(FollowUp, body["id"])
        assert (getattr(row, column), row.corp_id, row.userid, row.via) == (value, CORP_ID, "zhangsan", "api")
        assert s.scalars(select(AuditLog.target).where(AuditLog.action == f"{noun}.follow_up")).all() == [
            f"{noun}:{value}"]
        timeline = s.scalars(select(CustomerEvent.customer_id).where(CustomerEvent.kind == "follow_up")).all()
        assert timeline == ([world["王小明"]] if column == "customer_id" else [])
        at = dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)
        assert s.get(Customer, world["王小明"]).last_followed_at == (at if column == "customer_id" else None)
        assert s.get(Lead, world["lead"]).last_followed_at == (at if column == "lead_id" else None)


def test_a_company_and_a_contact_show_their_follow_ups(client, world) -> None:  # type: ignore[no-untyped-def]
    for path, column in (("companies", "company_id"), ("contacts", "contact_id")):
        key = world[column.removesuffix("_id")]
        first = post(client, world["zhangsan"], text="第一次", at="2026-11-01T08:00:00Z", **{column: key}).get_json()
        second = post(client, world["zhangsan"], text="第二次", at="2026-11-02T08:00:00Z", **{column: key}).get_json()
        detail = client.get(f"/api/v1/{path}/{key}", headers=world["zhangsan"]).get_json()
        assert detail["follow_ups"] == [second, first]


@pytest.mark.parametrize("subjects", [{}, {"customer_id": "王小明", "company_id": "company"},
                                      {"lead_id": "lead", "group_chat_id": CHAT}])
def test_none_or_two_subjects_are_a_422_naming_them(client, runtime, world, subjects) -> None:  # type: ignore[no-untyped-def]
    body = {k: world.get(v, v) for k, v in subjects.items()}
    error = rejected(runtime, lambda: post(client, world["zhangsan"], **body), 422, "invalid")
    assert sorted(error["fields"]) == sorted(subjects or ["customer_id"])
    assert "exactly one of customer_id, lead_id, company_id, contact_id or group_chat_id" in error["message"]


def test_the_database_refuses_a_record_on_two_subjects(runtime, world) -> None:  # type: ignore[no-untyped-def]
    # SQLite: IntegrityError; MariaDB: error 4025 "CONSTRAINT … failed", which pymysql reports as operational
    with pytest.raises((IntegrityError, OperationalError), match="one_subject|CHECK"), runtime.WriteSession.begin() as s:
        kind = follow_up_types(s, CORP_ID)[0]
        s.add(FollowUp(corp_id=CORP_ID, customer_id=world["王小明"], company_id=world["company"], userid="zhangsan",
                       text="x", via="api", type_id=kind.id))


@pytest.mark.parametrize("column, key", [("customer_id", "赵六"), ("lead_id", "lisis_lead"),
                                         ("company_id", "lisis_company"), ("contact_id", "lisis_contact")])
def test_a_member_neither_writes_nor_reads_records_on_another_members_subject(client, runtime, world, column,
                                                                              key) -> None:  # type: ignore[no-untyped-def]
    theirs = post(client, world["lisi"], **{column: world[key]}).get_json()["id"]
    zs = world["zhangsan"]
    rejected(runtime, lambda: post(client, zs, **{column: world[key]}), 404, "not_found")
    rejected(runtime, lambda: client.get(f"/api/v1/follow-ups/{theirs}", headers=zs), 404, "not_found")
    rejected(runtime, lambda: client.get("/api/v1/follow-ups", headers=zs, query_string={column: world[key]}), 404,
             "not_found")
    assert client.get("/api/v1/follow-ups?userid=lisi", headers=zs).get_json()["items"] == []
    assert [f["id"] for f in client.get("/api/v1/follow-ups", headers=world["admin"]).get_json()["items"]] == [theirs]


def test_group_records_follow_the_groups_scope(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    """A member sees and writes records on the groups web/group_scope.py shows them (owned, or in), whoever
    wrote them; another group is a 404 as a subject and as a filter."""
    theirs = post(client, world["lisi"], group_chat_id=CHAT).get_json()["id"]
    mine = post(client, world["zhangsan"], group_chat_id=CHAT).get_json()["id"]
    listed = client.get("/api/v1/follow-ups", headers=world["zhangsan"], query_string={"group_chat_id": CHAT})
    assert [f["id"] for f in listed.get_json()["items"]] == [mine, theirs]
    assert client.get(f"/api/v1/follow-ups/{theirs}", headers=world["zhangsan"]).status_code == 200
    elsewhere = post(client, world["admin"], group_chat_id=OTHER_CHAT, userid="wangwu").get_json()["id"]
    assert client.get(f"/api/v1/follow-ups/{elsewhere}", headers=world["zhangsan"]).status_code == 404
    rejected(runtime, lambda: post(client, world["zhangsan"], group_chat_id=OTHER_CHAT), 404, "not_found")
    r = client.get("/api/v1/follow-ups", headers=world["zhangsan"], query_string={"group_chat_id": OTHER_CHAT})
    assert r.status_code == 404
    r = client.get("/api/v1/follow-ups", headers=world["admin"], query_string={"group_chat_id": CHAT})
    assert [f["id"] for f in r.get_json()["items"]] == [mine, theirs]
    error = rejected(runtime, lambda: post(client, world["admin"], group_chat_id=CHAT, userid="lisi",
                                           corp_id="wwnosuchcorp0001"), 404, "not_found")
    assert CHAT in error["message"]
