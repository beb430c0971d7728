"""Leads (线索, 004 §4.7) over the admin API: the fields and their checks (422 naming the field), the change
history of every field and tag, bulk tags (our rows only: no WeCom call), discard with restore and the
super_admin's delete, the manual's filters, a member's scope (404), the CSV export, manual assignment to
members and departments (round robin, even) with its conversion and its one app message, and the bot's
/线索 reading the same rows. Rows: customer_world (zhangsan, lisi; 王小明 has mobile 13800001111)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot_support import Bot
from customer_world import build, rejected
from models import App, AuditLog, Department, Lead, LeadChange, LeadTag, Staff
from support import AGENT_ID, CORP_ID, MISSING_ID

LEADS = "/api/v1/leads"


@pytest.fixture
def world(runtime, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {**build(runtime), "zhangsan": make_token("member", userid="zhangsan", name="zs"),
            "lisi": make_token("member", userid="lisi", name="ls"), "admin": make_token("admin", name="adm"),
            "super": make_token("super_admin", name="sup")}


def made(client, headers: dict[str, str], **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post(LEADS, headers=headers, json={"corp_id": CORP_ID, **body})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def listed(client, headers: dict[str, str], **query: Any) -> list[str]:  # type: ignore[no-untyped-def]
    r = client.get(LEADS, headers=headers, query_string=query)
    assert r.status_code == 200, r.get_json()
    return [row["name"] for row in r.get_json()["items"]]


def test_a_lead_keeps_every_field_with_its_mobile_normalised_and_is_audited(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    body = made(client, world["admin"], name=" 陈一 ", mobile="+86 138-0000 2222", gender="女", company="鼎资",
                position="经理", source="展会", tags=[world["vip"]])
    assert {k: body[k] for k in ("name", "mobile", "gender", "company", "position", "source", "tags", "creator",
                                 "owner", "status", "needs_manual", "days_without_follow_up")} == {
        "name": "陈一", "mobile": "8613800002222", "gender": "female", "company": "鼎资", "position": "经理",
        "source": "展会", "tags": [world["vip"]], "creator": "token:adm", "owner": None, "status": "new",
        "needs_manual": True, "days_without_follow_up": 0}
    with runtime.Session() as s:
        assert s.scalars(select(AuditLog.target).where(AuditLog.action == "lead.create")).all() == [
            f"lead:{body['id']}"]
        assert s.scalar(select(LeadTag.tag_pk).where(LeadTag.lead_id == body["id"])) == world["vip"]


@pytest.mark.parametrize("body, field", [({}, "name"), ({"name": "  "}, "name"),
                                         ({"name": "x", "mobile": "12345"}, "mobile"),
                                         ({"name": "x", "mobile": "138abc00000"}, "mobile"),
                                         ({"name": "x", "gender": "robot"}, "gender"),
                                         ({"name": "x", "tags": [MISSING_ID]}, "tags")])
def test_a_bad_field_is_a_422_naming_it_and_stores_nothing(client, runtime, world, body, field) -> None:  # type: ignore[no-untyped-def]
    error = rejected(runtime, lambda: client.post(LEADS, headers=world["admin"], json={"corp_id": CORP_ID, **body}),
                     422, "invalid")
    assert field in error["fields"] and field in error["message"]


def test_a_mobile_the_corp_has_is_a_409_and_never_merged(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    made(client, world["admin"], name="甲", mobile="13800003333")
    error = rejected(runtime, lambda: client.post(LEADS, headers=world["admin"], json={
        "corp_id": CORP_ID, "name": "乙", "mobile": "138 0000 3333"}), 409, "duplicate")
    assert error["fields"] == {"mobile": "duplicate"}


def test_every_change_of_a_field_and_a_tag_is_in_the_history(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    lead = made(client, world["admin"], name="陈一", company="鼎资")
    r = client.patch(f"{LEADS}/{lead['id']}", headers=world["admin"], json={"company": "鼎资科技", "position": "总监"})
    assert r.status_code == 200 and r.get_json()["company"] == "鼎资科技"
    r = client.post(f"{LEADS}/tags", headers=world["admin"], json={"corp_id": CORP_ID, "lead_ids": [lead["id"]],
                                                                   "add": [world["fair"]]})
    assert r.get_json() == {"changed": 1}
    client.post(f"{LEADS}/tags", headers=world["admin"], json={"corp_id": CORP_ID, "lead_ids": [lead["id"]],
                                                               "remove": [world["fair"]]})
    r = client.get(f"{LEADS}/{lead['id']}/history", headers=world["admin"])
    assert [(c["field"], c["old"], c["new"], c["actor"]) for c in r.get_json()["items"]] == [
        ("created", "", "陈一", "token:adm"), ("company", "鼎资", "鼎资科技", "token:adm"),
        ("position", "", "总监", "token:adm"), ("tags", "", "展会", "token:adm"), ("tags", "展会", "", "token:adm")]


def test_bulk_tags_write_our_rows_only(client, runtime, world, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    ids = [made(client, world["admin"], name=n)["id"] for n in ("甲", "乙")]
    r = client.post(f"{LEADS}/tags", headers=world["admin"], json={"corp_id": CORP_ID, "lead_ids": ids,
                                                                   "add": [world["vip"], world["fair"]]})
    assert r.get_json() == {"changed": 2}
    assert listed(client, world["admin"], tag=world["fair"]) == ["乙", "甲"]
    assert fake_wecom.calls("externalcontact/mark_tag") == []
    rejected(runtime, lambda: client.post(f"{LEADS}/tags", headers=world["admin"], json={
        "corp_id": CORP_ID, "lead_ids": ids, "add": [world["gone"]]}), 422, "invalid")


def test_a_member_sees_and_writes_their_own_leads_only(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    mine = made(client, world["zhangsan"], name="张三的")
    theirs = made(client, world["admin"], name="李四的", owner="lisi")
    assert mine["owner"] == "zhangsan"
    assert listed(client, world["zhangsan"]) == ["张三的"]
    for method, path in (("get", f"{LEADS}/{theirs['id']}"), ("get", f"{LEADS}/{theirs['id']}/history"),
                         ("patch", f"{LEADS}/{theirs['id']}"), ("post", f"{LEADS}/{theirs['id']}/discard")):
        rejected(runtime, lambda m=method, p=path: getattr(client, m)(p, headers=world["zhangsan"], json={"name": "x"}),
                 404, "not_found")
    rejected(runtime, lambda: client.post(f"{LEADS}/tags", headers=world["zhangsan"], json={
        "corp_id": CORP_ID, "lead_ids": [mine["id"], theirs["id"]], "add": [world["vip"]]}), 404, "not_found")
    rejected(runtime, lambda: client.post(LEADS, headers=world["zhangsan"], json={
        "corp_id": CORP_ID, "name": "x", "owner": "lisi"}), 403, "forbidden")


def test_discard_restore_and_the_super_admins_delete(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    lead = made(client, world["admin"], name="废", owner="zhangsan")
    r = client.post(f"{LEADS}/{lead['id']}/discard", headers=world["zhangsan"])
    assert r.status_code == 200 and r.get_json()["status"] == "discarded"
    assert listed(client, world["admin"]) == [] and listed(client, world["admin"], discarded="true") == ["废"]
    rejected(runtime, lambda: client.delete(f"{LEADS}/{lead['id']}", headers=world["admin"]), 403, "forbidden")
    r = client.post(f"{LEADS}/{lead['id']}/restore", headers=world["admin"])
    assert r.get_json()["status"] == "assigned" and listed(client, world["admin"]) == ["废"]
    rejected(runtime, lambda: client.delete(f"{LEADS}/{lead['id']}", headers=world["super"]), 409, "conflict")
    client.post(f"{LEADS}/{lead['id']}/discard", headers=world["admin"])
    r = client.delete(f"{LEADS}/{lead['id']}", headers=world["super"])
    assert r.get_json() == {"deleted": lead["id"]}
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 0
        assert s.scalar(select(func.count()).select_from(LeadChange)) == 0


def test_the_filters_of_the_manual(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    made(client, world["admin"], name="展会甲", source="展会", owner="zhangsan", company="鼎资")
    made(client, world["admin"], name="官网乙", source="官网", mobile="13900001234")
    assert listed(client, world["admin"], source="展会") == ["展会甲"]
    assert listed(client, world["admin"], keyword="1390000") == ["官网乙"]
    assert listed(client, world["admin"], keyword="鼎资") == ["展会甲"]
    assert listed(client, world["admin"], unassigned="true") == ["官网乙"]
    assert listed(client, world["admin"], needs_manual="true") == ["官网乙"]
    assert listed(client, world["admin"], owner="zhangsan", status="assigned") == ["展会甲"]
    assert listed(client, world["admin"], not_followed_days=0) == ["官网乙", "展会甲"]
    assert listed(client, world["admin"], not_followed_days=1) == []
    r = client.get(LEADS, headers=world["admin"], query_string={"not_followed_days": -1})
    assert r.status_code == 400


def test_the_export_is_a_csv_of_the_list(client, world) -> None:  # type: ignore[no-untyped-def]
    made(client, world["admin"], name="=HYPERLINK(1)", gender="男", mobile="13900001234")
    r = client.get(f"{LEADS}/export", headers=world["admin"])
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["ID", "姓名", "手机号", "性别"]
    assert rows[1][1:4] == ["'=HYPERLINK(1)", "13900001234", "男"]
    assert client.get(f"{LEADS}/export", headers=world["zhangsan"]).status_code == 403


def test_assigning_converts_and_tells_the_assignee_once(client, runtime, world, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    known = made(client, world["admin"], name="老客户", mobile="13800001111")  # 王小明's mobile
    new = made(client, world["admin"], name="新人")
    r = client.post(f"{LEADS}/assign", headers=world["admin"], json={"lead_ids": [known["id"], new["id"]],
                                                                     "userids": ["lisi"]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["items"] == [{"lead_id": known["id"], "owner": "lisi"}, {"lead_id": new["id"], "owner": "lisi"}]
    with runtime.Session() as s:
        rows = {lead.name: lead for lead in s.scalars(select(Lead))}
    assert (rows["老客户"].status, rows["老客户"].customer_id) == ("converted", world["王小明"])
    assert (rows["新人"].status, rows["新人"].customer_id, rows["新人"].needs_manual) == ("assigned", None, False)
    calls = fake_wecom.calls("message/send")
    assert [(c["body"]["touser"], c["body"]["agentid"]) for c in calls] == [("lisi", AGENT_ID)] * 2
    assert calls[1]["body"]["text"]["content"] == "你有一条新分配的线索：新人"
    client.post(f"{LEADS}/assign", headers=world["admin"], json={"lead_ids": [new["id"]], "userids": ["lisi"]})
    assert len(fake_wecom.calls("message/send")) == 2  # the same assignee again: told once
    r = client.post(f"{LEADS}/{new['id']}/link", headers=world["admin"], json={"customer_id": world["赵六"]})
    assert (r.get_json()["status"], r.get_json()["customer_id"]) == ("converted", world["赵六"])
    assert listed(client, world["admin"], customer_id=world["赵六"]) == ["新人"]  # the link's other way
    rejected(runtime, lambda: client.post(f"{LEADS}/{new['id']}/link", headers=world["admin"],
                                          json={"customer_id": world["外企客户"]}), 422, "invalid")
    rejected(runtime, lambda: client.post(f"{LEADS}/assign", headers=world["admin"], json={
        "lead_ids": [new["id"]], "userids": ["nobody"]}), 422, "invalid")
    rejected(runtime, lambda: client.post(f"{LEADS}/assign", headers=world["zhangsan"], json={
        "lead_ids": [new["id"]], "userids": ["zhangsan"]}), 403, "forbidden")


def _department(runtime, members: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Departments 7 and 8 (under 7) with `members`, alternately in 8 and 7; no app that sends messages (the
    fairness tests count owners, and 1,000 app messages would only slow them)."""
    with runtime.WriteSession.begin() as s:
        s.execute(update(App).values(agent_id=None))
        s.add_all([Department(corp_id=CORP_ID, dept_id=7, parent_id=1, name="销售部"),
                   Department(corp_id=CORP_ID, dept_id=8, parent_id=7, name="销售一组")])
        s.add_all([Staff(corp_id=CORP_ID, userid=u, name=u, department=[7 if n % 2 else 8])
                   for n, u in enumerate(members)])


