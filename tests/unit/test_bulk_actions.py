"""Bulk actions (issue 17): one job with a result per selected customer. Tagging goes through mark_tag per
customer on the fake WeCom over HTTP, whose refusals (84061 for a relation it does not know) come back per
item; more than 1,000 ids is a 422 that changes nothing; delete moves to the recycle bin; change_follower
makes a serving hand-over."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from models import (AuditLog, BulkAction, Customer, FollowRelation, FollowTag, JobRun, Lead, LeadTag, Outbox, Staff, Tag,
                    Transfer, TransferItem)
from models.db import utcnow
from support import CORP_ID, SECRET
from wecom.client import WeComClient

URL = "/api/v1/bulk-actions"
UNKNOWN_TO_WECOM = 10


@pytest.fixture
def world(client, runtime, fake_wecom, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """1,000 customers of zhangsan (and one of lisi); WeCom knows all but the last UNKNOWN_TO_WECOM of
    zhangsan's; a tag group 等级 (A级, B级) synced from WeCom."""
    wecom = WeComClient(CORP_ID, SECRET, fake_wecom.api_base)
    wecom.post("externalcontact/add_corp_tag", data={"group_name": "等级", "tag": [{"name": "A级"}, {"name": "B级"}]})
    assert client.post("/api/v1/tags/sync", headers=make_token("admin", name="setup")).status_code == 202
    externals = [f"wmBulk{n:04d}" for n in range(1000)]
    fake_wecom.seed({"users": [{"corpid": CORP_ID, "userid": u, "name": u, "department": [1], "status": 1}
                               for u in ("zhangsan", "lisi")],
                     "external_contacts": [
        {"corpid": CORP_ID, "external_contact": {"external_userid": e, "name": e, "type": 1},
         "follow_user": [{"userid": "zhangsan", "createtime": 1732000000, "tags": []}]}
        for e in externals[:-UNKNOWN_TO_WECOM]]})
    with runtime.WriteSession.begin() as s:
        s.add_all([Staff(corp_id=CORP_ID, userid="zhangsan", name="张三", status="active"),
                   Staff(corp_id=CORP_ID, userid="lisi", name="李四", status="active")])
        customers = [Customer(corp_id=CORP_ID, external_userid=e, name=e, owner_userid="zhangsan")
                     for e in externals]
        theirs = Customer(corp_id=CORP_ID, external_userid="wmLisi", name="李四的客户", owner_userid="lisi")
        s.add_all([*customers, theirs])
        s.flush()
        s.add_all(FollowRelation(customer_id=c.id, corp_id=CORP_ID, userid=c.owner_userid, added_at=utcnow())
                  for c in [*customers, theirs])
        tags = dict(s.execute(select(Tag.name, Tag.id)).all())
        return {"ids": [c.id for c in customers], "theirs": theirs.id, "tags": tags}


def started(r) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    assert r.status_code == 202, r.get_data(as_text=True)
    body = r.get_json()
    assert r.headers["Location"].endswith(f"{URL}/{body['id']}")
    return body


def test_a_bulk_tag_of_1000_customers_reports_each_item_with_wecoms_answer(client, runtime, fake_wecom, make_token,
                                                                            world) -> None:
    admin = make_token("admin", name="ops")
    fake_wecom.clear_calls()
    body = started(client.post(URL, headers=admin, json={"kind": "tag", "ids": world["ids"],
                                                          "params": {"tag_ids": [world["tags"]["A级"]]}}))
    assert body["job"]["state"] == "done" and (body["job"]["done"], body["job"]["total"]) == (1000, 1000)
    assert body["counts"] == {"ok": 1000 - UNKNOWN_TO_WECOM, "failed": UNKNOWN_TO_WECOM, "pending": 0}

    r = client.get(f"{URL}/{body['id']}", query_string={"page_size": 1000}, headers=admin)
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert r.get_json()["total"] == 1000 and [i["id"] for i in items] == world["ids"]  # in the order given
    refused = [i for i in items if not i["ok"]]
    assert [i["id"] for i in refused] == world["ids"][-UNKNOWN_TO_WECOM:]
    assert {i["errcode"] for i in refused} == {84061} and all(i["error"] for i in refused)

    calls = fake_wecom.calls("externalcontact/mark_tag")
    assert len(calls) == 1000 and {c["body"]["userid"] for c in calls} == {"zhangsan"}
    with runtime.Session() as s:
        a_id = s.get_one(Tag, world["tags"]["A级"]).tag_id
        assert {tuple(c["body"]["add_tag"]) for c in calls} == {(a_id,)}
        assert s.scalar(select(func.count()).select_from(FollowTag)) == 1000 - UNKNOWN_TO_WECOM
    # the failed ones alone, paged
    r = client.get(f"{URL}/{body['id']}", query_string={"ok": "false", "page_size": 5, "page": 2}, headers=admin)
    assert [i["id"] for i in r.get_json()["items"]] == world["ids"][-5:] and r.get_json()["total"] == 10