def _leads(runtime, count: int, owner: str | None = None) -> list[int]:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        rows = [Lead(corp_id=CORP_ID, name=f"线索{n}", owner_userid=owner) for n in range(count)]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def test_a_department_takes_1000_leads_evenly_counting_what_they_hold(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    _department(runtime, ["a1", "a2", "a3"])
    _leads(runtime, 5, owner="a1")  # a1 holds 5 already
    ids = _leads(runtime, 1000)
    r = client.post(f"{LEADS}/assign", headers=world["admin"], json={"lead_ids": ids, "departments": [7],
                                                                     "spread": "even"})
    assert r.status_code == 200, r.get_json()
    with runtime.Session() as s:
        held = dict(s.execute(select(Lead.owner_userid, func.count()).group_by(Lead.owner_userid)).all())
    assert sorted(held.values()) == [335, 335, 335] and set(held) == {"a1", "a2", "a3"}


def test_round_robin_over_members_gives_counts_within_one(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    _department(runtime, ["a1", "a2", "a3"])
    ids = _leads(runtime, 1000)
    r = client.post(f"{LEADS}/assign", headers=world["admin"], json={"lead_ids": ids, "departments": [8],
                                                                     "userids": ["zhangsan", "lisi"]})
    assert r.status_code == 200, r.get_json()
    owners = [i["owner"] for i in r.get_json()["items"]]
    counts = {u: owners.count(u) for u in set(owners)}
    assert set(counts) == {"zhangsan", "lisi", "a1", "a3"} and max(counts.values()) - min(counts.values()) <= 1
    assert owners[:5] == ["zhangsan", "lisi", "a1", "a3", "zhangsan"]  # the members named, then the department's


def test_the_bots_leads_command_reads_the_same_rows(client, sender, crypto, runtime, world) -> None:  # type: ignore[no-untyped-def]
    made(client, world["admin"], name="官网来的", source="官网", owner="zhangsan")
    discarded = made(client, world["admin"], name="废弃的", owner="zhangsan")
    client.post(f"{LEADS}/{discarded['id']}/discard", headers=world["admin"])
    assert Bot(sender, crypto).ask("/线索") == "你负责、还没转成客户的线索：1 条\n  官网来的（官网）"


def test_custom_fields_of_leads_are_checked_and_kept_with_their_history(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/custom-fields", headers=world["admin"], json={
        "corp_id": CORP_ID, "key": "budget", "label": "预算", "type": "number", "subject": "lead"})
    assert r.status_code == 201, r.get_json()
    lead = made(client, world["admin"], name="陈一", fields={"budget": 5000})
    assert lead["fields"] == {"budget": 5000}
    error = rejected(runtime, lambda: client.patch(f"{LEADS}/{lead['id']}", headers=world["admin"],
                                                   json={"fields": {"budget": "很多"}}), 422, "invalid")
    assert list(error["fields"]) == ["fields.budget"]
    rejected(runtime, lambda: client.patch(f"{LEADS}/{lead['id']}", headers=world["admin"],
                                           json={"fields": {"nope": 1}}), 422, "invalid")
    r = client.patch(f"{LEADS}/{lead['id']}", headers=world["admin"], json={"fields": {"budget": None}})
    assert r.get_json()["fields"] == {}
    history = client.get(f"{LEADS}/{lead['id']}/history", headers=world["admin"]).get_json()["items"]
    assert (history[-1]["field"], history[-1]["old"], history[-1]["new"]) == ("fields.budget", "5000", "")