def test_1001_ids_are_refused_and_nothing_changes(client, runtime, fake_wecom, make_token, world) -> None:
    admin = make_token("admin", name="ops")
    fake_wecom.clear_calls()
    with runtime.Session() as s:
        before = (s.scalar(select(func.count()).select_from(JobRun)), s.scalar(select(func.count()).select_from(Outbox)))
    r = client.post(URL, headers=admin, json={"kind": "tag", "ids": list(range(1, 1002)),
                                              "params": {"tag_ids": [world["tags"]["A级"]]}})
    assert r.status_code == 422 and "1000" in r.get_data(as_text=True)
    r = client.post(URL, headers=admin, json={"kind": "tag", "ids": [world["ids"][0]] * 2,
                                              "params": {"tag_ids": [world["tags"]["A级"]]}})
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {"ids": "each id once"}
    r = client.post(URL, headers=admin, json={"kind": "tag", "ids": world["ids"][:2], "params": {"tag_ids": [99999]}})
    assert r.status_code == 422 and "params.tag_ids" in r.get_json()["error"]["fields"]
    with runtime.Session() as s:
        after = (s.scalar(select(func.count()).select_from(JobRun)), s.scalar(select(func.count()).select_from(Outbox)))
        assert after == before and s.scalar(select(func.count()).select_from(BulkAction)) == 0
    assert fake_wecom.calls("externalcontact/mark_tag") == []


def test_a_member_acts_on_their_own_customers_only(client, runtime, fake_wecom, make_token, world) -> None:
    member = make_token("member", userid="zhangsan", name="zs")
    body = started(client.post(URL, headers=member, json={"kind": "untag", "ids": [world["ids"][0], world["theirs"]],
                                                           "params": {"tag_ids": [world["tags"]["B级"]]}}))
    assert [(i["id"], i["ok"], i["error"]) for i in body["items"]] == [
        (world["ids"][0], True, ""), (world["theirs"], False, f"no customer {world['theirs']}")]
    [call] = fake_wecom.calls("externalcontact/mark_tag")
    assert call["body"]["external_userid"] == "wmBulk0000" and call["body"]["remove_tag"]
    # the member may not change followers or delete; another member does not see the action
    for kind in ("change_follower", "delete"):
        assert client.post(URL, headers=member, json={"kind": kind, "ids": world["ids"][:1]}).status_code == 403
    other = make_token("member", userid="lisi", name="ls")
    assert client.get(f"{URL}/{body['id']}", headers=other).status_code == 404
    assert client.get(f"{URL}/{body['id']}", headers=member).status_code == 200


def test_bulk_delete_moves_customers_to_the_recycle_bin(client, runtime, make_token, world) -> None:
    root = make_token("super_admin", name="root")
    assert client.post(URL, headers=make_token("admin"), json={"kind": "delete", "ids": world["ids"][:2]}
                       ).status_code == 403
    body = started(client.post(URL, headers=root, json={"kind": "delete", "ids": world["ids"][:2]}))
    assert body["counts"] == {"ok": 2, "failed": 0, "pending": 0}
    with runtime.Session() as s:
        assert all(s.get_one(Customer, cid).deleted_at is not None for cid in world["ids"][:2])
        assert s.get_one(Customer, world["ids"][2]).deleted_at is None
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "customer.delete")) == 2
    listed = client.get("/api/v1/recycle-bin", headers=root).get_json()
    assert {c["id"] for c in listed["items"]} == set(world["ids"][:2])
    # again: they are in the bin now, so nothing to delete
    again = started(client.post(URL, headers=root, json={"kind": "delete", "ids": world["ids"][:1]}))
    assert again["items"][0]["ok"] is False


def test_change_follower_hands_customers_over_through_transfer_customer(client, runtime, fake_wecom, make_token,
                                                                        world) -> None:
    admin = make_token("admin", name="ops")
    r = client.post(URL, headers=admin, json={"kind": "change_follower", "ids": world["ids"][:3]})
    assert r.status_code == 422 and "params.takeover_userid" in r.get_json()["error"]["fields"]
    body = started(client.post(URL, headers=admin, json={"kind": "change_follower", "ids": world["ids"][:3],
                                                          "params": {"takeover_userid": "lisi"}}))
    with runtime.Session() as s:
        [transfer] = s.scalars(select(Transfer)).all()
        assert (transfer.kind, transfer.handover_userid, transfer.takeover_userid) == ("serving", "zhangsan", "lisi")
        assert sorted(s.scalars(select(TransferItem.external_userid))) == ["wmBulk0000", "wmBulk0001", "wmBulk0002"]
    [call] = fake_wecom.calls("externalcontact/transfer_customer")
    assert sorted(call["body"]["external_userid"]) == ["wmBulk0000", "wmBulk0001", "wmBulk0002"]
    # WeCom took them; the customer has 24 h to refuse: open until transfer_result says done
    assert body["counts"]["failed"] == 0
    # handing over again while open: each item says why
    again = started(client.post(URL, headers=admin, json={"kind": "change_follower", "ids": world["ids"][:1],
                                                           "params": {"takeover_userid": "lisi"}}))
    assert again["items"][0]["ok"] is False and "being handed over" in again["items"][0]["error"]


def test_leads_are_tagged_and_discarded_in_bulk_within_the_callers_leads(client, runtime, make_token, world) -> None:
    with runtime.WriteSession.begin() as s:
        mine = [Lead(corp_id=CORP_ID, name=f"线索{n}", owner_userid="zhangsan", status="assigned") for n in range(3)]
        theirs = Lead(corp_id=CORP_ID, name="别人的线索", owner_userid="lisi", status="assigned")
        s.add_all([*mine, theirs])
        s.flush()
        ids, other = [lead.id for lead in mine], theirs.id
    member = make_token("member", userid="zhangsan", name="zs")
    tag = world["tags"]["A级"]
    body = started(client.post(URL, headers=member, json={"kind": "tag", "target": "leads", "ids": [*ids, other],
                                                           "params": {"tag_ids": [tag]}}))
    assert [(i["id"], i["ok"]) for i in body["items"]] == [*((i, True) for i in ids), (other, False)]
    assert body["items"][-1]["error"] == f"no lead {other}"
    with runtime.Session() as s:
        assert sorted(s.scalars(select(LeadTag.lead_id).where(LeadTag.tag_pk == tag))) == ids
    r = client.post(URL, headers=member, json={"kind": "tag", "target": "leads", "ids": ids,
                                               "params": {"tag_ids": [99999]}})
    assert r.status_code == 422 and "params.tag_ids" in r.get_json()["error"]["fields"]
    r = client.post(URL, headers=member, json={"kind": "change_follower", "target": "leads", "ids": ids})
    assert r.status_code == 422 and "kind" in r.get_json()["error"]["fields"]

    body = started(client.post(URL, headers=member, json={"kind": "delete", "target": "leads", "ids": ids[:2]}))
    assert body["counts"] == {"ok": 2, "failed": 0, "pending": 0}
    with runtime.Session() as s:
        assert [(lead.status, lead.discarded_at is not None) for lead in
                s.scalars(select(Lead).where(Lead.id.in_(ids)).order_by(Lead.id))] == [
            ("discarded", True), ("discarded", True), ("assigned", False)]
